import ShoalCore

/// Requests and notices that other nodes send to this one, and this node's own join and leave.
extension SWIMInstance {
    /// A probe arrived from `from`; it must be answered.
    ///
    /// When `from` was unknown to this node (typically a node joining through this one), the
    /// ack's spare room is filled with other members' state so that the newcomer learns the
    /// cluster without a separate state transfer; so it is for a member verified less than
    /// ``SWIMSettings/newMemberFillWindow`` ago. The newcomer itself waits for verification
    /// (its listen address is only claimed) and is reported with `.memberChanged` once verified.
    /// - Parameters:
    ///   - from: the prober.
    ///   - updates: the probe's piggybacked updates.
    ///   - now: the current time.
    ///   - rng: randomness for inserting newly learned members.
    /// - Returns: `.memberChanged` for what the updates changed, then exactly one
    ///   `.reply(to: from, message: .ack(…))` to send as the response, and possibly `.scheduleTick`.
    public mutating func onProbe(
        from: Contact,
        updates: [MemberUpdate],
        now: Timestamp,
        using rng: inout some RandomNumberGenerator
    ) -> [SWIMDirective] {
        var directives: [SWIMDirective] = []
        let isNewcomer =
            from.id != myself.id
            && ((table.slot(of: from.id) == nil && tombstonesByID[from.id] == nil) || isNewMember(from.id, now: now))
        apply(updates, from: from, proven: false, now: now, into: &directives, using: &rng)
        noteSender(from, now: now)
        let reply = outgoingUpdates(for: from.id, fillWithMembers: isNewcomer, using: &rng)
        directives.append(.reply(to: from, message: .ack(updates: reply)))
        finishCall(now: now, into: &directives, using: &rng)
        return directives
    }

    /// A probe request arrived: `from` asks this node to probe `target` on its behalf.
    ///
    /// The request stays pending until this node answers it: immediately with an ack when
    /// `target` is this node, immediately with a nack when neither `from` nor `target` is a
    /// verified member here (this node does not dial strangers for strangers), otherwise after
    /// the indirect probe through ``onIndirectProbeAck(from:origin:updates:now:using:)`` or
    /// ``onIndirectProbeTimeout(target:origin:now:using:)``. The indirect probe goes to the
    /// address the requester gave, even when this node knows the target elsewhere (an ack
    /// proves that address, which may be a claim being verified), and carries the target's suspicion,
    /// from this node's view or from the request, so that a suspect hears of it (buddy system).
    /// - Parameters:
    ///   - from: the requester.
    ///   - target: the member to probe.
    ///   - updates: the request's piggybacked updates.
    ///   - now: the current time.
    ///   - rng: randomness for inserting newly learned members.
    /// - Returns: `.memberChanged` for what the updates changed, then either one
    ///   `.sendIndirectProbe(to: target, origin: from, …)` or one `.reply(to: from, …)`.
    public mutating func onProbeRequest(
        from: Contact,
        target: Contact,
        updates: [MemberUpdate],
        now: Timestamp,
        using rng: inout some RandomNumberGenerator
    ) -> [SWIMDirective] {
        var directives: [SWIMDirective] = []
        apply(updates, from: from, proven: false, now: now, into: &directives, using: &rng)
        noteSender(from, now: now)
        let requesterIsMember = table.slot(of: from.id) != nil && !informers.isIgnored(from.id, now: now)
        if target.id == myself.id {
            directives.append(.reply(to: from, message: .ack(updates: outgoingUpdates(for: from.id, using: &rng))))
        } else if table.slot(of: target.id) != nil || requesterIsMember {
            // The target is probed at the address the requester asked about, never at one this
            // node knows it by: an ack must prove that address (it may be a claim being verified).
            let own = outgoingUpdates(for: target.id, using: &rng)
            directives.append(
                .sendIndirectProbe(
                    to: target,
                    origin: from,
                    updates: passingOn(suspicionOf: target.id, from: updates, in: own),
                    timeout: settings.indirectProbeTimeout))
        } else {
            directives.append(.reply(to: from, message: .nack(updates: outgoingUpdates(for: from.id, using: &rng))))
        }
        finishCall(now: now, into: &directives, using: &rng)
        return directives
    }

    /// The target of a `.sendIndirectProbe` acked (which also verifies it: the shell dialled it).
    /// - Parameters:
    ///   - from: the probed target.
    ///   - origin: the requester waiting for the answer.
    ///   - updates: the target's piggybacked updates.
    ///   - now: the current time.
    ///   - rng: randomness for inserting newly learned members.
    /// - Returns: `.memberChanged` for what the updates changed, then exactly one
    ///   `.reply(to: origin, message: .ack(…))` to send as the response to the pending request.
    public mutating func onIndirectProbeAck(
        from: Contact,
        origin: Contact,
        updates: [MemberUpdate],
        now: Timestamp,
        using rng: inout some RandomNumberGenerator
    ) -> [SWIMDirective] {
        var directives: [SWIMDirective] = []
        noteProven(from, now: now, into: &directives)
        apply(updates, from: from, proven: true, now: now, into: &directives, using: &rng)
        directives.append(.reply(to: origin, message: .ack(updates: outgoingUpdates(for: origin.id, using: &rng))))
        finishCall(now: now, into: &directives, using: &rng)
        return directives
    }

    /// The target of a `.sendIndirectProbe` did not ack within its timeout (or could not be reached).
    /// - Parameters:
    ///   - target: the probed target.
    ///   - origin: the requester waiting for the answer.
    ///   - now: the current time.
    ///   - rng: randomness for the piggybacked updates.
    /// - Returns: exactly one `.reply(to: origin, message: .nack(…))`, and possibly `.scheduleTick`.
    public mutating func onIndirectProbeTimeout(
        target: Contact,
        origin: Contact,
        now: Timestamp,
        using rng: inout some RandomNumberGenerator
    ) -> [SWIMDirective] {
        var directives: [SWIMDirective] = []
        directives.append(.reply(to: origin, message: .nack(updates: outgoingUpdates(for: origin.id, using: &rng))))
        finishCall(now: now, into: &directives, using: &rng)
        return directives
    }

    /// A leave notice arrived from `from`. Its updates carry the sender's `left` state, which
    /// removes it at once, without suspicion.
    /// - Parameters:
    ///   - from: the leaving node.
    ///   - updates: the notice's piggybacked updates.
    ///   - now: the current time.
    ///   - rng: randomness for inserting newly learned members.
    /// - Returns: `.memberChanged` for what the updates changed, and possibly `.scheduleTick`.
    public mutating func onLeave(
        from: Contact,
        updates: [MemberUpdate],
        now: Timestamp,
        using rng: inout some RandomNumberGenerator
    ) -> [SWIMDirective] {
        var directives: [SWIMDirective] = []
        apply(updates, from: from, proven: false, now: now, into: &directives, using: &rng)
        finishCall(now: now, into: &directives, using: &rng)
        return directives
    }

    /// The shell heard of a peer outside SWIM whose address it has not reached itself (the
    /// listen address in an inbound connection's Hello, a configured address).
    ///
    /// An unknown peer waits for verification like a gossiped one (no informer is held
    /// responsible if it fails); it becomes a member, reported with `.memberChanged`, once
    /// verified. Known, waiting or tombstoned peers are left alone. A peer the shell *has*
    /// reached at its address (a DHT contact that answered) is reported with
    /// ``onMemberVerified(_:updates:now:using:)`` instead.
    /// - Parameters:
    ///   - contact: the peer.
    ///   - now: the current time.
    ///   - rng: randomness for the directives that follow.
    /// - Returns: possibly `.verifyMember` and `.scheduleTick`.
    public mutating func onMemberDiscovered(
        _ contact: Contact,
        now: Timestamp,
        using rng: inout some RandomNumberGenerator
    ) -> [SWIMDirective] {
        var directives: [SWIMDirective] = []
        if contact.id != myself.id, table.slot(of: contact.id) == nil, tombstonesByID[contact.id] == nil,
            unverified[contact.id] == nil
        {
            claim(
                MemberUpdate(member: contact, status: .alive, incarnation: 0), reason: .newMember, informer: nil,
                now: now)
        }
        finishCall(now: now, into: &directives, using: &rng)
        return directives
    }

    /// Leaves the cluster gracefully: this node's state becomes `left`, which is sent at once to
    /// up to ``SWIMSettings/leaveFanout`` members and piggybacked on every later answer. The
    /// node stops probing and stops refuting; keep answering requests until shutdown so the
    /// notice spreads. Calling it again does nothing.
    /// - Parameters:
    ///   - now: the current time.
    ///   - rng: picks the members told directly.
    /// - Returns: one `.sendLeave` per member told.
    public mutating func leave(now: Timestamp, using rng: inout some RandomNumberGenerator) -> [SWIMDirective] {
        guard !isLeaving else { return [] }
        isLeaving = true
        round = nil
        nextPeriodAt = nil
        scheduledTick = nil
        gossip.enqueue(MemberUpdate(member: myself, status: .left, incarnation: incarnation), priority: .final)
        let recipients = table.randomSlots(max(0, settings.leaveFanout), using: &rng) { _ in true }.map(table.contact)
        var directives: [SWIMDirective] = []
        for contact in recipients {
            directives.append(.sendLeave(to: contact, updates: outgoingUpdates(for: contact.id, using: &rng)))
        }
        return directives
    }
}
