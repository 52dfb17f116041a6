/// What one node holds in one key range, compactly: how many records and the range's hash.
/// Two nodes with the same records in a range have the same summary of it.
public struct RangeSummary: Hashable, Sendable, CustomStringConvertible {
    /// Records in the range.
    public var count: UInt64
    /// ``RangeHashing`` of the range's records.
    public var hash: RangeHash

    /// Creates a summary.
    public init(count: UInt64, hash: RangeHash) {
        self.count = count
        self.hash = hash
    }

    /// The summary of a range without records.
    public static let empty = RangeSummary(count: 0, hash: RangeHashing.emptyHash)

    public var description: String { "\(count):\(hash)" }
}
