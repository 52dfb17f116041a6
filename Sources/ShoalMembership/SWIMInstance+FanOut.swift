import ShoalCore

/// Fan-out: urgent news sent at once, within a budget of messages per protocol period.
///
/// Direct notices go first (see ``DirectNotice``): each accusation this node makes, to the
/// suspect; each refutation of itself, to its accusers and to whoever relayed the accusation.
/// Then news is spread to ``SWIMSettings/fanOutTargets`` random members: the deaths this node
/// declares (as an accuser) and its refutations. Joins, relayed suspicions, relayed deaths and
/// relayed refutations are never fanned out: a join storm or a suspicion storm rides on the
/// probes and costs no extra messages.
extension SWIMInstance {
    /// Sends what this period's budget allows: due direct notices, then spread news.
    mutating func pumpFanOut(
        now: Timestamp, into directives: inout [SWIMDirective], using rng: inout some RandomNumberGenerator
    ) {
        guard !isLeaving else { return }
        pumpDirectNotices(now: now, into: &directives)
        guard settings.fanOutTargets > 0, fanOut.tokens > 0, !fanOut.isEmpty else { return }
        let timeout = health.scale(settings.probeTimeout)
        while fanOut.tokens > 0, let item = fanOut.popFirst() {
            let targets = randomFanOutTargets(for: item.update, now: now, using: &rng).prefix(fanOut.tokens)
            fanOut.spend(targets.count)
            counters.fanOutMessages += targets.count
            for target in targets {
                directives.append(.sendFanOut(to: target, updates: [item.update], timeout: timeout))
            }
        }
    }

    /// Sends each direct notice that is due (never sent, or last sent a period ago), and drops
    /// those sent ``DirectNotice/maximumAttempts`` times or no longer applying.
    private mutating func pumpDirectNotices(now: Timestamp, into directives: inout [SWIMDirective]) {
        guard !directNotices.isEmpty else { return }
        let period = health.scale(settings.probeInterval)
        let timeout = health.scale(settings.probeTimeout)
        var index = 0
        while index < directNotices.count {
            let notice = directNotices[index]
            guard let member = table.member(notice.recipient), let update = noticeUpdate(notice, to: member),
                notice.attempts < DirectNotice.maximumAttempts
            else {
                directNotices.remove(at: index)
                continue
            }
            index += 1
            guard fanOut.tokens > 0, notice.lastSentAt.map({ now - $0 >= period }) ?? true else { continue }
            directNotices[index - 1].attempts += 1
            directNotices[index - 1].lastSentAt = now
            fanOut.spend(1)
            counters.fanOutMessages += 1
            directives.append(.sendFanOut(to: member.contact, updates: [update], timeout: timeout))
        }
    }

    /// What `notice` tells `member`, or `nil` when it no longer applies (the member is no longer
    /// suspected by this node).
    private func noticeUpdate(_ notice: DirectNotice, to member: SWIMMember) -> MemberUpdate? {
        switch notice.kind {
        case .refutation:
            return ownState
        case .accusation:
            guard member.status == .suspect, member.suspicion?.accusedAt != nil else { return nil }
            return MemberUpdate(
                member: member.contact, status: .suspect, incarnation: member.incarnation, accuser: myself.id)
        }
    }

    /// While more deaths and membership news (joins, returns, new addresses) wait than one
    /// message holds, sends up to ``SWIMSettings/backlogGossipMessagesPerPeriod`` extra messages
    /// of pending updates to random members (once per period, at its start). A backlog of
    /// suspicions and refutations does not count: suspects and accusers are told directly.
    mutating func sendBacklogGossip(
        now: Timestamp, into directives: inout [SWIMDirective], using rng: inout some RandomNumberGenerator
    ) {
        let capacity = max(1, min(settings.maximumUpdatesPerMessage, SWIMSettings.wireUpdateLimit))
        guard settings.backlogGossipMessagesPerPeriod > 0, gossip.count > capacity, table.count > 0,
            gossip.count(atLeast: .membership) > capacity
        else { return }
        let table = self.table
        let informers = self.informers
        let slots = table.randomSlots(settings.backlogGossipMessagesPerPeriod, using: &rng) { slot in
            table.state(slot).status == .alive
                && (informers.records.isEmpty || !informers.isDisconnected(table.contact(slot).id, now: now))
        }
        let timeout = health.scale(settings.probeTimeout)
        for slot in slots {
            let recipient = table.contact(slot)
            counters.backlogGossipMessages += 1
            directives.append(
                .sendFanOut(
                    to: recipient, updates: outgoingUpdates(for: recipient.id, using: &rng), timeout: timeout))
        }
    }

    /// ``SWIMSettings/fanOutTargets`` random alive members other than the update's subject.
    private func randomFanOutTargets(
        for update: MemberUpdate, now: Timestamp, using rng: inout some RandomNumberGenerator
    ) -> [Contact] {
        let table = self.table
        let informers = self.informers
        let subject = update.member.id
        let slots = table.randomSlots(settings.fanOutTargets, using: &rng) { slot in
            guard table.state(slot).status == .alive else { return false }
            let id = table.contact(slot).id
            return !id.hasSameWords(as: subject)
                && (informers.records.isEmpty || !informers.isDisconnected(id, now: now))
        }
        return slots.map(table.contact)
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
        settleNotices(to: from.id)
        noteProven(from, now: now, into: &directives)
        apply(updates, from: from, proven: true, now: now, into: &directives, using: &rng)
        finishCall(now: now, into: &directives, using: &rng)
        return directives
    }
}
