import ShoalCore

/// Where content lives: every content ID is placed on the `r` live nodes whose IDs are XOR-closest
/// to it (default r = 3).
///
/// "Live" means what the caller's view says: a ``RoutingTable`` only holds nodes that have answered,
/// and a membership view can pass its alive members to the list-based variants.
public enum Placement {
    /// The default replication factor.
    public static let defaultReplicas = 3

    /// The `r` nodes among `nodes` closest to `id`, closest first (all of them when fewer than `r`).
    /// - Parameters:
    ///   - id: the content ID.
    ///   - r: the replication factor.
    ///   - nodes: the candidate nodes (duplicates by ID are counted once).
    /// - Returns: up to `r` contacts sorted by XOR distance to `id`.
    public static func replicaSet(for id: ContentID, r: Int, among nodes: [Contact]) -> [Contact] {
        guard r > 0 else { return [] }
        var seen: Set<NodeID> = []
        var keyed: [(distance: Key256, contact: Contact)] = []
        keyed.reserveCapacity(nodes.count)
        for node in nodes where seen.insert(node.id).inserted {
            keyed.append((node.id ^ id, node))
        }
        keyed.sort { $0.distance < $1.distance }
        return keyed.prefix(r).map(\.contact)
    }

    /// Whether `localID` is among the `r` closest to `id` of itself and `nodes`.
    /// - Parameters:
    ///   - id: the content ID.
    ///   - r: the replication factor.
    ///   - localID: the deciding node.
    ///   - nodes: the other nodes it knows.
    /// - Returns: `true` when fewer than `r` known nodes are closer to `id` than `localID`.
    public static func shouldAccept(_ id: ContentID, r: Int, localID: NodeID, among nodes: [Contact]) -> Bool {
        guard r > 0 else { return false }
        let own = localID ^ id
        var closer = 0
        var seen: Set<NodeID> = []
        for node in nodes where node.id != localID && seen.insert(node.id).inserted && (node.id ^ id) < own {
            closer += 1
            if closer >= r { return false }
        }
        return true
    }
}

extension RoutingTable {
    /// The `r` live nodes closest to `id` in this table's view, closest first; all of them when fewer
    /// than `r` exist.
    /// - Parameters:
    ///   - id: the content ID.
    ///   - r: the replication factor.
    ///   - local: the local node's contact, to consider it a candidate as well (`nil` to leave it out).
    /// - Returns: up to `r` contacts sorted by XOR distance to `id`.
    public func replicaSet(for id: ContentID, r: Int, including local: Contact? = nil) -> [Contact] {
        guard r > 0 else { return [] }
        var nodes = closest(to: id, count: r)
        if let local { nodes.append(local) }
        return Placement.replicaSet(for: id, r: r, among: nodes)
    }

    /// Whether this node is among the `r` closest to `id` that it knows of, itself included, and so
    /// should store it.
    /// - Parameters:
    ///   - id: the content ID.
    ///   - r: the replication factor.
    /// - Returns: `true` when fewer than `r` contacts in the table are closer to `id` than the local node.
    public func shouldAccept(_ id: ContentID, r: Int) -> Bool {
        Placement.shouldAccept(id, r: r, localID: localID, among: closest(to: id, count: r))
    }
}
