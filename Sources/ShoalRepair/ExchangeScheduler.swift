import ShoalCore

/// Plans which neighbours this node compares which ranges with, at a bounded rate.
///
/// Each round the shell passes the live neighbourhood (routing table and membership) and its
/// records. The scheduler cuts the key space by responsibility (``ResponsibilityMap``, `r`
/// closest) and pairs this node with every other holder of the ranges it is responsible for, over
/// the ranges the two share; and, for ranges this node still holds records in but is no longer
/// responsible for (closer nodes joined), with each of their holders, so that the hand-off can
/// be confirmed and the copies dropped. Of those peers it plans
/// at most ``ExchangeScheduleLimits/maximumExchangesPerRound`` exchanges, in this order: peers
/// never compared with or whose shared ranges changed (a node joined or died), peers whose last
/// exchange left ranges unexplored (resumed from there), then the longest-since-compared peers due
/// by ``ExchangeScheduleLimits/interval``. A peer with an exchange in flight is skipped; a peer
/// whose exchange failed is retried after an exponential backoff.
///
/// Both sides of a pair run their own exchanges; each acts on what it finds (Protocol/README.md
/// §6.9 describes the exchange on the wire).
public struct ExchangeScheduler: Sendable {
    /// This node.
    public let localID: NodeID
    /// `r`.
    public let replicas: Int
    /// Rates and timeouts.
    public let limits: ExchangeScheduleLimits

    private var peers: [NodeID: PeerExchangeState] = [:]
    /// When the last exchange with any peer completed.
    public private(set) var lastCompletedExchange: Timestamp?

    /// Creates a scheduler.
    public init(localID: NodeID, replicas: Int = 3, limits: ExchangeScheduleLimits = ExchangeScheduleLimits()) {
        self.localID = localID
        self.replicas = max(1, replicas)
        self.limits = limits
    }

    /// Plans this round's exchanges.
    /// - Parameters:
    ///   - neighbourhood: the live nodes known (this node may be among them or not).
    ///   - tree: this node's records (only counted, to find the ranges to hand off).
    ///   - now: the current time.
    ///   - alsoHolding: whether this node holds objects in a range that are not in `tree` (copies
    ///     it keeps unchecked until their other holders confirm them): such ranges are compared
    ///     with their holders like ranges with records.
    /// - Returns: at most ``ExchangeScheduleLimits/maximumExchangesPerRound`` exchanges to start
    ///   now; each must be reported to ``onExchangeFinished(_:now:)`` or ``onExchangeFailed(with:_:now:)``.
    public mutating func planRound(
        neighbourhood: [Contact], local tree: RecordTree, now: Timestamp,
        alsoHolding: (KeyRange) -> Bool = { _ in false }
    ) -> [PlannedExchange] {
        var contacts: [NodeID: Contact] = [:]
        for c in neighbourhood where c.id != localID { contacts[c.id] = c }
        let map = ResponsibilityMap(nodes: Array(contacts.keys) + [localID], replicas: replicas)
        var shared: [NodeID: [KeyRange]] = [:]
        for responsible in map.ranges {
            let mine = responsible.holders.contains(localID)
            guard mine || tree.recordCount(in: responsible.range) > 0 || alsoHolding(responsible.range) else {
                continue
            }
            for peer in responsible.holders where peer != localID {
                shared[peer, default: []].append(responsible.range)
            }
        }
        peers = peers.filter { shared[$0.key] != nil }

        var due: [(priority: Int, since: Timestamp, peer: Contact, ranges: [KeyRange])] = []
        for (id, ranges) in shared {
            guard let contact = contacts[id] else { continue }
            var state = peers[id] ?? PeerExchangeState()
            if let inFlight = state.inFlight, inFlight.until > now { continue }
            if state.inFlight != nil { state.failures += 1 }  // timed out without a report
            state.inFlight = nil
            peers[id] = state
            if let retry = state.retryAt, retry > now { continue }
            let since = state.lastCompleted ?? Timestamp(nanoseconds: .min)
            if state.comparedRanges != ranges {
                due.append((0, since, contact, ranges))
            } else if !state.unexplored.isEmpty {
                due.append((1, since, contact, state.unexplored))
            } else if state.lastCompleted.map({ now - $0 >= limits.interval }) ?? true {
                due.append((2, since, contact, ranges))
            }
        }
        due.sort { ($0.priority, $0.since, $0.peer.id) < ($1.priority, $1.since, $1.peer.id) }
        return due.prefix(limits.maximumExchangesPerRound).map { planned in
            let full = shared[planned.peer.id] ?? planned.ranges
            peers[planned.peer.id]?.inFlight = (full, now + limits.exchangeTimeout)
            return PlannedExchange(peer: planned.peer, ranges: planned.ranges)
        }
    }

    /// A planned exchange finished (``ExchangeDirective/finished(_:)``).
    /// - Parameters:
    ///   - outcome: its outcome; what it left unexplored is planned first next time.
    ///   - now: the current time.
    public mutating func onExchangeFinished(_ outcome: ExchangeOutcome, now: Timestamp) {
        guard var state = peers[outcome.peer] else { return }
        state.comparedRanges = state.inFlight?.ranges ?? state.comparedRanges
        state.inFlight = nil
        state.lastCompleted = now
        state.unexplored = outcome.unexplored
        state.failures = 0
        state.retryAt = nil
        peers[outcome.peer] = state
        lastCompletedExchange = now
    }

    /// A planned exchange failed (``ExchangeDirective/failed(_:)``). It is retried after a backoff,
    /// except after a horizon mismatch (the shell moves its horizon, and the next round retries).
    /// - Parameters:
    ///   - peer: the peer.
    ///   - failure: why.
    ///   - now: the current time.
    public mutating func onExchangeFailed(with peer: NodeID, _ failure: ExchangeFailure, now: Timestamp) {
        guard var state = peers[peer] else { return }
        state.inFlight = nil
        if failure.code != .horizonMismatch {
            state.failures += 1
            let factor = Int64(1) << Int64(min(state.failures - 1, 20))
            let wait = min(limits.retryBackoff * factor, limits.maximumRetryBackoff)
            state.retryAt = now + wait
        }
        peers[peer] = state
    }

    /// Failures in a row with `peer` (0 when the last exchange completed or none was tried).
    public func failures(with peer: NodeID) -> Int { peers[peer]?.failures ?? 0 }
}
