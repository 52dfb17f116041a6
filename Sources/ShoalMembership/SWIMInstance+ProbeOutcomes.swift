import ShoalCore

/// Outcomes of the probes this node sends: direct probes and the probe requests that follow a
/// missed ack.
extension SWIMInstance {
    /// The ack to a `.sendProbe` arrived.
    ///
    /// An ack from the current period's target marks it reachable for this period (a late ack,
    /// after the period ended, only contributes its updates).
    /// - Parameters:
    ///   - from: the member that acked.
    ///   - updates: the ack's piggybacked updates.
    ///   - now: the current time.
    ///   - rng: randomness for inserting newly learned members.
    /// - Returns: `.memberChanged` for what the updates changed, and possibly `.scheduleTick`.
    public mutating func onProbeAck(
        from: Contact,
        updates: [MemberUpdate],
        now: Timestamp,
        using rng: inout some RandomNumberGenerator
    ) -> [SWIMDirective] {
        var directives: [SWIMDirective] = []
        apply(updates, from: from.id, now: now, into: &directives, using: &rng)
        noteSender(from, now: now, into: &directives, using: &rng)
        markAcked(target: from.id)
        scheduleNextTick(into: &directives)
        return directives
    }

    /// A `.sendProbe` got no ack within its timeout, or could not be sent.
    ///
    /// If `target` is still this period's unanswered target, asks up to
    /// ``SWIMSettings/indirectProbeCount`` alive members to probe it, with a timeout that ends
    /// with the period. Otherwise (stale timeout) does nothing.
    /// - Parameters:
    ///   - target: the member that did not answer.
    ///   - now: the current time.
    ///   - rng: picks the helpers.
    /// - Returns: one `.sendProbeRequest` per helper (none when no other member is alive).
    public mutating func onProbeTimeout(
        target: Contact,
        now: Timestamp,
        using rng: inout some RandomNumberGenerator
    ) -> [SWIMDirective] {
        var directives: [SWIMDirective] = []
        if var current = round, current.target.id == target.id, !current.acked, current.helpers.isEmpty,
            now < current.endsAt
        {
            let helpers = pickHelpers(excluding: target.id, using: &rng)
            current.helpers = Set(helpers.map(\.id))
            round = current
            for helper in helpers {
                directives.append(.sendProbeRequest(
                    to: helper,
                    target: current.target,
                    updates: outgoingUpdates(for: helper.id, using: &rng),
                    timeout: current.endsAt - now))
            }
        }
        scheduleNextTick(into: &directives)
        return directives
    }

    /// A helper answered a `.sendProbeRequest` with an ack: the target answered it.
    /// - Parameters:
    ///   - from: the helper.
    ///   - target: the member the helper probed.
    ///   - updates: the ack's piggybacked updates.
    ///   - now: the current time.
    ///   - rng: randomness for inserting newly learned members.
    /// - Returns: `.memberChanged` for what the updates changed, and possibly `.scheduleTick`.
    public mutating func onProbeRequestAck(
        from: Contact,
        target: Contact,
        updates: [MemberUpdate],
        now: Timestamp,
        using rng: inout some RandomNumberGenerator
    ) -> [SWIMDirective] {
        var directives: [SWIMDirective] = []
        apply(updates, from: from.id, now: now, into: &directives, using: &rng)
        noteHelperAnswer(from.id, target: target.id)
        markAcked(target: target.id)
        scheduleNextTick(into: &directives)
        return directives
    }

    /// A helper answered a `.sendProbeRequest` with a nack: the target did not answer it, but
    /// the helper itself is reachable (Lifeguard: this node's own health is fine).
    /// - Parameters:
    ///   - from: the helper.
    ///   - target: the member the helper probed.
    ///   - updates: the nack's piggybacked updates.
    ///   - now: the current time.
    ///   - rng: randomness for inserting newly learned members.
    /// - Returns: `.memberChanged` for what the updates changed, and possibly `.scheduleTick`.
    public mutating func onProbeRequestNack(
        from: Contact,
        target: Contact,
        updates: [MemberUpdate],
        now: Timestamp,
        using rng: inout some RandomNumberGenerator
    ) -> [SWIMDirective] {
        var directives: [SWIMDirective] = []
        apply(updates, from: from.id, now: now, into: &directives, using: &rng)
        noteHelperAnswer(from.id, target: target.id)
        scheduleNextTick(into: &directives)
        return directives
    }

    /// A `.sendProbeRequest` got neither ack nor nack within its timeout, or could not be sent.
    /// Counted as a missed nack when the period ends.
    /// - Parameters:
    ///   - helper: the member that was asked.
    ///   - target: the member it was asked to probe.
    ///   - now: the current time.
    ///   - rng: unused today; kept for a uniform call shape.
    /// - Returns: possibly `.scheduleTick`.
    public mutating func onProbeRequestTimeout(
        helper: Contact,
        target: Contact,
        now: Timestamp,
        using rng: inout some RandomNumberGenerator
    ) -> [SWIMDirective] {
        var directives: [SWIMDirective] = []
        scheduleNextTick(into: &directives)
        return directives
    }

    // MARK: Helpers

    private mutating func markAcked(target: NodeID) {
        guard var current = round, current.target.id == target, !current.acked else { return }
        current.acked = true
        round = current
        health.record(.successfulProbe)
    }

    private mutating func noteHelperAnswer(_ helper: NodeID, target: NodeID) {
        guard var current = round, current.target.id == target, current.helpers.contains(helper) else { return }
        current.answeredHelpers.insert(helper)
        round = current
    }

    /// Up to `indirectProbeCount` distinct alive members other than `excluded`, chosen at random.
    private func pickHelpers(excluding excluded: NodeID, using rng: inout some RandomNumberGenerator) -> [Contact] {
        let wanted = settings.indirectProbeCount
        guard wanted > 0 else { return [] }
        func eligible(_ id: NodeID) -> Bool { id != excluded && membersByID[id]?.status == .alive }
        var chosen: [NodeID] = []
        if probeOrder.count <= 4 * wanted + 8 {
            chosen = Array(probeOrder.ids.filter(eligible).shuffled(using: &rng).prefix(wanted))
        } else {
            var attempts = 0
            while chosen.count < wanted, attempts < 8 * wanted, let id = probeOrder.randomElement(using: &rng) {
                attempts += 1
                if eligible(id), !chosen.contains(id) { chosen.append(id) }
            }
        }
        return chosen.compactMap { membersByID[$0]?.contact }
    }
}
