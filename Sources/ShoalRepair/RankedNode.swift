import ShoalCore

/// A node with its XOR distance to a key range, truncated to the range's fixed bits: nodes are
/// ordered by it for every key of the range (``ResponsibilityMap``).
struct RankedNode: Comparable, Sendable {
    var node: NodeID
    var distance: Key256

    static func < (a: RankedNode, b: RankedNode) -> Bool {
        a.distance != b.distance ? a.distance < b.distance : a.node < b.node
    }
}
