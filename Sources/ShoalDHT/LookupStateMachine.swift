import ShoalCore

/// One iterative Kademlia lookup (node or value) as a pure state machine.
///
/// ## Algorithm
///
/// The node lookup of *Kademlia: A Peer-to-peer Information System Based on the XOR Metric*
/// (Maymounkov & Mazières, IPTPS 2002), §2.3:
///
/// 1. Start from seed contacts (normally the K closest to the target in the local routing table).
/// 2. Keep up to α (3) requests in flight, always to the closest candidates not yet asked among the K
///    closest known. Once an answer names no node closer than the closest already seen, ask all of
///    the K closest not yet asked at once (the paper's final step), so converging costs about two
///    round trips rather than K / α.
/// 3. Each answer adds the contacts it names as new candidates; a node that times out or fails is
///    dropped and never asked again.
/// 4. Stop when the closest candidates have all answered, or when no candidate is left. The result
///    is the K closest nodes that *answered* (live nodes), closest first.
///
/// How many of the closest must have answered is the lookup's *settle count*: K in the paper, and
/// `max(wanted, resiliency)` when the caller needs only the `wanted` closest (placement needs `r`).
/// This is the termination rule of libp2p's DHT (its β, 3 by default): once the few closest nodes
/// known have answered without naming anyone closer, the lookup has converged; asking the rest of
/// the K closest, one α-window at a time, would only add round trips. Nodes that are close to a
/// key know its neighbourhood, so the closest `wanted` are still found.
///
/// A value lookup (`kind: .value`) sends `FindValue` instead and stops as soon as one node says it
/// holds the value.
///
/// Hostile or broken answers are bounded, in the spirit of libp2p's DHT and its IP diversity filter:
/// only the first `maxContactsPerAnswer` (K) contacts of an answer are read; the responder naming
/// itself, the local node, duplicates and malformed addresses are ignored; at most
/// `maxPerGroupPerAnswer` contacts of one ``IPGroup`` (/24, /48) are taken from one answer unless
/// loopback or private; only the closest `maxPendingCandidates` (3·K) unqueried candidates are kept;
/// and at most `maxRequests` requests are sent. So a peer answering with 1,000 contacts, with only
/// itself, or with a whole /24 cannot blow up memory or capture the result.
///
/// The machine does no I/O and reads no clock: the shell sends what ``LookupDirective/send(_:to:deadline:)``
/// says, schedules a timer for each deadline and feeds back ``onResponse(from:contacts:now:)``,
/// ``onValueHeld(from:now:)``, ``onTimeout(of:now:)`` and ``onFailure(of:now:)``.
public struct LookupStateMachine: Sendable {
    /// What the lookup is after.
    public enum Kind: Hashable, Sendable {
        /// The K closest live nodes to a key (`FindNode`).
        case node
        /// A node holding a value, or failing that the K closest live nodes (`FindValue`).
        case value
    }

    private struct Candidate: Sendable {
        enum State: Sendable { case fresh, inFlight, answered }
        var contact: Contact
        var distance: Key256
        var hop: Int
        var state: State
    }

    public let target: Key256
    public let kind: Kind
    public let localID: NodeID
    public let configuration: Configuration
    /// How many of the closest candidates must have answered before the lookup ends (at most K).
    public let settleCount: Int
    /// The outcome, once the lookup has finished.
    public private(set) var result: LookupResult?

    /// Every candidate still in the race, closest first.
    private var candidates: [Candidate] = []
    /// IDs in `candidates`.
    private var known: Set<NodeID> = []
    /// Nodes that timed out or failed: never asked again.
    private var failed: Set<NodeID> = []
    private var inFlightCount = 0
    private var freshCount = 0
    /// An answer brought no closer node: the window is K rather than α.
    private var sweeping = false
    private var started = false
    private var stats = LookupStats()

    /// Creates a lookup.
    /// - Parameters:
    ///   - target: the key to look up.
    ///   - kind: `.node` (FindNode) or `.value` (FindValue).
    ///   - localID: the local node, never asked and never returned.
    ///   - seeds: where to start, normally `table.closest(to: target, count: K)`; duplicates and the
    ///     local node are ignored, only the closest `maxPendingCandidates` are kept.
    ///   - wanted: how many of the closest nodes the caller needs; the lookup ends once the
    ///     `max(wanted, resiliency)` closest candidates have answered. `nil`: all K.
    ///   - configuration: α, K, timeout and bounds.
    public init(
        target: Key256, kind: Kind = .node, localID: NodeID, seeds: [Contact], wanted: Int? = nil,
        configuration: Configuration = Configuration()
    ) {
        self.target = target
        self.kind = kind
        self.localID = localID
        self.configuration = configuration
        self.settleCount = min(
            configuration.k, max(1, wanted.map { max($0, configuration.resiliency) } ?? configuration.k))
        for seed in seeds where seed.id != localID && !known.contains(seed.id) {
            insert(Candidate(contact: seed, distance: seed.id ^ target, hop: 1, state: .fresh))
        }
        trimPending()
    }

    /// `true` once ``LookupDirective/finished(_:)`` has been returned.
    public var isFinished: Bool { result != nil }

    /// The contacts with a request in flight.
    public var inFlight: [Contact] {
        candidates.filter { $0.state == .inFlight }.map(\.contact)
    }

    /// Starts the lookup. Call once.
    /// - Parameter now: the current time; deadlines are `now + requestTimeout`.
    /// - Returns: up to α ``LookupDirective/send(_:to:deadline:)`` directives, or `.finished` at once
    ///   when there are no seeds.
    public mutating func start(now: Timestamp) -> [LookupDirective] {
        guard !started else { return [] }
        started = true
        stats.startedAt = now
        return advance(now: now)
    }

    /// Feeds the answer of `id` (wire: `Nodes`, or `ValueResult` with `held = false`).
    ///
    /// Ignored unless a request to `id` is in flight (a late answer after a timeout is ignored).
    /// - Parameters:
    ///   - id: the node that answered.
    ///   - contacts: the contacts it named, closest first; bounded and filtered as described above.
    ///   - now: the current time.
    /// - Returns: further requests, or `.finished`.
    public mutating func onResponse(from id: NodeID, contacts: [Contact], now: Timestamp) -> [LookupDirective] {
        guard let i = markAnswered(id) else { return [] }
        let closestBefore = candidates.first?.distance
        absorb(contacts, from: candidates[i])
        if candidates.first?.distance == closestBefore { sweeping = true }
        return advance(now: now)
    }

    /// Feeds an answer of `id` saying it holds the value (wire: `ValueResult` with `held = true`).
    ///
    /// For a value lookup this ends the lookup with `id` as holder. For a node lookup it counts as an
    /// answer without contacts. Ignored unless a request to `id` is in flight.
    /// - Parameters:
    ///   - id: the node that holds the value.
    ///   - now: the current time.
    /// - Returns: `.finished` for a value lookup; otherwise further requests or `.finished`.
    public mutating func onValueHeld(from id: NodeID, now: Timestamp) -> [LookupDirective] {
        guard let i = markAnswered(id) else { return [] }
        guard kind == .value else { return advance(now: now) }
        return finish(.valueFound, holders: [candidates[i].contact], now: now)
    }

    /// Reports that the request to `id` was not answered by its deadline. The node is dropped.
    ///
    /// Ignored unless a request to `id` is in flight, so a timer that fires after the answer is harmless.
    /// - Parameters:
    ///   - id: the node that did not answer.
    ///   - now: the current time.
    /// - Returns: further requests, or `.finished`.
    public mutating func onTimeout(of id: NodeID, now: Timestamp) -> [LookupDirective] {
        guard drop(id) else { return [] }
        stats.timeouts += 1
        return advance(now: now)
    }

    /// Reports that the request to `id` failed (no connection, error answer). The node is dropped.
    ///
    /// Ignored unless a request to `id` is in flight.
    /// - Parameters:
    ///   - id: the node whose request failed.
    ///   - now: the current time.
    /// - Returns: further requests, or `.finished`.
    public mutating func onFailure(of id: NodeID, now: Timestamp) -> [LookupDirective] {
        guard drop(id) else { return [] }
        stats.failures += 1
        return advance(now: now)
    }

    // MARK: Internals

    private func index(of id: NodeID) -> Int? {
        guard known.contains(id) else { return nil }
        return candidates.firstIndex { $0.contact.id == id }
    }

    /// Marks the in-flight request to `id` answered; returns its index.
    private mutating func markAnswered(_ id: NodeID) -> Int? {
        guard result == nil, let i = index(of: id), candidates[i].state == .inFlight else { return nil }
        candidates[i].state = .answered
        inFlightCount -= 1
        stats.responses += 1
        stats.hops = max(stats.hops, candidates[i].hop)
        return i
    }

    /// Drops the in-flight node `id` for good.
    private mutating func drop(_ id: NodeID) -> Bool {
        guard result == nil, let i = index(of: id), candidates[i].state == .inFlight else { return false }
        candidates.remove(at: i)
        known.remove(id)
        failed.insert(id)
        inFlightCount -= 1
        return true
    }

    private mutating func insert(_ candidate: Candidate) {
        var low = 0
        var high = candidates.count
        while low < high {
            let mid = (low + high) / 2
            if candidates[mid].distance < candidate.distance { low = mid + 1 } else { high = mid }
        }
        candidates.insert(candidate, at: low)
        known.insert(candidate.contact.id)
        if candidate.state == .fresh { freshCount += 1 }
    }

    /// Adds the usable contacts of one answer.
    private mutating func absorb(_ contacts: [Contact], from responder: Candidate) {
        let limit = configuration.maxContactsPerAnswer
        if contacts.count > limit { stats.contactsIgnored += contacts.count - limit }
        var seen: Set<NodeID> = []
        var perGroup: [IPGroup: Int] = [:]
        for contact in contacts.prefix(limit) {
            let id = contact.id
            guard id != responder.contact.id, id != localID, !failed.contains(id),
                seen.insert(id).inserted,
                !contact.address.host.isEmpty, (1...65535).contains(contact.address.port)
            else {
                stats.contactsIgnored += 1
                continue
            }
            if known.contains(id) { continue }
            if let group = IPGroup.of(contact.address) {
                let taken = perGroup[group, default: 0]
                guard taken < configuration.maxPerGroupPerAnswer else {
                    stats.contactsIgnored += 1
                    continue
                }
                perGroup[group] = taken + 1
            }
            insert(Candidate(contact: contact, distance: id ^ target, hop: responder.hop + 1, state: .fresh))
        }
        trimPending()
    }

    /// Keeps only the closest `maxPendingCandidates` unqueried candidates.
    private mutating func trimPending() {
        var i = candidates.count - 1
        while freshCount > configuration.maxPendingCandidates && i >= 0 {
            if candidates[i].state == .fresh {
                known.remove(candidates[i].contact.id)
                candidates.remove(at: i)
                freshCount -= 1
            }
            i -= 1
        }
    }

    /// Sends to the closest unqueried candidates among the ``settleCount`` closest while fewer than α
    /// (in the final sweep: the settle count) are in flight; finishes when those have answered or
    /// nothing can be asked.
    private mutating func advance(now: Timestamp) -> [LookupDirective] {
        guard result == nil, started else { return [] }
        var directives: [LookupDirective] = []
        var allAnswered = true
        for i in candidates.indices.prefix(settleCount) where candidates[i].state != .answered {
            allAnswered = false
            break
        }
        if allAnswered {
            return finish(candidates.count >= settleCount ? .converged : .exhausted, holders: [], now: now)
        }
        // Only the closest `settleCount` decide the outcome, so only they are asked.
        for i in candidates.indices.prefix(settleCount) {
            switch candidates[i].state {
            case .answered, .inFlight:
                continue
            case .fresh:
                let window = sweeping ? settleCount : configuration.alpha
                guard inFlightCount < window, stats.messagesSent < configuration.maxRequests else { continue }
                candidates[i].state = .inFlight
                inFlightCount += 1
                freshCount -= 1
                stats.messagesSent += 1
                let request: LookupRequest = kind == .node ? .findNode(target: target) : .findValue(key: target)
                directives.append(
                    .send(request, to: candidates[i].contact, deadline: now + configuration.requestTimeout))
            }
        }
        if inFlightCount == 0 {
            return finish(.requestLimitReached, holders: [], now: now)
        }
        return directives
    }

    private mutating func finish(_ ending: LookupResult.Ending, holders: [Contact], now: Timestamp) -> [LookupDirective]
    {
        stats.finishedAt = now
        var closest: [Contact] = []
        for c in candidates where c.state == .answered {
            closest.append(c.contact)
            if closest.count == configuration.k { break }
        }
        let result = LookupResult(
            target: target, kind: kind, ending: ending, closest: closest, holders: holders,
            stats: stats)
        self.result = result
        return [.finished(result)]
    }
}
