import Logging
import ShoalCore
import ShoalMembership
import ShoalTransport
import ShoalWire

/// Runs the pure SWIM instance over the transport's Gossip messages, and feeds what it learns into
/// the routing table: dead and departed members are removed, new ones verified and added.
actor MembershipShell {
    private var instance: SWIMInstance
    private var rng = SystemRandomNumberGenerator()
    private let local: Contact
    private let transport: Transport
    private let dht: DHTShell
    private let clock: NodeClock
    private let logger: Logger
    private var nextTick: Timestamp?
    private var reportedIncarnation: UInt64 = 0
    private var observers: [@Sendable (MemberUpdate) async -> Void] = []
    /// Counters for tests and status: members declared dead, suspicions raised, and refutations
    /// of suspicions of this node.
    private(set) var deaths = 0
    private(set) var suspicions = 0
    private(set) var refutations = 0

    /// Network work the instance's directives start (probes, verifications, leaves), carried out
    /// concurrently by ``run()``, at most ``maximumConcurrentSends`` at once.
    private let sends: AsyncStream<@Sendable () async -> Void>
    private let sendQueue: AsyncStream<@Sendable () async -> Void>.Continuation
    /// Consequences of membership changes (routing table, observers), carried out one at a time in
    /// the order the changes happened, so a member that died and came back is removed before it is
    /// admitted again.
    private let changes: AsyncStream<@Sendable () async -> Void>
    private let changeQueue: AsyncStream<@Sendable () async -> Void>.Continuation
    static let maximumConcurrentSends = 64
    static let maximumQueuedWork = 4096

    init(local: Contact, transport: Transport, dht: DHTShell, clock: NodeClock, period: Duration, logger: Logger) {
        var settings = SWIMSettings()
        settings.probeInterval = period
        settings.probeTimeout = period / 2
        settings.indirectProbeTimeout = period * 2 / 5
        self.local = local
        self.transport = transport
        self.dht = dht
        self.clock = clock
        self.logger = logger
        (sends, sendQueue) = AsyncStream.makeStream(
            of: (@Sendable () async -> Void).self,
            bufferingPolicy: .bufferingNewest(Self.maximumQueuedWork))
        (changes, changeQueue) = AsyncStream.makeStream(
            of: (@Sendable () async -> Void).self,
            bufferingPolicy: .unbounded)
        var rng = SystemRandomNumberGenerator()
        self.instance = SWIMInstance(myself: local, settings: settings, using: &rng)
    }

    /// Called for every membership change, after the routing table was updated.
    func observe(_ observer: @escaping @Sendable (MemberUpdate) async -> Void) {
        observers.append(observer)
    }

    /// Alive and suspect members, this node included.
    var aliveCount: Int { instance.memberCount }

    /// This node's own incarnation.
    var incarnation: UInt64 { instance.incarnation }

    /// The status SWIM currently assigns to `id`.
    func status(of id: NodeID) -> MemberStatus? { instance.status(of: id) }

    /// Every member SWIM knows of (this node excluded), with its status, and recent tombstones.
    var view: [MemberView] {
        instance.members.map {
            MemberView(
                nodeID: $0.contact.id.hex, address: $0.contact.address.description,
                status: "\($0.status)", incarnation: $0.incarnation)
        }
            + instance.tombstones.map {
                MemberView(
                    nodeID: $0.contact.id.hex, address: $0.contact.address.description,
                    status: "\($0.status)", incarnation: $0.incarnation)
            }
    }

    /// Members currently believed alive or suspect.
    var liveMembers: [Contact] { instance.members.map(\.contact) }

    /// Counters for `/v1/status`.
    var statistics: MembershipStatistics {
        MembershipStatistics(
            suspicions: suspicions, deaths: deaths, refutations: refutations,
            localHealth: instance.localHealthMultiplier, lateTicks: instance.counters.lateTicks,
            unverified: instance.unverifiedCount)
    }

    /// A peer became known (an inbound handshake's listen address, bootstrap, routing table): it
    /// is verified before it counts.
    func add(_ contact: Contact) {
        guard contact.id != local.id else { return }
        _ = perform(instance.onMemberDiscovered(contact, now: clock.now, using: &rng))
    }

    /// The protocol loop (ticks when the instance asks, at least once per period), with the
    /// network work its directives start and the consequences of membership changes as children,
    /// until cancelled.
    func run() async {
        let (sends, changes) = (self.sends, self.changes)
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await change in changes { await change() }
            }
            group.addTask {
                await sends.forEachConcurrently(limit: Self.maximumConcurrentSends) { send in await send() }
            }
            await protocolLoop()
            group.cancelAll()
        }
    }

    private func send(_ work: @escaping @Sendable () async -> Void) { sendQueue.yield(work) }

    private func ordered(_ work: @escaping @Sendable () async -> Void) { changeQueue.yield(work) }

    private func protocolLoop() async {
        _ = perform(instance.onTick(now: clock.now, using: &rng))
        while !Task.isCancelled {
            let now = clock.now
            let wake = nextTick ?? (now + instance.settings.probeInterval)
            let delay = max(wake - now, .milliseconds(5))
            try? await clock.sleep(for: min(delay, instance.settings.probeInterval))
            if Task.isCancelled { break }
            if let due = nextTick, clock.now >= due {
                nextTick = nil
                _ = perform(instance.onTick(now: clock.now, using: &rng))
            } else if nextTick == nil {
                _ = perform(instance.onTick(now: clock.now, using: &rng))
            }
        }
    }

    /// Probes `peer` outside the protocol round, carrying this node's own state, and applies the
    /// answer: used on the periodic re-contact of bootstrap peers so that views split by a
    /// partition merge again (each side learns the other declared it dead, and refutes).
    ///
    /// `peer` must have been reached at its address by a dial of this node (the bootstrap
    /// re-contact), which verifies it.
    func exchange(with peer: Contact) {
        guard peer.id != local.id else { return }
        perform(instance.onExchange(with: peer, now: clock.now, using: &rng))
    }

    /// Announces a graceful leave to a few members, and returns once each notice was written
    /// (or its peer could not be reached).
    func leave() async {
        var notices: [(to: Contact, updates: [MemberUpdate])] = []
        var rest: [SWIMDirective] = []
        for directive in instance.leave(now: clock.now, using: &rng) {
            if case .sendLeave(let to, let updates) = directive {
                notices.append((to, updates))
            } else {
                rest.append(directive)
            }
        }
        perform(rest)
        let transport = self.transport
        await withDiscardingTaskGroup { group in
            for notice in notices {
                group.addTask {
                    let connection = try? await transport.connection(to: notice.to)
                    await connection?.sendWritten(oneWay: .gossip(GossipMessage(kind: .leave, updates: notice.updates)))
                }
            }
        }
    }

    // MARK: Inbound

    /// Answers an inbound Gossip request (or applies a one-way LEAVE).
    func handle(_ gossip: GossipMessage, from peer: PeerInfo) async -> WireMessage {
        guard let from = peer.contact else {
            return .error(WireError(.badRequest, "gossip needs a listening peer"))
        }
        let now = clock.now
        switch gossip.kind {
        case .probe:
            let replies = perform(instance.onProbe(from: from, updates: gossip.updates, now: now, using: &rng))
            return replies.first ?? .gossip(GossipMessage(kind: .ack))
        case .probeRequest:
            guard let target = gossip.target else {
                return .error(WireError(.badRequest, "PROBE_REQUEST without target"))
            }
            let directives = instance.onProbeRequest(
                from: from, target: target, updates: gossip.updates, now: now, using: &rng)
            var replies = perform(
                directives.filter { if case .sendIndirectProbe = $0 { return false } else { return true } })
            for case .sendIndirectProbe(let to, let origin, let updates, let timeout) in directives {
                let outcome = await probe(to, updates: updates, timeout: timeout)
                let after: [SWIMDirective]
                switch outcome {
                case .some(let ackUpdates):
                    after = instance.onIndirectProbeAck(
                        from: to, origin: origin, updates: ackUpdates, now: clock.now, using: &rng)
                case .none:
                    after = instance.onIndirectProbeTimeout(target: to, origin: origin, now: clock.now, using: &rng)
                }
                replies += perform(after)
            }
            return replies.first ?? .gossip(GossipMessage(kind: .nack))
        case .leave:
            _ = perform(instance.onLeave(from: from, updates: gossip.updates, now: now, using: &rng))
            return .gossip(GossipMessage(kind: .ack))
        case .ack, .nack:
            return .error(WireError(.protocolViolation, "ACK/NACK are responses"))
        }
    }

    // MARK: Directives

    /// Performs directives; returns the bodies of `.reply` directives, which the caller sends as the
    /// response to the request being handled.
    @discardableResult
    private func perform(_ directives: [SWIMDirective]) -> [WireMessage] {
        if instance.incarnation != reportedIncarnation {
            reportedIncarnation = instance.incarnation
            refutations += 1
            logger.info("refuted a suspicion of this node", metadata: ["incarnation": "\(instance.incarnation)"])
        }
        var replies: [WireMessage] = []
        for directive in directives {
            switch directive {
            case .sendProbe(let to, let updates, let timeout):
                send {
                    let result = await self.probe(to, updates: updates, timeout: timeout)
                    await self.probeFinished(to, result)
                }
            case .sendProbeRequest(let to, let target, let updates, let timeout):
                send {
                    let result = await self.probeRequest(via: to, target: target, updates: updates, timeout: timeout)
                    await self.probeRequestFinished(helper: to, target: target, result)
                }
            case .sendIndirectProbe(let to, let origin, let updates, let timeout):
                // Only reached outside `handle`, which performs these inline; answer the origin later.
                send {
                    let result = await self.probe(to, updates: updates, timeout: timeout)
                    await self.indirectFinished(to, origin: origin, result)
                }
            case .reply(_, let message):
                replies.append(.gossip(wire(message)))
            case .sendLeave(let to, let updates):
                let transport = self.transport
                send {
                    if let connection = try? await transport.connection(to: to) {
                        connection.send(oneWay: .gossip(GossipMessage(kind: .leave, updates: updates)))
                    }
                }
            case .memberChanged(let old, let new):
                memberChanged(old: old, new: new)
            case .verifyMember(let contact, let timeout):
                let transport = self.transport
                send {
                    do {
                        try await transport.verify(contact, timeout: timeout)
                        await self.verificationFinished(contact, verified: true)
                    } catch {
                        await self.verificationFinished(contact, verified: false)
                    }
                }
            case .sendFanOut(let to, let updates, let timeout), .sendExchange(let to, let updates, let timeout):
                send {
                    guard let answer = await self.probe(to, updates: updates, timeout: timeout) else { return }
                    await self.gossipAcked(from: to, answer)
                }
            case .disconnect(let peer, let until):
                let duration = until - clock.now
                logger.notice(
                    "peer disconnected: its gossip kept failing verification",
                    metadata: ["peer.id": "\(peer.short)", "duration": "\(duration)"])
                transport.refuse(peer, for: duration)
            case .scheduleTick(let at):
                nextTick = at
            }
        }
        return replies
    }

    private func memberChanged(old: MemberUpdate?, new: MemberUpdate) {
        switch new.status {
        case .dead, .left:
            if new.status == .dead { deaths += 1 }
            logger.info(
                new.status == .dead ? "member declared dead" : "member left",
                metadata: ["peer.id": "\(new.member.id.short)", "peer.address": "\(new.member.address)"])
            let dht = self.dht
            ordered { await dht.remove(new.member.id) }
        case .suspect:
            suspicions += 1
            logger.info(
                "member suspected",
                metadata: ["peer.id": "\(new.member.id.short)", "incarnation": "\(new.incarnation)"])
        case .alive:
            if old == nil || old?.status != .alive {
                logger.info(
                    old == nil ? "member joined" : "member alive again", metadata: ["peer.id": "\(new.member.id.short)"]
                )
            }
            let dht = self.dht
            ordered { await dht.heardOf(new.member) }
        }
        let observers = self.observers
        ordered { for o in observers { await o(new) } }
    }

    private func probe(_ to: Contact, updates: [MemberUpdate], timeout: Duration) async -> [MemberUpdate]? {
        do {
            let response = try await transport.request(
                .gossip(GossipMessage(kind: .probe, updates: updates)), to: to, timeout: timeout)
            if case .gossip(let g) = response, g.kind == .ack { return g.updates }
            return nil
        } catch {
            return nil
        }
    }

    private enum IndirectOutcome {
        case ack([MemberUpdate])
        case nack([MemberUpdate])
        case timeout
    }

    private func probeRequest(
        via helper: Contact, target: Contact, updates: [MemberUpdate], timeout: Duration
    ) async -> IndirectOutcome {
        do {
            let response = try await transport.request(
                .gossip(GossipMessage(kind: .probeRequest, target: target, updates: updates)), to: helper,
                timeout: timeout)
            guard case .gossip(let g) = response else { return .timeout }
            return g.kind == .ack ? .ack(g.updates) : .nack(g.updates)
        } catch {
            return .timeout
        }
    }

    private func verificationFinished(_ contact: Contact, verified: Bool) {
        if verified {
            perform(instance.onMemberVerified(contact, now: clock.now, using: &rng))
        } else {
            perform(instance.onMemberVerificationFailed(contact, now: clock.now, using: &rng))
        }
    }

    private func gossipAcked(from peer: Contact, _ updates: [MemberUpdate]) {
        perform(instance.onGossipAck(from: peer, updates: updates, now: clock.now, using: &rng))
    }

    private func probeFinished(_ target: Contact, _ result: [MemberUpdate]?) {
        if let updates = result {
            perform(instance.onProbeAck(from: target, updates: updates, now: clock.now, using: &rng))
        } else {
            perform(instance.onProbeTimeout(target: target, now: clock.now, using: &rng))
        }
    }

    private func probeRequestFinished(helper: Contact, target: Contact, _ outcome: IndirectOutcome) {
        switch outcome {
        case .ack(let updates):
            perform(
                instance.onProbeRequestAck(from: helper, target: target, updates: updates, now: clock.now, using: &rng))
        case .nack(let updates):
            perform(
                instance.onProbeRequestNack(from: helper, target: target, updates: updates, now: clock.now, using: &rng)
            )
        case .timeout:
            perform(instance.onProbeRequestTimeout(helper: helper, target: target, now: clock.now, using: &rng))
        }
    }

    private func indirectFinished(_ target: Contact, origin: Contact, _ result: [MemberUpdate]?) {
        if let updates = result {
            perform(
                instance.onIndirectProbeAck(from: target, origin: origin, updates: updates, now: clock.now, using: &rng)
            )
        } else {
            perform(instance.onIndirectProbeTimeout(target: target, origin: origin, now: clock.now, using: &rng))
        }
    }

    private func wire(_ message: SWIMMessage) -> GossipMessage {
        switch message {
        case .probe(let u): return GossipMessage(kind: .probe, updates: u)
        case .probeRequest(let t, let u): return GossipMessage(kind: .probeRequest, target: t, updates: u)
        case .ack(let u): return GossipMessage(kind: .ack, updates: u)
        case .nack(let u): return GossipMessage(kind: .nack, updates: u)
        case .leave(let u): return GossipMessage(kind: .leave, updates: u)
        }
    }
}

/// One member as `/v1/members` reports it.
public struct MemberView: Codable, Sendable {
    public var nodeID: String
    public var address: String
    public var status: String
    public var incarnation: UInt64
}
