import ShoalCore

/// The outcome of one repair round.
public struct RepairPlan: Hashable, Sendable {
    /// What to do now: pushes, most endangered objects first, then drops, then discards.
    public var directives: [RepairDirective]
    /// Pushes that are needed but held back by the limits (expose as a metric and in status).
    public var backlog: Int
    /// Bytes of the held-back pushes.
    public var backlogBytes: Int
    /// Pushes outstanding after this round (its own included): emitted, not yet reported
    /// finished, not timed out.
    public var inFlight: Int
    /// Objects with a responsible node whose holding is unknown (no exchange has covered it
    /// yet): no push to it, no drop, until an exchange tells.
    public var awaitingEvidence: Int

    /// Creates a plan.
    public init(
        directives: [RepairDirective] = [], backlog: Int = 0, backlogBytes: Int = 0, inFlight: Int = 0,
        awaitingEvidence: Int = 0
    ) {
        self.directives = directives
        self.backlog = backlog
        self.backlogBytes = backlogBytes
        self.inFlight = inFlight
        self.awaitingEvidence = awaitingEvidence
    }

    /// The pushes of ``directives``.
    public var objectPushes: [RepairPush] { directives.compactMap { if case .push(let p) = $0 { p } else { nil } } }
    /// The objects handed off and to drop.
    public var handedOff: [ContentID] { directives.compactMap { if case .drop(let id) = $0 { id } else { nil } } }
    /// The deleted objects whose bytes to free.
    public var discarded: [ContentID] { directives.compactMap { if case .discard(let id) = $0 { id } else { nil } } }

    /// ``directives`` in the first model's terms (pushes without records; discards as drops).
    public var actions: [RepairAction] {
        directives.map {
            switch $0 {
            case .push(let p): return .push(p.object, to: p.target)
            case .drop(let id), .discard(let id): return .drop(id)
            }
        }
    }
    /// The pushes of ``actions``.
    public var pushes: [RepairAction] { actions.filter { if case .push = $0 { return true } else { return false } } }
    /// The drops of ``actions``.
    public var drops: [RepairAction] { actions.filter { if case .drop = $0 { return true } else { return false } } }
}
