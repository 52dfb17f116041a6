import Logging
import ShoalCore
import ShoalDHT
import ShoalTransport
import ShoalWire

/// Drives the pure Kademlia core over the transport: owns the routing table, runs iterative
/// lookups, carries out the table's directives (verification pings, eviction pings, refreshes).
actor DHTShell {
    let localID: NodeID
    private(set) var localContact: Contact?
    private var table: RoutingTable
    private var rng = SystemRandomNumberGenerator()
    private let transport: Transport
    private let clock: NodeClock
    private let logger: Logger
    private let metrics: NodeMetrics?
    /// Directives of the table waiting for ``run()``.
    private let workQueue: AsyncStream<RoutingDirective>
    private let work: AsyncStream<RoutingDirective>.Continuation
    static let maximumConcurrentWork = 16
    static let maximumQueuedWork = 1024
    let lookupConfiguration: LookupStateMachine.Configuration
    private var lookupsRun = 0
    private var hopsTotal = 0
    /// Regions of the key space that recent lookups proved, for placements near them.
    private var neighbourhood = NeighbourhoodMap()
    private var neighbourhoodSince: Timestamp
    /// How long a proven region is trusted (membership changes clear them sooner).
    static let neighbourhoodLifetime: Duration = .seconds(60)
    /// Placements answered without a lookup, and with one.
    private(set) var placementsLocal = 0
    private(set) var placementsLookedUp = 0

    init(transport: Transport, clock: NodeClock, metrics: NodeMetrics? = nil, logger: Logger) {
        self.localID = transport.nodeID
        self.metrics = metrics
        (workQueue, work) = AsyncStream.makeStream(
            of: RoutingDirective.self,
            bufferingPolicy: .bufferingNewest(Self.maximumQueuedWork))
        self.transport = transport
        self.clock = clock
        self.logger = logger
        self.table = RoutingTable(localID: transport.nodeID, now: clock.now)
        self.neighbourhoodSince = clock.now
        var config = LookupStateMachine.Configuration()
        config.requestTimeout = .seconds(3)
        self.lookupConfiguration = config
    }

    func setLocalContact(_ contact: Contact) { localContact = contact }

    // MARK: Table maintenance

    /// A peer answered a request of ours, or completed a handshake with us: it is live.
    func peerResponded(_ contact: Contact) {
        apply(table.onResponded(contact, now: clock.now))
    }

    /// A peer was mentioned by someone else, or contacted us: verify it before admitting it.
    func heardOf(_ contact: Contact) {
        guard contact.id != localID else { return }
        apply(table.onHeardOf(contact, now: clock.now))
    }

    /// A request to a peer failed or timed out.
    func peerFailed(_ id: NodeID) {
        apply(table.onFailure(id, now: clock.now))
    }

    /// Membership declared a peer dead or gone.
    func remove(_ id: NodeID) {
        apply(table.remove(id, now: clock.now))
        forgetNeighbourhood()
    }

    /// Forgets what recent lookups proved (the membership changed).
    func forgetNeighbourhood() {
        neighbourhood = NeighbourhoodMap()
        neighbourhoodSince = clock.now
    }

    // MARK: Placement

    /// The `r` nodes that should hold `id`, this node included when it is one of them.
    ///
    /// Computed without a lookup when the routing table provably covers `id`'s neighbourhood
    /// (``RoutingTable/coversNeighbourhood(of:count:)``) or a recent lookup proved it
    /// (``NeighbourhoodMap``); otherwise a lookup finds them, and what it proves is kept for the
    /// next placements near it.
    /// - Returns: the replica set, closest first, and whether it took a network lookup.
    func placement(for id: ContentID, r: Int) async -> (contacts: [Contact], lookedUp: Bool) {
        guard let local = localContact else { return ([], false) }
        let near = table.closest(to: id, count: r) + [local]
        if table.coversNeighbourhood(of: id, count: r) {
            placementsLocal += 1
            return (Placement.replicaSet(for: id, r: r, among: near), false)
        }
        if clock.now - neighbourhoodSince > Self.neighbourhoodLifetime { forgetNeighbourhood() }
        if let proven = neighbourhood.provenClosest(to: id, count: r, others: near) {
            placementsLocal += 1
            return (proven, false)
        }
        let result = await lookup(id)
        neighbourhood.record(target: id, closest: result.closest, k: lookupConfiguration.k)
        placementsLookedUp += 1
        return (Placement.replicaSet(for: id, r: r, among: result.closest + [local]), true)
    }

    func closest(to target: Key256, count: Int) -> [Contact] {
        table.closest(to: target, count: count)
    }

    func contains(_ id: NodeID) -> Bool { table.contains(id) }

    /// Every contact in the table.
    func allContacts() -> [Contact] {
        (0..<Key256.bitCount).flatMap { table.contacts(inBucket: $0) }
    }

    var size: Int { table.count }

    /// Runs due bucket refreshes.
    func tick() {
        apply(table.onTick(now: clock.now, using: &rng))
    }

    /// Hands the table's directives to ``run()``, which carries them out.
    private func apply(_ directives: [RoutingDirective]) {
        for directive in directives { work.yield(directive) }
    }

    /// Carries out the routing table's directives (verification and eviction pings, bucket
    /// refreshes), at most ``maximumConcurrentWork`` at once, until cancelled. A child of the node's
    /// task group. Directives beyond ``maximumQueuedWork`` waiting are dropped, oldest first: each
    /// is only a check of hearsay, which the next contact repeats.
    func run() async {
        await workQueue.forEachConcurrently(limit: Self.maximumConcurrentWork) { directive in
            await self.carryOut(directive)
        }
    }

    private func carryOut(_ directive: RoutingDirective) async {
        switch directive {
        case .verify(let contact):
            await ping(contact, thenReport: true)
        case .pingToEvict(let old, _):
            await ping(old, thenReport: true)
        case .refresh(_, let target):
            _ = await lookup(target)
            lookupCompleted(target)
        }
    }

    private func lookupCompleted(_ target: Key256) {
        table.onLookupCompleted(target: target, now: clock.now)
    }

    private func ping(_ contact: Contact, thenReport: Bool) async {
        let alive: Bool
        do {
            _ = try await transport.request(.ping(payload: .init()), to: contact, timeout: .seconds(3))
            alive = true
        } catch {
            alive = false
        }
        apply(table.onPingResult(contact, alive: alive, now: clock.now))
    }

    // MARK: Lookups

    private enum Outcome: Sendable {
        case contacts([Contact])
        case held
        case timedOut
        case failed
    }

    /// An iterative Kademlia lookup of `target` over the network.
    /// - Parameters:
    ///   - kind: `.node` (FindNode) or `.value` (FindValue).
    ///   - wanted: how many of the closest nodes the caller needs (the lookup settles once that
    ///     many, and at least β, of the closest have answered); `nil`: all K, as a lookup that
    ///     proves a neighbourhood must.
    /// - Returns: the closest live nodes found (and, for `.value`, who holds it).
    func lookup(_ target: Key256, kind: LookupStateMachine.Kind = .node, wanted: Int? = nil) async -> LookupResult {
        await timedLookup(target, kind: kind, wanted: wanted).result
    }

    /// Where one lookup's time went (monotonic clock): for `shoal-bench lookup`'s breakdown.
    struct LookupTiming: Sendable {
        /// From the first request to the result.
        var total: Duration = .zero
        /// Time the lookup waited with requests in flight and no answer to process.
        var waiting: Duration = .zero
        /// Each request's round trip as its sender saw it (request written to answer decoded).
        var roundTrips: [Duration] = []
    }

    /// ``lookup(_:kind:wanted:)``, also reporting where its time went.
    func timedLookup(
        _ target: Key256, kind: LookupStateMachine.Kind = .node, wanted: Int? = nil
    ) async
        -> (result: LookupResult, timing: LookupTiming)
    {
        let clock = self.clock
        let started = clock.now
        var timing = LookupTiming()
        var machine = LookupStateMachine(
            target: target, kind: kind, localID: localID,
            seeds: table.closest(to: target, count: lookupConfiguration.k), wanted: wanted,
            configuration: lookupConfiguration)
        let transport = self.transport
        return await withTaskGroup(of: (Contact, Outcome, Duration).self) { group in
            var directives = machine.start(now: clock.now)
            // Bounded: the machine caps its requests (maxRequests); each child yields one answer.
            while true {
                for directive in directives {
                    switch directive {
                    case .finished(let result):
                        group.cancelAll()
                        lookupsRun += 1
                        hopsTotal += result.stats.hops
                        timing.total = clock.now - started
                        metrics?.lookedUp(
                            in: timing.total, hops: result.stats.hops, messages: result.stats.messagesSent)
                        return (result, timing)
                    case .send(let request, let contact, let deadline):
                        let timeout = max(deadline - clock.now, .milliseconds(50))
                        let message: WireMessage
                        switch request {
                        case .findNode(let t): message = .findNode(target: t)
                        case .findValue(let k): message = .findValue(key: k)
                        }
                        group.addTask {
                            let sent = clock.now
                            let outcome = await Self.ask(message, of: contact, timeout: timeout, over: transport)
                            return (contact, outcome, clock.now - sent)
                        }
                    }
                }
                let waitStarted = clock.now
                guard let (contact, outcome, roundTrip) = await group.next() else {
                    let result = LookupResult(
                        target: target, kind: kind, ending: .exhausted, closest: [], holders: [], stats: LookupStats())
                    return (result, timing)
                }
                let now = clock.now
                timing.waiting += now - waitStarted
                timing.roundTrips.append(roundTrip)
                switch outcome {
                case .contacts(let contacts):
                    apply(table.onResponded(contact, now: now))
                    for c in contacts.prefix(lookupConfiguration.k) where c.id != localID {
                        apply(table.onHeardOf(c, now: now))
                    }
                    directives = machine.onResponse(from: contact.id, contacts: contacts, now: now)
                case .held:
                    apply(table.onResponded(contact, now: now))
                    directives = machine.onValueHeld(from: contact.id, now: now)
                case .timedOut:
                    apply(table.onFailure(contact.id, now: now))
                    directives = machine.onTimeout(of: contact.id, now: now)
                case .failed:
                    apply(table.onFailure(contact.id, now: now))
                    directives = machine.onFailure(of: contact.id, now: now)
                }
            }
        }
    }

    /// One lookup request and what its answer means.
    private static func ask(
        _ message: WireMessage, of contact: Contact, timeout: Duration, over transport: Transport
    ) async -> Outcome {
        do {
            switch try await transport.request(message, to: contact, timeout: timeout) {
            case .nodes(let contacts): return .contacts(contacts)
            case .valueResult(let v): return v.held ? .held : .contacts(v.closer)
            default: return .failed
            }
        } catch let error as TransportError {
            if case .timeout = error { return .timedOut }
            return .failed
        } catch {
            return .failed
        }
    }

    /// Average hops per lookup so far.
    var averageHops: Double { lookupsRun == 0 ? 0 : Double(hopsTotal) / Double(lookupsRun) }

    // MARK: Join

    /// Contacts each bootstrap address, adds those that answer, then looks up our own ID and
    /// refreshes buckets farther away.
    /// - Returns: the bootstrap peers that answered.
    @discardableResult
    func join(_ bootstrap: [PeerAddress]) async -> [Contact] {
        var answered: [Contact] = []
        for address in bootstrap {
            do {
                let connection = try await transport.dial(address, expecting: nil)
                guard let contact = connection.peer.contact, contact.id != localID else { continue }
                _ = try await transport.request(.ping(payload: .init()), to: contact, timeout: .seconds(5))
                apply(table.onResponded(contact, now: clock.now))
                answered.append(contact)
            } catch {
                logger.debug(
                    "bootstrap peer unreachable", metadata: ["peer.address": "\(address)", "error": "\(error)"])
            }
        }
        if !answered.isEmpty {
            _ = await lookup(localID)
            // Refresh one random key in each of a few buckets beyond our closest neighbours.
            for bucket in stride(from: 0, to: 16, by: 1) {
                let target = table.randomKey(inBucket: bucket, using: &rng)
                _ = await lookup(target)
            }
        }
        return answered
    }
}
