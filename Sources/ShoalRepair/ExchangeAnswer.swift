/// The peer's answer to an ``ExchangeRequest``. Wire: `AntiEntropyAnswer` (Protocol/README.md §6.9).
public enum ExchangeAnswer: Hashable, Sendable, CustomStringConvertible {
    /// Range summaries: for ``ExchangeRequest/Body/summaries(_:)`` one per range; for
    /// ``ExchangeRequest/Body/children(_:)`` every range's children in order.
    case summaries([RangeSummary])
    /// For ``ExchangeRequest/Body/records(_:)``: one page per query, in order. At most
    /// ``ExchangeLimits/maximumRecordsPerAnswer`` records in all.
    case records([RecordPage])
    /// The responder is at another tombstone horizon (given) and did not answer. The requester
    /// moves to it if its ``TombstonePolicy`` accepts it, and tries again.
    case horizonMismatch(TombstoneHorizon)
    /// The responder refused the request (over its bounds, or malformed), saying why.
    case refused(String)

    public var description: String {
        switch self {
        case .summaries(let s): return "summaries(\(s.count))"
        case .records(let pages):
            return "records(\(pages.count) pages, \(pages.reduce(0) { $0 + $1.records.count }) records)"
        case .horizonMismatch(let h): return "horizonMismatch(\(h))"
        case .refused(let why): return "refused(\(why))"
        }
    }
}
