/// The outcome of one repair round.
public struct RepairPlan: Hashable, Sendable {
    /// What to do now: pushes, most endangered objects first, then drops.
    public var actions: [RepairAction]
    /// Pushes that are needed but held back by the limits (expose as a metric and in status).
    public var backlog: Int
    /// Bytes of the held-back pushes.
    public var backlogBytes: Int
    /// Pushes outstanding after this round (its own included): emitted, not yet reported
    /// finished, not timed out.
    public var inFlight: Int

    /// Creates a plan.
    public init(actions: [RepairAction] = [], backlog: Int = 0, backlogBytes: Int = 0, inFlight: Int = 0) {
        self.actions = actions
        self.backlog = backlog
        self.backlogBytes = backlogBytes
        self.inFlight = inFlight
    }

    /// The pushes of ``actions``.
    public var pushes: [RepairAction] { actions.filter { if case .push = $0 { return true } else { return false } } }
    /// The drops of ``actions``.
    public var drops: [RepairAction] { actions.filter { if case .drop = $0 { return true } else { return false } } }
}
