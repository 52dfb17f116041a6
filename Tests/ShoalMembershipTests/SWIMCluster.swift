import ShoalCore
import ShoalMembership
import ShoalTestKit

/// Drives many ``SWIMInstance``s over a ``SimulatedNetwork``, playing the shell: it turns
/// directives into request and response messages, correlates responses with requests, fires
/// request timeouts and keeps one tick timer per node.
///
/// The harness knows who really exists: a request reaches a node only when it is addressed to
/// that node's real address under its real node ID (a made-up member, or a real ID at a wrong
/// address, never answers), which is what the shell's TLS dial with NodeID pinning guarantees.
/// Slow members are paused (``SimulatedNetwork/pause(_:until:)``) now and then, so their ticks
/// and answers come late.
struct SWIMCluster {
    enum Wire: Sendable {
        case request(id: UInt64, SWIMMessage)
        case response(id: UInt64, SWIMMessage)
        case tick
        case requestTimeout(id: UInt64)
        /// A harness timer: pause node `index` (a slow member) for a while.
        case stall(index: Int)
        /// The transport's `Ping` and `Pong`, with which shells verify peers (answered by the shell,
        /// not the instance).
        case ping(id: UInt64)
        case pong(id: UInt64)
    }

    private enum Pending {
        case probe(target: Contact)
        case probeRequest(helper: Contact, target: Contact)
        case indirect(target: Contact, origin: Contact, originRequest: UInt64)
        case verification(Contact)
        /// A fan-out or an exchange: the ack goes to `onGossipAck`.
        case gossip(Contact)
        /// A frame injected by the test (a liar's flood): the answer is dropped.
        case injected
    }

    private struct Node {
        var swim: SWIMInstance
        var pending: [UInt64: Pending] = [:]
        var tickTimer: SimulatedNetwork<Wire>.TimerID?
        /// Messages (requests and responses) this node sent.
        var messagesSent = 0
    }

    /// How a slow member stalls: pauses of `stall` periods separated by `gap` periods of normal work.
    struct Slowness {
        var stall: ClosedRange<Int>
        var gap: ClosedRange<Int>
    }

    /// One `.memberChanged` as observed by `observer`.
    struct Change {
        var observer: NodeID
        var old: MemberUpdate?
        var new: MemberUpdate
        var at: Timestamp
    }

    var network: SimulatedNetwork<Wire>
    private var nodes: [Node] = []
    private var indexByID: [NodeIndexKey: Int] = [:]
    private(set) var contacts: [Contact] = []
    private var slowness: [Int: Slowness] = [:]
    /// Stall windows per node index (for diagnostics).
    private(set) var stalls: [Int: [(Timestamp, Timestamp)]] = [:]
    private var nextRequestID: UInt64 = 1
    private var rng: SeededRandom
    private let period: Duration
    /// Which changes to keep in ``changes`` (all, unless a test narrows it); all are counted.
    var keepsChange: (Change) -> Bool = { _ in true }
    /// The changes kept.
    private(set) var changes: [Change] = []
    /// Every change any node reported, counted by new status.
    private(set) var changeCounts: [MemberStatus: Int] = [:]
    /// `.disconnect` directives: who asked, about whom.
    private(set) var disconnects: [(by: NodeID, peer: NodeID)] = []
    /// Verification requests sent, and those addressed to peers that do not exist as claimed.
    private(set) var verificationsSent = 0
    private(set) var verificationsOfNobody = 0
    private(set) var fanOutsSent = 0

    /// The node ID of the harness's own timers; never a real node.
    private static let harness = Key256.zero

    init(configuration: SimulatedNetwork<Wire>.Configuration, seed: UInt64, period: Duration = .seconds(1)) {
        network = SimulatedNetwork(configuration: configuration, seed: seed)
        rng = SeededRandom(seed: seed ^ 0x5EED)
        self.period = period
    }

    var nodeIDs: [NodeID] { contacts.map(\.id) }
    var count: Int { nodes.count }

    /// What node `observer` believes about `id`.
    func status(of id: NodeID, at observer: NodeID) -> MemberStatus? {
        indexByID[NodeIndexKey(observer)].flatMap { nodes[$0].swim.status(of: id) }
    }

    func instance(_ id: NodeID) -> SWIMInstance? { indexByID[NodeIndexKey(id)].map { nodes[$0].swim } }
    func instance(at index: Int) -> SWIMInstance { nodes[index].swim }
    func index(of id: NodeID) -> Int? { indexByID[NodeIndexKey(id)] }

    /// Messages node `index` has sent so far.
    func messagesSent(byNodeAt index: Int) -> Int { nodes[index].messagesSent }

    /// Adds a node knowing (and trusting) `members`, and starts it at a random offset within one period.
    mutating func addNode(
        _ contact: Contact, knowing members: [Contact], settings: SWIMSettings, startWithin: Duration? = nil
    ) {
        addNode(contact, roster: SWIMRoster(members), settings: settings, startWithin: startWithin)
    }

    /// Adds a node starting from `roster` (which may include it), and starts it at a random
    /// offset within one period. Nodes given the same roster share its storage.
    mutating func addNode(_ contact: Contact, roster: SWIMRoster, settings: SWIMSettings, startWithin: Duration? = nil)
    {
        let swim = SWIMInstance(myself: contact, roster: roster, settings: settings, using: &rng)
        indexByID[NodeIndexKey(contact.id)] = nodes.count
        nodes.append(Node(swim: swim))
        contacts.append(contact)
        let window = (startWithin ?? settings.probeInterval).nanosecondsClamped
        let offset = Duration.nanoseconds(window > 0 ? Int64.random(in: 0..<window, using: &rng) : 0)
        nodes[nodes.count - 1].tickTimer = network.scheduleTimer(for: contact.id, after: offset, .tick)
    }

    /// Makes node `id` slow: from a random point within its first gap on, it stalls again and again.
    mutating func makeSlow(_ id: NodeID, _ pattern: Slowness) {
        guard let index = indexByID[NodeIndexKey(id)] else { return }
        slowness[index] = pattern
        let gap = period * Int.random(in: 0...pattern.gap.upperBound, using: &rng)
        network.scheduleTimer(for: Self.harness, after: gap, .stall(index: index))
    }

    /// Node `id`'s shell re-contacts `peer` (a bootstrap peer) and exchanges membership with it.
    mutating func exchange(from id: NodeID, with peer: Contact) {
        perform(id) { swim, now, rng in swim.onExchange(with: peer, now: now, using: &rng) }
    }

    /// Sends a probe from `from` to `to` carrying `updates`, as a hostile node would, outside its instance.
    mutating func inject(from: NodeID, to: NodeID, updates: [MemberUpdate]) {
        guard let index = indexByID[NodeIndexKey(from)], let target = indexByID[NodeIndexKey(to)] else { return }
        sendRequest(fromIndex: index, to: contacts[target], .probe(updates: updates), timeout: period, .injected)
    }

    /// Runs the simulation until `deadline`.
    mutating func run(until deadline: Timestamp) {
        while let event = network.step(until: deadline) {
            handle(event)
        }
    }

    // MARK: Events

    private mutating func handle(_ event: SimulatedNetwork<Wire>.Event) {
        switch event {
        case .timer(_, _, .stall(let index)):
            guard let pattern = slowness[index] else { return }
            let stall = period * Int.random(in: pattern.stall, using: &rng)
            network.pause(contacts[index].id, until: network.now + stall)
            stalls[index, default: []].append((network.now, network.now + stall))
            let gap = period * Int.random(in: pattern.gap, using: &rng)
            network.scheduleTimer(for: Self.harness, after: stall + gap, .stall(index: index))
        case .timer(_, let id, .tick):
            guard let index = indexByID[NodeIndexKey(id)] else { return }
            nodes[index].tickTimer = nil
            perform(index) { swim, now, rng in swim.onTick(now: now, using: &rng) }
        case .timer(_, let id, .requestTimeout(let requestID)):
            guard let index = indexByID[NodeIndexKey(id)],
                let pending = nodes[index].pending.removeValue(forKey: requestID)
            else {
                return
            }
            timedOut(pending, at: index)
        case .message(let from, let to, .request(let requestID, let message)):
            guard let sender = indexByID[NodeIndexKey(from)].map({ contacts[$0] }),
                let index = indexByID[NodeIndexKey(to)]
            else { return }
            received(message, from: sender, at: index, requestID: requestID)
        case .message(let from, let to, .response(let requestID, let message)):
            guard let sender = indexByID[NodeIndexKey(from)].map({ contacts[$0] }),
                let index = indexByID[NodeIndexKey(to)],
                let pending = nodes[index].pending.removeValue(forKey: requestID)
            else { return }
            answered(pending, with: message, from: sender, at: index)
        case .message(let from, let to, .ping(let requestID)):
            guard let index = indexByID[NodeIndexKey(to)], let dialler = indexByID[NodeIndexKey(from)] else { return }
            nodes[index].messagesSent += 1
            network.send(.pong(id: requestID), from: to, to: from)
            // The dialler's Hello named it and its listen address: the shell reports a peer heard of.
            let contact = contacts[dialler]
            perform(index) { swim, now, rng in swim.onMemberDiscovered(contact, now: now, using: &rng) }
        case .message(_, let to, .pong(let requestID)):
            guard let index = indexByID[NodeIndexKey(to)],
                case .verification(let contact)? = nodes[index].pending.removeValue(forKey: requestID)
            else { return }
            perform(index) { swim, now, rng in swim.onMemberVerified(contact, now: now, using: &rng) }
        case .message(_, _, .tick), .message(_, _, .requestTimeout), .message(_, _, .stall),
            .timer(_, _, .request), .timer(_, _, .response), .timer(_, _, .ping), .timer(_, _, .pong):
            return
        }
    }

    private mutating func received(_ message: SWIMMessage, from sender: Contact, at index: Int, requestID: UInt64) {
        switch message {
        case .probe(let updates):
            perform(index, replyingTo: requestID) { swim, now, rng in
                swim.onProbe(from: sender, updates: updates, now: now, using: &rng)
            }
        case .probeRequest(let target, let updates):
            perform(index, replyingTo: requestID) { swim, now, rng in
                swim.onProbeRequest(from: sender, target: target, updates: updates, now: now, using: &rng)
            }
        case .leave(let updates):
            perform(index) { swim, now, rng in swim.onLeave(from: sender, updates: updates, now: now, using: &rng) }
        case .ack, .nack:
            return
        }
    }

    private mutating func answered(_ pending: Pending, with message: SWIMMessage, from sender: Contact, at index: Int) {
        switch (pending, message) {
        case (.probe, .ack(let updates)):
            perform(index) { swim, now, rng in swim.onProbeAck(from: sender, updates: updates, now: now, using: &rng) }
        case (.probeRequest(_, let target), .ack(let updates)):
            perform(index) { swim, now, rng in
                swim.onProbeRequestAck(from: sender, target: target, updates: updates, now: now, using: &rng)
            }
        case (.probeRequest(_, let target), .nack(let updates)):
            perform(index) { swim, now, rng in
                swim.onProbeRequestNack(from: sender, target: target, updates: updates, now: now, using: &rng)
            }
        case (.indirect(_, let origin, let originRequest), .ack(let updates)):
            perform(index, replyingTo: originRequest) { swim, now, rng in
                swim.onIndirectProbeAck(from: sender, origin: origin, updates: updates, now: now, using: &rng)
            }
        case (.gossip, .ack(let updates)):
            perform(index) { swim, now, rng in swim.onGossipAck(from: sender, updates: updates, now: now, using: &rng) }
        default:
            return
        }
    }

    private mutating func timedOut(_ pending: Pending, at index: Int) {
        switch pending {
        case .probe(let target):
            perform(index) { swim, now, rng in swim.onProbeTimeout(target: target, now: now, using: &rng) }
        case .probeRequest(let helper, let target):
            perform(index) { swim, now, rng in
                swim.onProbeRequestTimeout(helper: helper, target: target, now: now, using: &rng)
            }
        case .indirect(let target, let origin, let originRequest):
            perform(index, replyingTo: originRequest) { swim, now, rng in
                swim.onIndirectProbeTimeout(target: target, origin: origin, now: now, using: &rng)
            }
        case .verification(let contact):
            perform(index) { swim, now, rng in swim.onMemberVerificationFailed(contact, now: now, using: &rng) }
        case .gossip, .injected:
            return
        }
    }

    // MARK: Directives

    private mutating func perform(
        _ id: NodeID,
        replyingTo request: UInt64? = nil,
        _ body: (inout SWIMInstance, Timestamp, inout SeededRandom) -> [SWIMDirective]
    ) {
        guard let index = indexByID[NodeIndexKey(id)] else { return }
        perform(index, replyingTo: request, body)
    }

    /// Calls `body` on node `index`'s instance and performs the directives it returns; `.reply`
    /// answers request `replyingTo`.
    private mutating func perform(
        _ index: Int,
        replyingTo request: UInt64? = nil,
        _ body: (inout SWIMInstance, Timestamp, inout SeededRandom) -> [SWIMDirective]
    ) {
        let now = network.now
        let directives = body(&nodes[index].swim, now, &rng)
        let id = contacts[index].id
        for directive in directives {
            switch directive {
            case .sendProbe(let to, let updates, let timeout):
                sendRequest(fromIndex: index, to: to, .probe(updates: updates), timeout: timeout, .probe(target: to))
            case .sendProbeRequest(let to, let target, let updates, let timeout):
                sendRequest(
                    fromIndex: index, to: to, .probeRequest(target: target, updates: updates), timeout: timeout,
                    .probeRequest(helper: to, target: target))
            case .sendIndirectProbe(let to, let origin, let updates, let timeout):
                guard let request else { continue }
                sendRequest(
                    fromIndex: index, to: to, .probe(updates: updates), timeout: timeout,
                    .indirect(target: to, origin: origin, originRequest: request))
            case .verifyMember(let contact, let timeout):
                verificationsSent += 1
                if !exists(contact) { verificationsOfNobody += 1 }
                let requestID = nextRequestID
                nextRequestID += 1
                nodes[index].pending[requestID] = .verification(contact)
                nodes[index].messagesSent += 1
                if exists(contact) { network.send(.ping(id: requestID), from: id, to: contact.id) }
                network.scheduleTimer(for: id, after: timeout, .requestTimeout(id: requestID))
            case .sendFanOut(let to, let updates, let timeout):
                fanOutsSent += 1
                sendRequest(fromIndex: index, to: to, .probe(updates: updates), timeout: timeout, .gossip(to))
            case .sendExchange(let to, let updates, let timeout):
                sendRequest(fromIndex: index, to: to, .probe(updates: updates), timeout: timeout, .gossip(to))
            case .reply(let to, let message):
                guard let request else { continue }
                nodes[index].messagesSent += 1
                network.send(.response(id: request, message), from: id, to: to.id)
            case .sendLeave(let to, let updates):
                nodes[index].messagesSent += 1
                if exists(to) { network.send(.request(id: 0, .leave(updates: updates)), from: id, to: to.id) }
            case .memberChanged(let old, let new):
                changeCounts[new.status, default: 0] += 1
                let change = Change(observer: id, old: old, new: new, at: now)
                if keepsChange(change) { changes.append(change) }
            case .disconnect(let peer, _):
                disconnects.append((id, peer))
                network.partition([id], from: [peer])
            case .scheduleTick(let at):
                if let timer = nodes[index].tickTimer { network.cancelTimer(timer) }
                nodes[index].tickTimer = network.scheduleTimer(for: id, at: at, .tick)
            }
        }
    }

    /// Whether `contact` is a real node at its real address.
    private func exists(_ contact: Contact) -> Bool {
        indexByID[NodeIndexKey(contact.id)].map { contacts[$0].address == contact.address } ?? false
    }

    private mutating func sendRequest(
        fromIndex index: Int, to: Contact, _ message: SWIMMessage, timeout: Duration, _ pending: Pending
    ) {
        let requestID = nextRequestID
        nextRequestID += 1
        let id = contacts[index].id
        nodes[index].pending[requestID] = pending
        nodes[index].messagesSent += 1
        // A dial to an address where the claimed node does not listen gets no answer.
        if exists(to) { network.send(.request(id: requestID, message), from: id, to: to.id) }
        network.scheduleTimer(for: id, after: timeout, .requestTimeout(id: requestID))
    }
}

/// A node ID as the harness's dictionary key: compared word by word, hashed by one word (IDs are
/// SHA-256 digests), which is much cheaper than `Key256`'s own conformance in unoptimised builds.
struct NodeIndexKey: Hashable {
    let id: NodeID

    init(_ id: NodeID) { self.id = id }

    static func == (a: NodeIndexKey, b: NodeIndexKey) -> Bool {
        a.id.words.0 == b.id.words.0 && a.id.words.1 == b.id.words.1 && a.id.words.2 == b.id.words.2
            && a.id.words.3 == b.id.words.3
    }

    func hash(into hasher: inout Hasher) { hasher.combine(id.words.0) }
}
