import ShoalCore

/// A range whose records a session is listing from the peer, page by page.
struct RecordFetch: Hashable, Sendable {
    var range: KeyRange
    /// The peer's summary of the range when it was compared.
    var peer: RangeSummary
    /// Differences the fetch may still add (peer records plus local ones), reserved against the
    /// session's difference bound.
    var reserved: Int
    /// The last ID received, `nil` before the first page.
    var after: ContentID?
    /// Records received so far.
    var received: UInt64 = 0
    /// Digests of the records received, kept only for a leaf-sized range (to check its hash).
    var digests: [RangeHash] = []

    var query: RecordQuery { RecordQuery(range: range, after: after) }
}
