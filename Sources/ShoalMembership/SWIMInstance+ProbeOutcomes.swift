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
        noteProven(from, now: now, into: &directives)
        apply(updates, from: from, proven: true, now: now, into: &directives, using: &rng)
        markAcked(target: from.id, now: now)
        finishCall(now: now, into: &directives, using: &rng)
        return directives
    }

    /// A `.sendProbe` got no ack within its timeout, or could not be sent.
    ///
    /// If `target` is still this period's unanswered target, asks up to
    /// ``SWIMSettings/indirectProbeCount`` alive members to probe it, with a timeout that ends
    /// with the period; each request carries the target's suspicion, if any, for the helper to
    /// pass on (buddy system). Otherwise (stale timeout) does nothing.
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
            let helpers = pickHelpers(excluding: target.id, now: now, using: &rng)
            current.helpers = Set(helpers.map(\.id))
            round = current
            for helper in helpers {
                directives.append(
                    .sendProbeRequest(
                        to: helper,
                        target: current.target,
                        updates: outgoingUpdates(for: helper.id, carryingSuspicionOf: target.id, using: &rng),
                        timeout: current.endsAt - now))
            }
        }
        finishCall(now: now, into: &directives, using: &rng)
        return directives
    }

    /// A helper answered a `.sendProbeRequest` with an ack: the target answered it. When the
    /// request was the second attempt to verify an unverified `target`, the target is verified.
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
        apply(updates, from: from, proven: true, now: now, into: &directives, using: &rng)
        noteIndirectVerification(helper: from.id, target: target, acked: true, now: now, into: &directives)
        noteHelperAnswer(from.id, target: target.id)
        markAcked(target: target.id, now: now)
        finishCall(now: now, into: &directives, using: &rng)
        return directives
    }

    /// A helper answered a `.sendProbeRequest` with a nack: the target did not answer it, but
    /// the helper itself is reachable (Lifeguard: this node's own health is fine). When the
    /// request was the second attempt to verify an unverified `target`, its verification failed.
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
        apply(updates, from: from, proven: true, now: now, into: &directives, using: &rng)
        noteIndirectVerification(helper: from.id, target: target, acked: false, now: now, into: &directives)
        noteHelperAnswer(from.id, target: target.id)
        finishCall(now: now, into: &directives, using: &rng)
        return directives
    }

    /// A `.sendProbeRequest` got neither ack nor nack within its timeout, or could not be sent.
    /// Counted as a missed nack when the period ends; a second attempt to verify `target` failed.
    /// - Parameters:
    ///   - helper: the member that was asked.
    ///   - target: the member it was asked to probe.
    ///   - now: the current time.
    ///   - rng: randomness for the directives that follow.
    /// - Returns: possibly `.disconnect`, `.verifyMember` and `.scheduleTick`.
    public mutating func onProbeRequestTimeout(
        helper: Contact,
        target: Contact,
        now: Timestamp,
        using rng: inout some RandomNumberGenerator
    ) -> [SWIMDirective] {
        var directives: [SWIMDirective] = []
        noteIndirectVerification(helper: helper.id, target: target, acked: false, now: now, into: &directives)
        finishCall(now: now, into: &directives, using: &rng)
        return directives
    }

    // MARK: Helpers

    private mutating func markAcked(target: NodeID, now: Timestamp) {
        guard var current = round, current.target.id == target, !current.acked else { return }
        current.acked = true
        round = current
        let before = health.multiplier
        health.record(.successfulProbe)
        if health.multiplier < before { noteSuspicionDeadlinesMayMove(now: now) }
    }

    private mutating func noteHelperAnswer(_ helper: NodeID, target: NodeID) {
        guard var current = round, current.target.id == target, current.helpers.contains(helper) else { return }
        current.answeredHelpers.insert(helper)
        round = current
    }

    /// Up to `indirectProbeCount` distinct alive members other than `excluded`, chosen at random.
    private func pickHelpers(
        excluding excluded: NodeID, now: Timestamp, using rng: inout some RandomNumberGenerator
    ) -> [Contact] {
        let table = self.table
        let informers = self.informers
        let slots = table.randomSlots(settings.indirectProbeCount, using: &rng) { slot in
            guard table.state(slot).status == .alive else { return false }
            let id = table.contact(slot).id
            return !id.hasSameWords(as: excluded)
                && (informers.records.isEmpty || !informers.isDisconnected(id, now: now))
        }
        return slots.map(table.contact)
    }
}
