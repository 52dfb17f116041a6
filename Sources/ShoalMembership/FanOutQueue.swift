import DequeModule
import ShoalCore

/// News this node spreads at once to a few random members rather than waiting for its next
/// probes, within a budget of messages per protocol period.
///
/// An update is spread at most once (an update no newer than one already spread about the same
/// member is refused); deaths go before refutations. At most ``capacity`` items wait; beyond
/// that the least urgent, newest item is dropped (it still travels by piggybacking).
struct FanOutQueue: Hashable, Sendable {
    /// How urgent an item is; lower goes first.
    enum Urgency: Int, Hashable, Sendable, Comparable {
        case death = 0
        case refutation = 1

        static func < (a: Urgency, b: Urgency) -> Bool { a.rawValue < b.rawValue }
    }

    struct Item: Hashable, Sendable {
        var update: MemberUpdate
        var urgency: Urgency
        var sequence: UInt64
    }

    private(set) var items = Deque<Item>()
    private var nextSequence: UInt64 = 0
    /// The last update spread per member, oldest first, at most `memory` of them.
    private var spread: [NodeKey: MemberUpdate] = [:]
    private var spreadOrder: [NodeKey] = []
    /// Messages that may still be sent this period.
    private(set) var tokens = 0

    let capacity: Int
    let memory: Int

    init(capacity: Int = 16, memory: Int = 64) {
        self.capacity = max(0, capacity)
        self.memory = max(1, memory)
    }

    var isEmpty: Bool { items.isEmpty }

    /// Resets the budget to `budget` messages (at the start of a protocol period).
    mutating func refill(to budget: Int) { tokens = max(0, budget) }

    mutating func spend(_ messages: Int) { tokens = max(0, tokens - messages) }

    /// Offers `update` for spreading.
    /// - Returns: `false` when an update at least as new about the same member was spread already.
    @discardableResult
    mutating func offer(_ update: MemberUpdate, urgency: Urgency) -> Bool {
        guard capacity > 0 else { return false }
        let member = NodeKey(update.member.id)
        if let sent = spread[member], Self.covers(sent, update) { return false }
        nextSequence += 1
        items.append(Item(update: update, urgency: urgency, sequence: nextSequence))
        items.sort { $0.urgency != $1.urgency ? $0.urgency < $1.urgency : $0.sequence < $1.sequence }
        if items.count > capacity { items.removeLast(items.count - capacity) }
        remember(update)
        return true
    }

    /// Removes and returns the most urgent item.
    mutating func popFirst() -> Item? { items.popFirst() }

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
        let id = NodeKey(update.member.id)
        if spread.updateValue(update, forKey: id) == nil { spreadOrder.append(id) }
        if spreadOrder.count > memory {
            let dropped = spreadOrder.count - memory
            for old in spreadOrder.prefix(dropped) { spread[old] = nil }
            spreadOrder.removeFirst(dropped)
        }
    }
}
