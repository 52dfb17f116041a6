import ShoalCore

/// Fan-out: urgent news sent at once to a few members, within a budget per protocol period.
///
/// Offered (by the code that makes the news): the suspicions this node raises (the suspect is
/// one of the recipients: it hears of its suspicion at once and can refute), the deaths of
/// members this node accused, this node's refutations of itself, and a member's refutation heard
/// from that member itself. Joins, relayed suspicions and relayed deaths are never fanned out: a
/// join storm or a suspicion storm rides on the probes and costs no extra messages.
extension SWIMInstance {
    /// Sends the waiting news to ``SWIMSettings/fanOutTargets`` members (buddies first), as far as
    /// this period's budget allows; what the budget does not cover waits for the next period.
    mutating func pumpFanOut(now: Timestamp, into directives: inout [SWIMDirective], using rng: inout some RandomNumberGenerator) {
        guard !isLeaving, settings.fanOutTargets > 0, fanOut.tokens > 0, !fanOut.isEmpty else { return }
        let items = fanOut.takeAll()
        let updates = Array(items.map(\.update).prefix(SWIMSettings.wireUpdateLimit))
        var targets: [Contact] = []
        for buddy in items.compactMap(\.buddy) {
            guard let member = table.member(buddy.id)?.contact else { continue }
            if !targets.contains(where: { $0.id.hasSameWords(as: member.id) }) { targets.append(member) }
        }
        let wanted = max(0, settings.fanOutTargets - targets.count)
        if wanted > 0 {
            let table = self.table
            let informers = self.informers
            let subjects = updates.map(\.member.id) + targets.map(\.id)
            let slots = table.randomSlots(wanted, using: &rng) { slot in
                guard table.state(slot).status == .alive else { return false }
                let id = table.contact(slot).id
                return !subjects.contains { $0.hasSameWords(as: id) }
                    && (informers.records.isEmpty || !informers.isDisconnected(id, now: now))
            }
            targets += slots.map(table.contact)
        }
        let sent = targets.prefix(fanOut.tokens)
        fanOut.spend(sent.count)
        counters.fanOutMessages += sent.count
        let timeout = health.scale(settings.probeTimeout)
        for target in sent {
            directives.append(.sendFanOut(to: target, updates: updates, timeout: timeout))
        }
    }

    /// The ack to a `.sendFanOut` or `.sendExchange` arrived.
    ///
    /// Its updates are applied like a probe's ack, and `from`, which the shell reached at its
    /// address, counts as verified (a tombstoned member needs a higher incarnation to return).
    /// - Parameters:
    ///   - from: the member that acked.
    ///   - updates: the ack's piggybacked updates.
    ///   - now: the current time.
    ///   - rng: randomness for the directives that follow.
    /// - Returns: `.memberChanged` for what the updates changed, then possibly `.sendFanOut`,
    ///   `.verifyMember` and `.scheduleTick`.
    public mutating func onGossipAck(
        from: Contact,
        updates: [MemberUpdate],
        now: Timestamp,
        using rng: inout some RandomNumberGenerator
    ) -> [SWIMDirective] {
        var directives: [SWIMDirective] = []
        noteProven(from, now: now, into: &directives)
        apply(updates, from: from, proven: true, now: now, into: &directives, using: &rng)
        finishCall(now: now, into: &directives, using: &rng)
        return directives
    }
}
