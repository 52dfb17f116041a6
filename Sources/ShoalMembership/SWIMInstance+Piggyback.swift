import ShoalCore

extension SWIMInstance {
    /// The updates to piggyback on one message to `recipient`.
    ///
    /// In order: this node's `left` state while leaving, or its current state when the recipient
    /// holds a stale view of it (it just sent an accusation this node has refuted); what the
    /// recipient most needs to hear
    /// about itself (that it is suspected, or remembered as dead or departed, so that it can
    /// refute); the suspicion of `subject` when the message asks the recipient to probe it (the
    /// buddy system through helpers); the least-transmitted pending updates; then, in spare room,
    /// a few random verified members' current state (anti-entropy):
    /// ``SWIMSettings/antiEntropyUpdatesPerMessage`` of them, or as many as fit when
    /// `fillWithMembers` is set (for a node that has just made contact and knows little).
    mutating func outgoingUpdates(
        for recipient: NodeID?,
        carryingSuspicionOf subject: NodeID? = nil,
        fillWithMembers: Bool = false,
        using rng: inout some RandomNumberGenerator
    ) -> [MemberUpdate] {
        let capacity = max(0, min(settings.maximumUpdatesPerMessage, SWIMSettings.wireUpdateLimit))
        guard capacity > 0 else { return [] }
        var out: [MemberUpdate] = []
        var included: [NodeID] = []
        out.reserveCapacity(capacity)
        func add(_ update: MemberUpdate) {
            guard out.count < capacity else { return }
            for id in included where id.hasSameWords(as: update.member.id) { return }
            out.append(update)
            included.append(update.member.id)
        }
        if isLeaving || (recipient.map { r in staleViewers.contains { $0.hasSameWords(as: r) } } ?? false) {
            add(ownState)
        }
        if let recipient {
            if let slot = table.slot(of: recipient) {
                if table.state(slot).status == .suspect, let member = table.member(at: slot) { add(member.update) }
            } else if !tombstonesByID.isEmpty, let tombstone = tombstonesByID[recipient] {
                add(tombstone.update)
            }
        }
        if let subject, let member = table.member(subject), member.status == .suspect { add(member.update) }
        for update in gossip.take(maximum: capacity - out.count, limit: transmissionLimit, excluding: included) {
            add(update)
        }
        let room = capacity - out.count
        let spare = fillWithMembers ? room : min(settings.antiEntropyUpdatesPerMessage, room)
        if spare > 0, table.count > 0 {
            let wanted = out.count + spare
            if table.slotCount <= 4 * spare + 16 {
                for slot in table.presentSlots.shuffled(using: &rng) where out.count < wanted {
                    add(table.update(at: slot))
                }
            } else {
                // Random draws; one that repeats an included member is simply skipped.
                let slots = Int32(table.slotCount)
                for _ in 0..<(2 * spare) where out.count < wanted {
                    let slot = Int32.random(in: 0..<slots, using: &rng)
                    if table.isPresent(slot) { add(table.update(at: slot)) }
                }
            }
        }
        return out
    }

    /// `updates` with the strongest claim about `subject` among `carried` put first, unless
    /// `updates` already says something at least as strong about it: the suspicion a probe
    /// request carried, passed on by the helper to the suspect (buddy system), even when the
    /// helper did not believe it.
    func passingOn(
        suspicionOf subject: NodeID, from carried: [MemberUpdate], in updates: [MemberUpdate]
    ) -> [MemberUpdate] {
        let claims = carried.prefix(SWIMSettings.wireUpdateLimit).filter {
            $0.member.id.hasSameWords(as: subject) && $0.status == .suspect
                && $0.incarnation <= MemberUpdate.maximumIncarnation
        }
        guard let strongest = claims.max(by: { $0.incarnation < $1.incarnation }) else { return updates }
        if let own = updates.first(where: { $0.member.id.hasSameWords(as: subject) }),
            own.incarnation > strongest.incarnation
                || (own.incarnation == strongest.incarnation && own.status >= .suspect)
        {
            return updates
        }
        let rest = updates.filter { !$0.member.id.hasSameWords(as: subject) }
        return [strongest] + rest.prefix(SWIMSettings.wireUpdateLimit - 1)
    }
}
