import ShoalCore

/// One anti-entropy exchange with one peer over a set of key ranges, as a pure state machine: a
/// Merkle-tree comparison in the manner of Dynamo's and Cassandra's repair.
///
/// ## Algorithm
///
/// 1. Ask the peer for the ``RangeSummary`` (record count and hash) of every range, in batches.
///    A range whose summary equals this node's is done: a stable range costs one round trip.
/// 2. A range that differs:
///    - the peer has nothing there: every local record there is missing on the peer
///      (``ExchangeOutcome/peerLacksRanges``), at no further cost;
///    - this node has nothing there, or both sides have at most ``RangeHashing/leafCapacity``
///      records: fetch the peer's records (paged) and compare them one by one;
///    - otherwise ask for the summaries of its ``KeyRange/children`` (16 per nibble-aligned range)
///      and go on with each child.
/// 3. End with the differences (``ExchangeOutcome``): records the peer lacks, records this node
///    lacks, records that differ.
///
/// So an exchange costs O(differences × depth) summaries and O(differences × leaf size) records,
/// whatever the inventory; requests carry many ranges at once, one request in flight at a time.
///
/// ## Bounds and hostile peers
///
/// Every answer is checked before use: the right kind and number of items, records inside the
/// range asked, above the `after` asked and ascending, at most
/// ``ExchangeLimits/maximumRecordsPerAnswer`` of them, each with at most
/// ``ExchangeLimits/maximumOwnerEntriesPerRecord`` entries and no tombstone expired at the
/// session's horizon. A violation ends the session with ``ExchangeDirective/failed(_:)``. Children
/// whose counts or hash do not add up to the parent's summary, and fetched ranges whose record
/// count or leaf hash contradicts it, are left ``ExchangeOutcome/unexplored`` (the peer's records
/// may have changed meanwhile) up to ``ExchangeLimits/maximumInconsistentAnswers``, then fail it.
/// The session sends at most ``ExchangeLimits/maximumRequestsPerSession`` requests and collects at
/// most ``ExchangeLimits/maximumDifferencesPerSession`` differences; past either it finishes with
/// the rest unexplored.
///
/// The session does no I/O and reads no clock: the shell sends what
/// ``ExchangeDirective/send(_:to:deadline:)`` says and feeds back ``onAnswer(_:local:now:)``,
/// ``onTimeout(now:)`` or ``onFailure(_:)``. The peer answers with ``RecordTree/answer(_:limits:)``.
public struct ExchangeSession: Sendable {
    /// The peer compared with.
    public let peer: Contact
    /// The tombstone horizon both sides must be at.
    public let horizon: TombstoneHorizon
    /// Bounds.
    public let limits: ExchangeLimits

    /// The request in flight and what it asked.
    enum Outstanding: Sendable {
        case summaries([KeyRange])
        case children([SummarizedRange])
        case records([RecordFetch])
    }

    enum Phase: Sendable { case ready, awaiting, done }

    var phase: Phase = .ready
    var outstanding: Outstanding?
    /// Root ranges not asked yet, from `nextRoot` on.
    var roots: [KeyRange]
    var nextRoot = 0
    /// Differing ranges whose children are to be asked.
    var descents: [SummarizedRange] = []
    /// Ranges whose records are to be fetched (next page).
    var fetches: [RecordFetch] = []
    var outcome: ExchangeOutcome
    /// Differences the queued and outstanding fetches may still add.
    var reservedDifferences = 0
    var inconsistencies = 0

    /// Creates a session.
    /// - Parameters:
    ///   - peer: the node to compare with.
    ///   - ranges: the ranges to compare, normally those both nodes are responsible for
    ///     (``ExchangeScheduler``). Sorted and deduplicated; a range nested in another is dropped;
    ///     past ``ExchangeLimits/maximumRangesPerSession`` the rest is reported unexplored.
    ///   - horizon: this node's tombstone horizon (``RecordTree/horizon``).
    ///   - limits: bounds.
    public init(peer: Contact, ranges: [KeyRange], horizon: TombstoneHorizon, limits: ExchangeLimits = ExchangeLimits())
    {
        self.peer = peer
        self.horizon = horizon
        self.limits = limits
        var normalized: [KeyRange] = []
        for range in Set(ranges).sorted() where !(normalized.last?.contains(range) ?? false) {
            normalized.append(range)
        }
        self.roots = Array(normalized.prefix(limits.maximumRangesPerSession))
        self.outcome = ExchangeOutcome(peer: peer.id, horizon: horizon, ranges: roots)
        self.outcome.unexplored = Array(normalized.dropFirst(limits.maximumRangesPerSession))
    }

    /// Whether a terminal directive has been returned.
    public var isFinished: Bool { phase == .done }

    /// Requests sent so far.
    public var requestsSent: Int { outcome.requests }

    /// Starts the exchange. Call once.
    /// - Parameter now: the current time; the first deadline is `now + requestTimeout`.
    /// - Returns: the first ``ExchangeDirective/send(_:to:deadline:)``, or ``ExchangeDirective/finished(_:)``
    ///   at once when there is no range to compare.
    public mutating func start(now: Timestamp) -> [ExchangeDirective] {
        guard phase == .ready else { return [] }
        return advance(now: now)
    }

    /// No answer came before the deadline: the session fails.
    /// - Returns: ``ExchangeDirective/failed(_:)``, or nothing when no request is in flight.
    public mutating func onTimeout(now: Timestamp) -> [ExchangeDirective] {
        guard phase == .awaiting else { return [] }
        return fail(.timedOut, "no answer from \(peer) within \(limits.requestTimeout)")
    }

    /// The request could not be sent, or the peer answered with an error frame: the session fails.
    /// - Parameter reason: what happened, for the failure's message.
    /// - Returns: ``ExchangeDirective/failed(_:)``, or nothing when no request is in flight.
    public mutating func onFailure(_ reason: String) -> [ExchangeDirective] {
        guard phase == .awaiting else { return [] }
        return fail(.transportFailed, reason)
    }

    // MARK: Sending

    /// Sends the next request, or finishes.
    mutating func advance(now: Timestamp) -> [ExchangeDirective] {
        guard phase != .done else { return [] }
        let hasWork = !fetches.isEmpty || !descents.isEmpty || nextRoot < roots.count
        let budgetLeft = fetches.isEmpty ? outcome.differenceCount < limits.maximumDifferencesPerSession : true
        guard hasWork, budgetLeft, outcome.requests < limits.maximumRequestsPerSession else { return finish() }
        let body: ExchangeRequest.Body
        if !fetches.isEmpty {
            let batch = Array(fetches.prefix(limits.maximumRangesPerRequest))
            fetches.removeFirst(batch.count)
            outstanding = .records(batch)
            body = .records(batch.map(\.query))
        } else if !descents.isEmpty {
            var batch: [SummarizedRange] = []
            var children = 0
            for descent in descents {
                guard batch.count < limits.maximumRangesPerRequest,
                    children + descent.range.childCount <= limits.maximumSummariesPerAnswer
                else { break }
                batch.append(descent)
                children += descent.range.childCount
            }
            descents.removeFirst(batch.count)
            outstanding = .children(batch)
            body = .children(batch.map(\.range))
        } else {
            let count = min(limits.maximumRangesPerRequest, limits.maximumSummariesPerAnswer, roots.count - nextRoot)
            let batch = Array(roots[nextRoot..<(nextRoot + count)])
            nextRoot += count
            outstanding = .summaries(batch)
            body = .summaries(batch)
        }
        let request = ExchangeRequest(horizon: horizon, body: body)
        outcome.requests += 1
        outcome.bytes += ExchangeWireSize.frame(request)
        phase = .awaiting
        return [.send(request, to: peer, deadline: now + limits.requestTimeout)]
    }

    /// Ends normally: whatever was not compared is unexplored.
    mutating func finish() -> [ExchangeDirective] {
        phase = .done
        outstanding = nil
        outcome.unexplored += roots[nextRoot...]
        outcome.unexplored += descents.map(\.range)
        outcome.unexplored += fetches.map(\.range)
        descents = []
        fetches = []
        nextRoot = roots.count
        outcome.unexplored.sort()
        return [.finished(outcome)]
    }

    mutating func fail(
        _ code: ExchangeFailure.Code, _ message: String, peerHorizon: TombstoneHorizon? = nil
    ) -> [ExchangeDirective] {
        phase = .done
        outstanding = nil
        return [.failed(ExchangeFailure(code, message, peerHorizon: peerHorizon))]
    }
}
