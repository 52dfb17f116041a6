import ShoalCore

/// One range of a records request: the responder's records in ``range`` with an ID above
/// ``after``.
public struct RecordQuery: Hashable, Sendable, CustomStringConvertible {
    /// The range to list.
    public var range: KeyRange
    /// List records above this ID only (`nil`: from the start of the range); the last ID of the
    /// previous page when continuing.
    public var after: ContentID?

    /// Creates a query.
    public init(range: KeyRange, after: ContentID? = nil) {
        self.range = range
        self.after = after
    }

    public var description: String { after.map { "\(range) after \($0.short)" } ?? "\(range)" }
}
