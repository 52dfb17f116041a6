import ShoalCore

/// News this node sends at once to a few members rather than waiting for its next probes, within
/// a budget of messages per protocol period.
///
/// Only news this node originated or learned first-hand is offered (see
/// ``SWIMInstance`` and ``SWIMSettings/fanOutTargets``); each update is fanned out at most once
/// (an update no newer than one already fanned out about the same member is refused); deaths go
/// before refutations, and refutations before suspicions. At most ``capacity`` items wait; beyond
/// that the least urgent, oldest item is dropped (it still travels by piggybacking).
struct FanOutQueue: Hashable, Sendable {
    /// How urgent an item is; lower goes first.
    enum Urgency: Int, Hashable, Sendable, Comparable {
        case death = 0
        case refutation = 1
        case suspicion = 2

        static func < (a: Urgency, b: Urgency) -> Bool { a.rawValue < b.rawValue }
    }

    struct Item: Hashable, Sendable {
        var update: MemberUpdate
        var urgency: Urgency
        var sequence: UInt64
        /// A member that must be among the recipients (a suspect, told so it can refute at once).
        var buddy: Contact?
    }

    private(set) var items: [Item] = []
    private var nextSequence: UInt64 = 0
    /// The last update fanned out per member, oldest first, at most `memory` of them.
    private var fanned: [NodeID: MemberUpdate] = [:]
    private var fannedOrder: [NodeID] = []
    /// Messages that may still be sent this period.
    private(set) var tokens = 0

    let capacity: Int
    let memory: Int

    init(capacity: Int = SWIMSettings.wireUpdateLimit, memory: Int = 256) {
        self.capacity = max(0, capacity)
        self.memory = max(1, memory)
    }

    var isEmpty: Bool { items.isEmpty }

    /// Resets the budget to `budget` messages (at the start of a protocol period).
    mutating func refill(to budget: Int) { tokens = max(0, budget) }

    mutating func spend(_ messages: Int) { tokens = max(0, tokens - messages) }

    /// Offers `update` for fan-out.
    /// - Returns: `false` when an update at least as new about the same member was already fanned
    ///   out or is waiting.
    @discardableResult
    mutating func offer(_ update: MemberUpdate, urgency: Urgency, buddy: Contact? = nil) -> Bool {
        guard capacity > 0 else { return false }
        let id = update.member.id
        if let sent = fanned[id], Self.covers(sent, update) { return false }
        if let index = items.firstIndex(where: { $0.update.member.id.hasSameWords(as: id) }) {
            guard !Self.covers(items[index].update, update) else { return false }
            items.remove(at: index)
        }
        nextSequence += 1
        items.append(Item(update: update, urgency: urgency, sequence: nextSequence, buddy: buddy))
        items.sort { $0.urgency != $1.urgency ? $0.urgency < $1.urgency : $0.sequence < $1.sequence }
        if items.count > capacity { items.removeLast(items.count - capacity) }
        return true
    }

    /// Takes every waiting item (most urgent first) and remembers them as fanned out.
    mutating func takeAll() -> [Item] {
        let taken = items
        items.removeAll()
        for item in taken { remember(item.update) }
        return taken
    }

    /// Whether `a` makes `b` old news: a higher incarnation, or the same with a status at least as strong.
    private static func covers(_ a: MemberUpdate, _ b: MemberUpdate) -> Bool {
        a.incarnation != b.incarnation ? a.incarnation > b.incarnation : strength(a.status) >= strength(b.status)
    }

    private static func strength(_ status: MemberStatus) -> Int {
        switch status {
        case .alive: return 0
        case .suspect: return 1
        case .dead, .left: return 2
        }
    }

    private mutating func remember(_ update: MemberUpdate) {
        let id = update.member.id
        if fanned.updateValue(update, forKey: id) == nil { fannedOrder.append(id) }
        if fannedOrder.count > memory {
            let dropped = fannedOrder.count - memory
            for old in fannedOrder.prefix(dropped) { fanned[old] = nil }
            fannedOrder.removeFirst(dropped)
        }
    }
}
