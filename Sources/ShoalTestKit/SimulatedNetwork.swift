import HeapModule
import ShoalCore

/// A deterministic discrete-event network for simulating many nodes (DHT lookups, SWIM gossip) in
/// one process, with no threads, sockets or clocks.
///
/// Nodes are named by ``NodeID``; what they send is any `Message` type of the simulation's choosing.
/// Every message gets a delay (`baseDelay` plus a uniform jitter in `0...jitter`) and may be lost
/// (`lossProbability`), both drawn from a seeded generator, so a run is reproducible from its seed.
/// Events (message deliveries and timers) come out of a min-heap ordered by time, ties in the order
/// they were scheduled.
///
/// Failures:
/// - A *dead* node (``kill(_:)``) silently drops everything: messages to it are discarded on arrival,
///   messages from it are never sent, its timers never fire (not even after ``revive(_:)``).
/// - A *partition* (``partition(_:from:)``, ``isolate(_:)``) drops messages between its sides on
///   arrival, so messages in flight when it starts are lost too. ``healPartitions()`` removes them all.
/// - A *paused* node (``pause(_:until:)``: a process descheduled by an overloaded machine, a long
///   garbage-collection pause) handles nothing until the pause ends. Its messages and timers are
///   not lost: each one that comes due meanwhile is held and handed over when the pause ends, in the
///   order it came due. So the node's ticks and answers arrive late, as on a starved machine.
///
/// Driving it: the simulation keeps its nodes' state (say `[NodeID: SWIM.Instance]`) beside the
/// network, pulls events one at a time and hands each to the addressed node, sending whatever that
/// node answers:
///
/// ```swift
/// var net = SimulatedNetwork<MyMessage>(seed: 42)
/// net.send(.ping, from: a, to: b)
/// let summary = net.run(until: net.now + .seconds(60), maxEvents: 1_000_000) { net, event in
///     switch event {
///     case .message(let from, let to, let message):
///         for reply in nodes[to]!.handle(message, from: from, now: net.now) { net.send(reply, from: to, to: from) }
///     case .timer(_, let node, let payload):
///         nodes[node]!.onTimer(payload, now: net.now)
///     }
/// }
/// ```
///
/// or, equivalently, `while let event = net.step(until: deadline) { … }`. Every run is bounded by a
/// deadline and an event count.
public struct SimulatedNetwork<Message> {
    /// Delay and loss of every message.
    public struct Configuration: Hashable, Sendable {
        /// The minimum one-way delay.
        public var baseDelay: Duration
        /// An extra delay drawn uniformly from `0...jitter` for each message.
        public var jitter: Duration
        /// The probability in `0...1` that a message is lost.
        public var lossProbability: Double

        /// - Parameters:
        ///   - baseDelay: default 10 ms.
        ///   - jitter: default 10 ms.
        ///   - lossProbability: default 0.
        public init(
            baseDelay: Duration = .milliseconds(10), jitter: Duration = .milliseconds(10),
            lossProbability: Double = 0
        ) {
            self.baseDelay = baseDelay
            self.jitter = jitter
            self.lossProbability = min(max(lossProbability, 0), 1)
        }
    }

    /// Identifies a scheduled timer, for ``cancelTimer(_:)``.
    public struct TimerID: Hashable, Sendable {
        public let rawValue: UInt64
    }

    /// Something that happens to a node.
    public enum Event {
        /// `message` sent by `from` arrives at `to`.
        case message(from: NodeID, to: NodeID, Message)
        /// A timer that `node` scheduled fires with its payload.
        case timer(TimerID, node: NodeID, Message)
    }

    /// Why ``run(until:maxEvents:_:)`` returned.
    public enum StopReason: Hashable, Sendable {
        /// No event is left; `now` was moved to the deadline.
        case queueEmpty
        /// The next event lies after the deadline; `now` was moved to the deadline.
        case deadlineReached
        /// `maxEvents` events were handled.
        case eventLimitReached
    }

    /// What ``run(until:maxEvents:_:)`` did.
    public struct RunSummary: Hashable, Sendable {
        public var eventsHandled: Int
        public var stopReason: StopReason

        public init(eventsHandled: Int, stopReason: StopReason) {
            self.eventsHandled = eventsHandled
            self.stopReason = stopReason
        }
    }

    /// Counters since the network was created.
    public struct Statistics: Hashable, Sendable {
        public var messagesSent = 0
        public var messagesDelivered = 0
        /// Lost to `lossProbability`.
        public var messagesLost = 0
        /// Sent by or to a dead node.
        public var messagesDroppedDead = 0
        /// Dropped by a partition.
        public var messagesDroppedPartition = 0
        public var timersFired = 0
        public var timersCancelled = 0
        /// Timers of nodes that were killed.
        public var timersDroppedDead = 0
        /// Messages and timers held back because their node was paused (counted once per hold).
        public var eventsDeferred = 0
    }

    fileprivate enum Payload {
        case message(from: NodeID, to: NodeID, Message)
        case timer(TimerID, node: NodeID, life: UInt64, Message)

        /// `true` for a timer that was cancelled.
        func isCancelledTimer(_ live: Set<UInt64>) -> Bool {
            if case .timer(let id, _, _, _) = self { return !live.contains(id.rawValue) }
            return false
        }

        /// The node the event happens to.
        var node: NodeID {
            switch self {
            case .message(_, let to, _): return to
            case .timer(_, let node, _, _): return node
            }
        }
    }

    /// Two sides that cannot reach each other; `other == nil` means everyone not in `side`.
    private struct Cut {
        var side: Set<NodeID>
        var other: Set<NodeID>?

        func separates(_ a: NodeID, _ b: NodeID) -> Bool {
            let aIn = side.contains(a)
            let bIn = side.contains(b)
            guard let other else { return aIn != bIn }
            return (aIn && other.contains(b)) || (bIn && other.contains(a))
        }
    }

    /// The simulated time: the time of the event most recently returned.
    public private(set) var now: Timestamp
    public var configuration: Configuration
    public private(set) var statistics = Statistics()

    private var rng: SeededRandom
    /// A min-heap of small plain entries; the payloads live in `payloads`, so that moving heap
    /// entries never copies a generic value (which is slow in unoptimised builds).
    private var heap = Heap<HeapEntry>()
    private var payloads: [Payload?] = []
    private var freePayloadSlots: [Int32] = []
    private var sequence: UInt64 = 0
    /// Timers scheduled and neither fired nor cancelled.
    private var liveTimers: Set<UInt64> = []
    private var dead: Set<NodeID> = []
    /// Bumped on every kill so that timers scheduled before it never fire.
    private var lives: [NodeID: UInt64] = [:]
    private var cuts: [Cut] = []
    /// Nodes paused until the given time.
    private var pausedUntil: [FastKey: Timestamp] = [:]

    /// Creates an empty network.
    /// - Parameters:
    ///   - configuration: delay and loss.
    ///   - seed: the seed of the generator for delays and losses.
    ///   - start: the initial time.
    public init(configuration: Configuration = Configuration(), seed: UInt64, start: Timestamp = .zero) {
        self.configuration = configuration
        self.rng = SeededRandom(seed: seed)
        self.now = start
    }

    /// The number of scheduled events (including ones that will be dropped on arrival).
    public var pendingEventCount: Int { heap.count }

    /// The time of the next scheduled event, if any.
    public var nextEventTime: Timestamp? { heap.min.map { Timestamp(nanoseconds: $0.time) } }

    // MARK: Sending and timers

    /// Sends `message` from `from` to `to` with the configured delay and loss (or an explicit delay).
    ///
    /// A message from a dead node is dropped at once; loss is decided now; death of the receiver and
    /// partitions are checked on arrival.
    /// - Parameters:
    ///   - message: the payload.
    ///   - from: the sender.
    ///   - to: the receiver (may equal `from`).
    ///   - delay: overrides the configured delay and jitter when given.
    public mutating func send(_ message: Message, from: NodeID, to: NodeID, delay: Duration? = nil) {
        statistics.messagesSent += 1
        guard !dead.contains(from) else {
            statistics.messagesDroppedDead += 1
            return
        }
        if configuration.lossProbability > 0, Double.random(in: 0..<1, using: &rng) < configuration.lossProbability {
            statistics.messagesLost += 1
            return
        }
        push(at: now + (delay ?? drawDelay()), .message(from: from, to: to, message))
    }

    /// Schedules a timer for `node` that fires `after` from now with `payload`, unless the node dies
    /// first or the timer is cancelled.
    /// - Returns: its ID, for ``cancelTimer(_:)``.
    @discardableResult
    public mutating func scheduleTimer(for node: NodeID, after: Duration, _ payload: Message) -> TimerID {
        scheduleTimer(for: node, at: now + after, payload)
    }

    /// Schedules a timer for `node` at `time` (or now, if `time` is past) with `payload`.
    /// - Returns: its ID, for ``cancelTimer(_:)``.
    @discardableResult
    public mutating func scheduleTimer(for node: NodeID, at time: Timestamp, _ payload: Message) -> TimerID {
        let id = TimerID(rawValue: sequence)
        liveTimers.insert(id.rawValue)
        push(at: max(time, now), .timer(id, node: node, life: lives[node, default: 0], payload))
        return id
    }

    /// Cancels a timer that has not fired yet; cancelling a fired or unknown timer does nothing.
    public mutating func cancelTimer(_ id: TimerID) {
        liveTimers.remove(id.rawValue)
    }

    // MARK: Failures

    /// Kills `node`: it sends nothing, receives nothing, and its pending timers never fire.
    public mutating func kill(_ node: NodeID) {
        if dead.insert(node).inserted { lives[node, default: 0] += 1 }
    }

    /// Brings `node` back (as if restarted: timers from before its death stay dead).
    public mutating func revive(_ node: NodeID) {
        dead.remove(node)
    }

    /// `true` unless `node` was killed and not revived.
    public func isAlive(_ node: NodeID) -> Bool {
        !dead.contains(node)
    }

    /// Cuts every node of `side` off from every node of `other` (both directions).
    public mutating func partition(_ side: Set<NodeID>, from other: Set<NodeID>) {
        cuts.append(Cut(side: side, other: other))
    }

    /// Cuts `nodes` off from every node not in `nodes` (both directions).
    public mutating func isolate(_ nodes: Set<NodeID>) {
        cuts.append(Cut(side: nodes, other: nil))
    }

    /// Removes every partition.
    public mutating func healPartitions() {
        cuts.removeAll()
    }

    /// Pauses `node` until `until`: every message or timer for it that comes due before then is
    /// held and handed over at `until`, in the order it came due. Pausing a paused node again
    /// extends the pause (never shortens it).
    public mutating func pause(_ node: NodeID, until: Timestamp) {
        guard until > now else { return }
        pausedUntil[FastKey(node)] = max(pausedUntil[FastKey(node)] ?? until, until)
    }

    /// `true` while `node` is paused.
    public func isPaused(_ node: NodeID) -> Bool {
        pausedUntil[FastKey(node)].map { $0 > now } ?? false
    }

    /// Whether a message sent now from `from` would currently arrive at `to` (ignoring loss).
    public func canReach(_ from: NodeID, _ to: NodeID) -> Bool {
        !dead.contains(from) && !dead.contains(to) && !cuts.contains { $0.separates(from, to) }
    }

    // MARK: Running

    /// Pops the next deliverable event at or before `deadline`, advancing ``now`` to its time.
    ///
    /// Events dropped on arrival (dead receiver, partition, cancelled or dead timer) are consumed
    /// silently and counted in ``statistics``.
    /// - Parameter deadline: events after it stay queued; `nil` for no limit.
    /// - Returns: the event, or `nil` when none is left at or before `deadline`.
    public mutating func step(until deadline: Timestamp? = nil) -> Event? {
        while let next = heap.min {
            if let deadline, next.time > deadline.nanoseconds { return nil }
            let entry = heap.removeMin()
            now = max(now, Timestamp(nanoseconds: entry.time))
            guard let payload = payloads[Int(entry.slot)] else { continue }
            if !pausedUntil.isEmpty, !payload.isCancelledTimer(liveTimers),
                let until = pausedUntil[FastKey(payload.node)]
            {
                if until > now {
                    statistics.eventsDeferred += 1
                    pushEntry(at: until, slot: entry.slot)
                    continue
                }
                pausedUntil[FastKey(payload.node)] = nil
            }
            payloads[Int(entry.slot)] = nil
            freePayloadSlots.append(entry.slot)
            switch payload {
            case .message(let from, let to, let message):
                if !dead.isEmpty, dead.contains(to) {
                    statistics.messagesDroppedDead += 1
                } else if !cuts.isEmpty, cuts.contains(where: { $0.separates(from, to) }) {
                    statistics.messagesDroppedPartition += 1
                } else {
                    statistics.messagesDelivered += 1
                    return .message(from: from, to: to, message)
                }
            case .timer(let id, let node, let life, let payload):
                if liveTimers.remove(id.rawValue) == nil {
                    statistics.timersCancelled += 1
                } else if !lives.isEmpty, dead.contains(node) || life != lives[node, default: 0] {
                    statistics.timersDroppedDead += 1
                } else {
                    statistics.timersFired += 1
                    return .timer(id, node: node, payload)
                }
            }
        }
        return nil
    }

    /// Handles events in time order until none is left at or before `deadline` or `maxEvents` were
    /// handled. The handler may send messages and schedule timers through the network it is given
    /// (not through a captured copy of the network: that would be an overlapping access).
    /// - Parameters:
    ///   - deadline: the last instant to simulate; unless stopped by `maxEvents`, ``now`` ends at
    ///     `deadline` (so `run(until: net.now + .seconds(5), …)` also lets five idle seconds pass).
    ///   - maxEvents: the maximum number of events to hand to `handle`.
    ///   - handle: called with the network and each event.
    /// - Returns: how many events were handled and why it stopped.
    @discardableResult
    public mutating func run(
        until deadline: Timestamp,
        maxEvents: Int,
        _ handle: (inout SimulatedNetwork<Message>, Event) throws -> Void
    ) rethrows -> RunSummary {
        var handled = 0
        while handled < maxEvents {
            guard let event = step(until: deadline) else {
                now = max(now, deadline)
                return RunSummary(eventsHandled: handled, stopReason: heap.isEmpty ? .queueEmpty : .deadlineReached)
            }
            try handle(&self, event)
            handled += 1
        }
        return RunSummary(eventsHandled: handled, stopReason: .eventLimitReached)
    }

    // MARK: Internals

    private mutating func drawDelay() -> Duration {
        let jitter = configuration.jitter.nanosecondsClamped
        let extra = jitter > 0 ? Int64.random(in: 0...jitter, using: &rng) : 0
        return configuration.baseDelay + .nanoseconds(extra)
    }

    /// Stores `payload` and schedules it at `time`.
    private mutating func push(at time: Timestamp, _ payload: Payload) {
        let slot: Int32
        if let free = freePayloadSlots.popLast() {
            slot = free
            payloads[Int(slot)] = payload
        } else {
            slot = Int32(payloads.count)
            payloads.append(payload)
        }
        pushEntry(at: time, slot: slot)
    }

    /// Queues the payload in `slot`, ordered by time then by scheduling order.
    private mutating func pushEntry(at time: Timestamp, slot: Int32) {
        heap.insert(HeapEntry(time: time.nanoseconds, sequence: sequence, slot: slot))
        sequence += 1
    }
}

/// A node ID as a dictionary key, compared word by word and hashed by one word (node IDs are
/// SHA-256 digests): the network looks nodes up on every event, and `Key256`'s own `==` is slow
/// in unoptimised builds.
private struct FastKey: Hashable {
    let id: NodeID

    init(_ id: NodeID) { self.id = id }

    static func == (a: FastKey, b: FastKey) -> Bool {
        a.id.words.0 == b.id.words.0 && a.id.words.1 == b.id.words.1 && a.id.words.2 == b.id.words.2
            && a.id.words.3 == b.id.words.3
    }

    func hash(into hasher: inout Hasher) { hasher.combine(id.words.0) }
}

/// One scheduled event in the heap: a plain value (not generic), cheap to move.
private struct HeapEntry: Comparable {
    var time: Int64
    var sequence: UInt64
    var slot: Int32

    static func < (a: HeapEntry, b: HeapEntry) -> Bool {
        a.time != b.time ? a.time < b.time : a.sequence < b.sequence
    }

    static func == (a: HeapEntry, b: HeapEntry) -> Bool { a.time == b.time && a.sequence == b.sequence }
}

extension SimulatedNetwork: Sendable where Message: Sendable {}
extension SimulatedNetwork.Event: Sendable where Message: Sendable {}
extension SimulatedNetwork.Event: Equatable where Message: Equatable {}
extension SimulatedNetwork.Payload: Sendable where Message: Sendable {}
