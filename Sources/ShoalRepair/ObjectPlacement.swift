import ShoalCore

/// Where an object should live and who confirmed holding it: the input of the first model's
/// ``RepairPlanner/plan(inventory:now:placement:)``.
public struct ObjectPlacement: Hashable, Sendable {
    /// The live nodes closest to the object by XOR distance, this node included if it is among
    /// them. The first `r` (after sorting by distance) are where the object belongs; supply
    /// `r + 1` when available so that a leaving node knows who comes next.
    public var closest: [Contact]
    /// Nodes known to hold the object (from store acks or lookups). Only these count as
    /// confirmed replicas.
    public var holders: Set<NodeID>

    /// Creates a placement.
    public init(closest: [Contact], holders: Set<NodeID> = []) {
        self.closest = closest
        self.holders = holders
    }
}
