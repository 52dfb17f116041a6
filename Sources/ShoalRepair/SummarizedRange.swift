/// A range with the summary a peer gave of it, waiting for its children to be asked.
struct SummarizedRange: Hashable, Sendable {
    var range: KeyRange
    var peer: RangeSummary
}
