/// How urgently a pending update is piggybacked; more urgent classes go first and are evicted last.
///
/// A node's piggyback capacity is about 32 updates per message and a few messages per period,
/// while an update reaches everyone only after about `λ · log10(n)` transmissions by every node:
/// at ten thousand members with a few percent of them stalling now and then, suspicions and
/// refutations alone oversubscribe it several times. When they do, what matters most travels:
/// a death or departure (final), then membership news (a join, a return, a new address, which
/// every member needs), then refutations (the accusers, the only nodes that declare deaths, are
/// told directly; gossip only clears the suspicion elsewhere), and suspicions last (beyond the
/// suspect, which is told directly, they only let other accusers count confirmations).
enum GossipPriority: Int, Hashable, Sendable, Comparable, CaseIterable {
    case final = 0
    case membership = 1
    case refutation = 2
    case suspicion = 3

    static func < (a: GossipPriority, b: GossipPriority) -> Bool { a.rawValue < b.rawValue }
}
