import ShoalCore
import ShoalMembership
import ShoalTestKit

/// Drives many ``SWIMInstance``s over a ``SimulatedNetwork``, playing the shell: it turns
/// directives into request and response messages, correlates responses with requests, fires
/// request timeouts and keeps one tick timer per node.
struct SWIMCluster {
    enum Wire: Sendable {
        case request(id: UInt64, SWIMMessage)
        case response(id: UInt64, SWIMMessage)
        case tick
        case requestTimeout(id: UInt64)
    }

    private enum Pending {
        case probe(target: Contact)
        case probeRequest(helper: Contact, target: Contact)
        case indirect(target: Contact, origin: Contact, originRequest: UInt64)
    }

    private struct Node {
        var swim: SWIMInstance
        var pending: [UInt64: Pending] = [:]
        var tickTimer: SimulatedNetwork<Wire>.TimerID?
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
    private var indexByID: [NodeID: Int] = [:]
    private(set) var contacts: [Contact] = []
    private var nextRequestID: UInt64 = 1
    private var rng: SeededRandom
    /// Every membership change any node reported, in order.
    private(set) var changes: [Change] = []

    init(configuration: SimulatedNetwork<Wire>.Configuration, seed: UInt64) {
        network = SimulatedNetwork(configuration: configuration, seed: seed)
        rng = SeededRandom(seed: seed ^ 0x5EED)
    }

    var nodeIDs: [NodeID] { contacts.map(\.id) }

    /// What node `observer` believes about `id`.
    func status(of id: NodeID, at observer: NodeID) -> MemberStatus? {
        indexByID[observer].flatMap { nodes[$0].swim.status(of: id) }
    }

    func instance(_ id: NodeID) -> SWIMInstance? { indexByID[id].map { nodes[$0].swim } }

    /// Adds a node knowing `members`, and starts it at a random offset within one period.
    mutating func addNode(_ contact: Contact, knowing members: [Contact], settings: SWIMSettings) {
        let swim = SWIMInstance(myself: contact, members: members, settings: settings, using: &rng)
        indexByID[contact.id] = nodes.count
        nodes.append(Node(swim: swim))
        contacts.append(contact)
        let offset = Duration.nanoseconds(Int64.random(in: 0..<settings.probeInterval.nanosecondsClamped, using: &rng))
        nodes[nodes.count - 1].tickTimer = network.scheduleTimer(for: contact.id, after: offset, .tick)
    }

    /// Runs the simulation until `deadline`.
    mutating func run(until deadline: Timestamp) {
        while let event = network.step(until: deadline) {
            handle(event)
        }
    }

    private mutating func handle(_ event: SimulatedNetwork<Wire>.Event) {
        switch event {
        case .timer(_, let id, .tick):
            guard let index = indexByID[id] else { return }
            nodes[index].tickTimer = nil
            perform(id) { swim, now, rng in swim.onTick(now: now, using: &rng) }
        case .timer(_, let id, .requestTimeout(let requestID)):
            guard let index = indexByID[id], let pending = nodes[index].pending.removeValue(forKey: requestID) else {
                return
            }
            switch pending {
            case .probe(let target):
                perform(id) { swim, now, rng in swim.onProbeTimeout(target: target, now: now, using: &rng) }
            case .probeRequest(let helper, let target):
                perform(id) { swim, now, rng in
                    swim.onProbeRequestTimeout(helper: helper, target: target, now: now, using: &rng)
                }
            case .indirect(let target, let origin, let originRequest):
                perform(id, replyingTo: originRequest) { swim, now, rng in
                    swim.onIndirectProbeTimeout(target: target, origin: origin, now: now, using: &rng)
                }
            }
        case .message(let from, let to, .request(let requestID, let message)):
            guard let sender = indexByID[from].map({ contacts[$0] }) else { return }
            switch message {
            case .probe(let updates):
                perform(to, replyingTo: requestID) { swim, now, rng in
                    swim.onProbe(from: sender, updates: updates, now: now, using: &rng)
                }
            case .probeRequest(let target, let updates):
                perform(to, replyingTo: requestID) { swim, now, rng in
                    swim.onProbeRequest(from: sender, target: target, updates: updates, now: now, using: &rng)
                }
            case .leave(let updates):
                perform(to) { swim, now, rng in swim.onLeave(from: sender, updates: updates, now: now, using: &rng) }
            case .ack, .nack:
                return
            }
        case .message(let from, let to, .response(let requestID, let message)):
            guard let sender = indexByID[from].map({ contacts[$0] }), let index = indexByID[to],
                let pending = nodes[index].pending.removeValue(forKey: requestID)
            else { return }
            switch (pending, message) {
            case (.probe, .ack(let updates)):
                perform(to) { swim, now, rng in swim.onProbeAck(from: sender, updates: updates, now: now, using: &rng) }
            case (.probeRequest(_, let target), .ack(let updates)):
                perform(to) { swim, now, rng in
                    swim.onProbeRequestAck(from: sender, target: target, updates: updates, now: now, using: &rng)
                }
            case (.probeRequest(_, let target), .nack(let updates)):
                perform(to) { swim, now, rng in
                    swim.onProbeRequestNack(from: sender, target: target, updates: updates, now: now, using: &rng)
                }
            case (.indirect(_, let origin, let originRequest), .ack(let updates)):
                perform(to, replyingTo: originRequest) { swim, now, rng in
                    swim.onIndirectProbeAck(from: sender, origin: origin, updates: updates, now: now, using: &rng)
                }
            default:
                return
            }
        case .message(_, _, .tick), .message(_, _, .requestTimeout), .timer(_, _, .request), .timer(_, _, .response):
            return
        }
    }

    /// Calls `body` on node `id`'s instance and performs the directives it returns; `.reply`
    /// answers request `replyingTo`.
    private mutating func perform(
        _ id: NodeID,
        replyingTo request: UInt64? = nil,
        _ body: (inout SWIMInstance, Timestamp, inout SeededRandom) -> [SWIMDirective]
    ) {
        guard let index = indexByID[id] else { return }
        let now = network.now
        let directives = body(&nodes[index].swim, now, &rng)
        for directive in directives {
            switch directive {
            case .sendProbe(let to, let updates, let timeout):
                sendRequest(from: id, to: to, .probe(updates: updates), timeout: timeout, .probe(target: to))
            case .sendProbeRequest(let to, let target, let updates, let timeout):
                sendRequest(
                    from: id, to: to, .probeRequest(target: target, updates: updates), timeout: timeout,
                    .probeRequest(helper: to, target: target))
            case .sendIndirectProbe(let to, let origin, let updates, let timeout):
                guard let request else { continue }
                sendRequest(
                    from: id, to: to, .probe(updates: updates), timeout: timeout,
                    .indirect(target: to, origin: origin, originRequest: request))
            case .reply(let to, let message):
                guard let request else { continue }
                network.send(.response(id: request, message), from: id, to: to.id)
            case .sendLeave(let to, let updates):
                network.send(.request(id: 0, .leave(updates: updates)), from: id, to: to.id)
            case .memberChanged(let old, let new):
                changes.append(Change(observer: id, old: old, new: new, at: now))
            case .scheduleTick(let at):
                if let timer = nodes[index].tickTimer { network.cancelTimer(timer) }
                nodes[index].tickTimer = network.scheduleTimer(for: id, at: at, .tick)
            }
        }
    }

    private mutating func sendRequest(
        from id: NodeID, to: Contact, _ message: SWIMMessage, timeout: Duration, _ pending: Pending
    ) {
        let requestID = nextRequestID
        nextRequestID += 1
        guard let index = indexByID[id] else { return }
        nodes[index].pending[requestID] = pending
        network.send(.request(id: requestID, message), from: id, to: to.id)
        network.scheduleTimer(for: id, after: timeout, .requestTimeout(id: requestID))
    }
}
