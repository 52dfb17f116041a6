import ShoalCore

extension RecordTree {
    /// Answers a peer's exchange request from this tree, within `limits` (the responder's side of
    /// ``ExchangeSession``; it keeps no state between requests).
    ///
    /// A request at another horizon than this tree's gets ``ExchangeAnswer/horizonMismatch(_:)``;
    /// one over `limits` (too many ranges or children, children of a single key) gets
    /// ``ExchangeAnswer/refused(_:)``. Records answers stop at ``ExchangeLimits/maximumRecordsPerAnswer``
    /// records or ``ExchangeLimits/maximumAnswerBytes`` bytes (but carry at least one record), the
    /// pages cut short marked incomplete.
    /// - Parameters:
    ///   - request: the decoded request.
    ///   - limits: this node's bounds.
    /// - Returns: the answer to send back.
    public mutating func answer(_ request: ExchangeRequest, limits: ExchangeLimits = ExchangeLimits()) -> ExchangeAnswer
    {
        guard request.horizon == horizon else { return .horizonMismatch(horizon) }
        switch request.body {
        case .summaries(let ranges):
            guard ranges.count <= limits.maximumRangesPerRequest else {
                return .refused("\(ranges.count) ranges in one request; at most \(limits.maximumRangesPerRequest)")
            }
            return .summaries(ranges.map { summary(of: $0) })
        case .children(let ranges):
            guard ranges.count <= limits.maximumRangesPerRequest else {
                return .refused("\(ranges.count) ranges in one request; at most \(limits.maximumRangesPerRequest)")
            }
            guard !ranges.contains(where: { $0.bitLength == Key256.bitCount }) else {
                return .refused("a single key has no children")
            }
            let total = ranges.reduce(0) { $0 + $1.childCount }
            guard total <= limits.maximumSummariesPerAnswer else {
                return .refused("\(total) children asked; at most \(limits.maximumSummariesPerAnswer) per answer")
            }
            return .summaries(ranges.flatMap { childSummaries(of: $0) })
        case .records(let queries):
            guard queries.count <= limits.maximumRangesPerRequest else {
                return .refused("\(queries.count) queries in one request; at most \(limits.maximumRangesPerRequest)")
            }
            return .records(pages(for: queries, limits: limits))
        }
    }

    /// Answers like ``answer(_:limits:)``, first moving to the request's horizon when it is ahead
    /// of this tree's and `policy` accepts it at `now` (wall clock).
    /// - Returns: the answer, and the tombstones expired by moving (0 when it did not move).
    public mutating func answer(
        _ request: ExchangeRequest, limits: ExchangeLimits = ExchangeLimits(),
        policy: TombstonePolicy, now: Timestamp
    ) -> (answer: ExchangeAnswer, expiredTombstones: Int) {
        var expired = 0
        if request.horizon > horizon, policy.accepts(request.horizon, at: now) {
            expired = advanceHorizon(to: request.horizon)
        }
        return (answer(request, limits: limits), expired)
    }

    private func pages(for queries: [RecordQuery], limits: ExchangeLimits) -> [RecordPage] {
        var pages: [RecordPage] = []
        var recordsLeft = limits.maximumRecordsPerAnswer
        var bytes = 0
        var sent = 0
        for query in queries {
            guard recordsLeft > 0, bytes < limits.maximumAnswerBytes else {
                pages.append(RecordPage(records: [], isComplete: false))
                continue
            }
            let (found, complete) = records(in: query.range, after: query.after, limit: recordsLeft)
            var taken: [ObjectRecord] = []
            for record in found {
                let size = ExchangeWireSize.message(ExchangeWireSize.record(record))
                if sent > 0, bytes + size > limits.maximumAnswerBytes {
                    bytes = limits.maximumAnswerBytes
                    break
                }
                taken.append(record)
                bytes += size
                sent += 1
            }
            recordsLeft -= taken.count
            pages.append(RecordPage(records: taken, isComplete: complete && taken.count == found.count))
        }
        return pages
    }
}
