/// A request of an anti-entropy exchange, from the session to the peer's ``RecordTree``
/// (``RecordTree/answer(_:limits:)``). Wire: `AntiEntropyRequest` (Protocol/README.md §6.9).
public struct ExchangeRequest: Hashable, Sendable, CustomStringConvertible {
    /// What is asked.
    public enum Body: Hashable, Sendable {
        /// The summary of each range (answer: ``ExchangeAnswer/summaries(_:)``, one per range, in order).
        /// At most ``ExchangeLimits/maximumRangesPerRequest`` ranges.
        case summaries([KeyRange])
        /// The summaries of each range's ``KeyRange/children`` (answer: ``ExchangeAnswer/summaries(_:)``,
        /// the children of the first range, then of the second, …). At most
        /// ``ExchangeLimits/maximumRangesPerRequest`` ranges and
        /// ``ExchangeLimits/maximumSummariesPerAnswer`` children in all.
        case children([KeyRange])
        /// The records of each query (answer: ``ExchangeAnswer/records(_:)``, one page per query, in
        /// order). At most ``ExchangeLimits/maximumRangesPerRequest`` queries.
        case records([RecordQuery])
    }

    /// The requester's tombstone horizon: the responder answers only at that same horizon.
    public var horizon: TombstoneHorizon
    /// What is asked.
    public var body: Body

    /// Creates a request.
    public init(horizon: TombstoneHorizon, body: Body) {
        self.horizon = horizon
        self.body = body
    }

    public var description: String {
        switch body {
        case .summaries(let ranges): return "summaries(\(ranges.count) ranges)"
        case .children(let ranges): return "children(\(ranges.count) ranges)"
        case .records(let queries): return "records(\(queries.count) queries)"
        }
    }
}
