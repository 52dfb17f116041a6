import ShoalCore

extension ExchangeSession {
    /// The largest record count a summary may claim; more is garbage.
    static let implausibleCount: UInt64 = 1 << 48

    /// Feeds the peer's answer to the request in flight.
    ///
    /// Ignored when no request is in flight (a late answer after a timeout). Checked as described
    /// in the type's documentation; a violation fails the session.
    /// - Parameters:
    ///   - answer: the decoded answer.
    ///   - tree: this node's records, compared against the peer's (mutable only for hash caching).
    ///   - now: the current time; the next deadline is `now + requestTimeout`.
    /// - Returns: the next request, or the terminal directive.
    public mutating func onAnswer(
        _ answer: ExchangeAnswer, local tree: inout RecordTree, now: Timestamp
    ) -> [ExchangeDirective] {
        guard phase == .awaiting, let asked = outstanding else { return [] }
        outstanding = nil
        outcome.bytes += ExchangeWireSize.frame(answer, horizon: horizon)
        let failure: ExchangeFailure?
        switch (answer, asked) {
        case (.horizonMismatch(let theirs), _):
            failure = ExchangeFailure(
                .horizonMismatch, "\(peer) is at \(theirs), this node at \(horizon)", peerHorizon: theirs)
        case (.refused(let reason), _):
            failure = ExchangeFailure(.refused, "\(peer) refused: \(reason)")
        case (.summaries(let summaries), .summaries(let ranges)):
            failure = absorbSummaries(summaries, for: ranges, tree: &tree)
        case (.summaries(let summaries), .children(let parents)):
            failure = absorbChildren(summaries, of: parents, tree: &tree)
        case (.records(let pages), .records(let asked)):
            failure = absorbPages(pages, for: asked, tree: &tree)
        case (.summaries, .records):
            failure = ExchangeFailure(.malformedAnswer, "summaries answer to a records request")
        case (.records, _):
            failure = ExchangeFailure(.malformedAnswer, "records answer to a summaries request")
        }
        if let failure { return fail(failure.code, failure.message, peerHorizon: failure.peerHorizon) }
        phase = .ready
        return advance(now: now)
    }

    // MARK: Summaries

    private mutating func absorbSummaries(
        _ summaries: [RangeSummary], for ranges: [KeyRange], tree: inout RecordTree
    ) -> ExchangeFailure? {
        guard summaries.count == ranges.count else {
            return ExchangeFailure(.malformedAnswer, "\(summaries.count) summaries for \(ranges.count) ranges")
        }
        for (range, summary) in zip(ranges, summaries) {
            if let failure = compare(range, peer: summary, tree: &tree) { return failure }
        }
        return nil
    }

    private mutating func absorbChildren(
        _ summaries: [RangeSummary], of parents: [SummarizedRange], tree: inout RecordTree
    ) -> ExchangeFailure? {
        let expected = parents.reduce(0) { $0 + $1.range.childCount }
        guard summaries.count == expected else {
            return ExchangeFailure(.malformedAnswer, "\(summaries.count) child summaries for \(expected) children")
        }
        var offset = 0
        for parent in parents {
            let children = summaries[offset..<(offset + parent.range.childCount)]
            offset += parent.range.childCount
            guard children.allSatisfy({ $0.count <= Self.implausibleCount }) else {
                return ExchangeFailure(.malformedAnswer, "implausible record count under \(parent.range)")
            }
            let total = children.reduce(0) { $0 + $1.count }
            let hashMatches =
                parent.peer.count <= UInt64(RangeHashing.leafCapacity)
                || RangeHashing.nodeHash(children: children) == parent.peer.hash
            guard total == parent.peer.count, hashMatches else {
                if let failure = inconsistent(parent.range, "children of \(parent.range) do not add up to its summary")
                {
                    return failure
                }
                continue
            }
            for (range, summary) in zip(parent.range.children, children) {
                if let failure = compare(range, peer: summary, tree: &tree) { return failure }
            }
        }
        return nil
    }

    /// Decides what a range needs, given the peer's summary of it.
    private mutating func compare(
        _ range: KeyRange, peer summary: RangeSummary, tree: inout RecordTree
    ) -> ExchangeFailure? {
        guard summary.count <= Self.implausibleCount else {
            return ExchangeFailure(.malformedAnswer, "implausible record count \(summary.count) for \(range)")
        }
        if range.bitLength == Key256.bitCount, summary.count > 1 {
            return ExchangeFailure(
                .malformedAnswer, "\(summary.count) records for the single key \(range.prefix.short)")
        }
        let local = tree.summary(of: range)
        if local == summary { return nil }
        if summary.count == 0 {
            outcome.peerLacksRanges.append(range)
            outcome.peerLacksRangeRecords += Int(local.count)
            return nil
        }
        let budget = limits.maximumDifferencesPerSession - outcome.differenceCount - reservedDifferences
        guard budget > 0 else {
            outcome.unexplored.append(range)
            return nil
        }
        let leaf = UInt64(RangeHashing.leafCapacity)
        if local.count == 0 || (summary.count <= leaf && local.count <= leaf) {
            let potential = Int(summary.count + local.count)
            if potential <= budget {
                reservedDifferences += potential
                fetches.append(RecordFetch(range: range, peer: summary, reserved: potential))
            } else if potential > limits.maximumDifferencesPerSession, range.bitLength < Key256.bitCount {
                descents.append(SummarizedRange(range: range, peer: summary))  // too big for any one session: split it
            } else {
                outcome.unexplored.append(range)  // fits a later session whole
            }
            return nil
        }
        descents.append(SummarizedRange(range: range, peer: summary))
        return nil
    }

    /// Notes an answer that contradicts the peer's earlier one.
    /// - Returns: a failure once more than the tolerated number occurred.
    private mutating func inconsistent(_ range: KeyRange, _ what: String) -> ExchangeFailure? {
        inconsistencies += 1
        outcome.unexplored.append(range)
        guard inconsistencies <= limits.maximumInconsistentAnswers else {
            return ExchangeFailure(
                .inconsistentAnswers, "\(inconsistencies) inconsistent answers from \(peer), last: \(what)")
        }
        return nil
    }

    // MARK: Records

    private mutating func absorbPages(
        _ pages: [RecordPage], for asked: [RecordFetch], tree: inout RecordTree
    ) -> ExchangeFailure? {
        guard pages.count == asked.count else {
            return ExchangeFailure(.malformedAnswer, "\(pages.count) record pages for \(asked.count) queries")
        }
        let total = pages.reduce(0) { $0 + $1.records.count }
        guard total <= limits.maximumRecordsPerAnswer else {
            return ExchangeFailure(
                .malformedAnswer, "\(total) records in one answer; at most \(limits.maximumRecordsPerAnswer)")
        }
        if total == 0, pages.contains(where: { !$0.isComplete }) {
            return ExchangeFailure(.noProgress, "\(peer) sent no records and an incomplete page")
        }
        for (fetch, page) in zip(asked, pages) {
            if let problem = violation(in: page, for: fetch) { return ExchangeFailure(.malformedAnswer, problem) }
        }
        for (fetch, page) in zip(asked, pages) {
            if let failure = absorb(page, for: fetch, tree: &tree) { return failure }
        }
        return nil
    }

    /// What is wrong with `page` as an answer to `fetch`, if anything.
    private func violation(in page: RecordPage, for fetch: RecordFetch) -> String? {
        var previous = fetch.after
        for record in page.records {
            guard fetch.range.contains(record.id) else { return "record \(record.id.short) outside \(fetch.range)" }
            if let previous, record.id <= previous {
                return
                    "record \(record.id.short) not above \(previous.short) (out of order, repeated, or before `after`)"
            }
            guard record.ownerEntryCount <= limits.maximumOwnerEntriesPerRecord else {
                return
                    "record \(record.id.short) has \(record.ownerEntryCount) owner entries; at most \(limits.maximumOwnerEntriesPerRecord)"
            }
            guard !record.tombstones.contains(where: horizon.hasExpired) else {
                return "record \(record.id.short) carries a tombstone expired at \(horizon)"
            }
            previous = record.id
        }
        return nil
    }

    /// Compares one page with this node's records over the same IDs.
    private mutating func absorb(_ page: RecordPage, for fetch: RecordFetch, tree: inout RecordTree) -> ExchangeFailure?
    {
        var fetch = fetch
        if !page.isComplete, page.records.isEmpty {
            fetches.append(fetch)  // cut short by the answer's budget before this page: ask again
            return nil
        }
        let upTo: ContentID? = page.isComplete ? nil : page.records.last?.id
        var local = tree.records(in: fetch.range, after: fetch.after).records
        if let upTo { local = local.filter { $0.id <= upTo } }
        var i = 0
        var j = 0
        let theirs = page.records
        while i < local.count || j < theirs.count {
            if j == theirs.count || (i < local.count && local[i].id < theirs[j].id) {
                outcome.peerLacks.append(local[i])
                i += 1
            } else if i == local.count || theirs[j].id < local[i].id {
                outcome.weLack.append(theirs[j])
                j += 1
            } else {
                if local[i] != theirs[j] {
                    outcome.differing.append(RecordDifference(local: local[i], peer: theirs[j]))
                }
                i += 1
                j += 1
            }
        }
        fetch.received += UInt64(theirs.count)
        if fetch.peer.count <= UInt64(RangeHashing.leafCapacity) { fetch.digests += theirs.map(\.digest) }
        guard page.isComplete else {
            guard fetch.received < fetch.peer.count else {
                return inconsistent(
                    fetch.range, "more records listed in \(fetch.range) than its summary's \(fetch.peer.count)")
            }
            fetch.after = upTo
            fetches.append(fetch)
            return nil
        }
        reservedDifferences -= fetch.reserved
        if fetch.received != fetch.peer.count {
            return inconsistent(
                fetch.range, "\(fetch.received) records listed in \(fetch.range), \(fetch.peer.count) summarized")
        }
        if fetch.peer.count <= UInt64(RangeHashing.leafCapacity),
            RangeHashing.leafHash(digests: fetch.digests) != fetch.peer.hash
        {
            return inconsistent(fetch.range, "records listed in \(fetch.range) do not hash to its summary")
        }
        return nil
    }
}
