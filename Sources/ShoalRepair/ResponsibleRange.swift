import ShoalCore

/// A key range and the nodes responsible for all of it: the same `r` nodes are the XOR-closest
/// to every key in it.
public struct ResponsibleRange: Hashable, Sendable, CustomStringConvertible {
    /// The range.
    public var range: KeyRange
    /// Its `r` holders (fewer when fewer nodes are known), ascending by node ID. Their order by
    /// distance may differ from key to key within the range; ``ResponsibilityMap/holders(of:)``
    /// orders them for one key.
    public var holders: [NodeID]

    /// Creates a responsible range.
    public init(range: KeyRange, holders: [NodeID]) {
        self.range = range
        self.holders = holders
    }

    public var description: String { "\(range) → \(holders.map(\.short))" }
}
