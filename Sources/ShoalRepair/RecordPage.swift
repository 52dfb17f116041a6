/// The answer to one ``RecordQuery``: records in ascending ID order, all in the query's range and
/// above its `after`.
public struct RecordPage: Hashable, Sendable {
    /// The records.
    public var records: [ObjectRecord]
    /// `true`: these are all the remaining records of the range. `false`: ask again after the last
    /// one (the answer's record or byte budget ran out).
    public var isComplete: Bool

    /// Creates a page.
    public init(records: [ObjectRecord], isComplete: Bool) {
        self.records = records
        self.isComplete = isComplete
    }
}
