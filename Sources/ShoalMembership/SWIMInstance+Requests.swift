import ShoalCore

/// Requests and notices that other nodes send to this one, and this node's own join and leave.
extension SWIMInstance {
    /// A probe arrived from `from`; it must be answered.
    ///
    /// When `from` was unknown to this node (typically a node joining through this one), the
    /// ack's spare room is filled with other members' state so that the newcomer learns the
    /// cluster without a separate state transfer.
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
        let isNewcomer = from.id != myself.id && membersByID[from.id] == nil && tombstonesByID[from.id] == nil
        apply(updates, from: from.id, now: now, into: &directives, using: &rng)
        noteSender(from, now: now, into: &directives, using: &rng)
        let reply = outgoingUpdates(for: from.id, fillWithMembers: isNewcomer, using: &rng)
        directives.append(.reply(to: from, message: .ack(updates: reply)))
        scheduleNextTick(into: &directives)
        return directives
    }

    /// A probe request arrived: `from` asks this node to probe `target` on its behalf.
    ///
    /// The request stays pending until this node answers it: immediately with an ack when
    /// `target` is this node, otherwise after the indirect probe through
    /// ``onIndirectProbeAck(from:origin:updates:now:using:)`` or
    /// ``onIndirectProbeTimeout(target:origin:now:using:)``.
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
        apply(updates, from: from.id, now: now, into: &directives, using: &rng)
        noteSender(from, now: now, into: &directives, using: &rng)
        if target.id == myself.id {
            directives.append(.reply(to: from, message: .ack(updates: outgoingUpdates(for: from.id, using: &rng))))
        } else {
            directives.append(.sendIndirectProbe(
                to: target,
                origin: from,
                updates: outgoingUpdates(for: target.id, using: &rng),
                timeout: settings.indirectProbeTimeout))
        }
        scheduleNextTick(into: &directives)
        return directives
    }

    /// The target of a `.sendIndirectProbe` acked.
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
        apply(updates, from: from.id, now: now, into: &directives, using: &rng)
        noteSender(from, now: now, into: &directives, using: &rng)
        directives.append(.reply(to: origin, message: .ack(updates: outgoingUpdates(for: origin.id, using: &rng))))
        scheduleNextTick(into: &directives)
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
        scheduleNextTick(into: &directives)
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
        apply(updates, from: from.id, now: now, into: &directives, using: &rng)
        scheduleNextTick(into: &directives)
        return directives
    }

    /// The shell learned of a peer outside SWIM (a bootstrap address, a DHT contact).
    ///
    /// An unknown peer is added as alive at incarnation 0 and probed in due course; it is not
    /// gossiped, since nothing vouches for it yet. Known or tombstoned peers are left alone.
    /// - Parameters:
    ///   - contact: the peer.
    ///   - now: the current time.
    ///   - rng: picks the peer's place in the probe order.
    /// - Returns: `.memberChanged(old: nil, …)` when the peer was new, and possibly `.scheduleTick`.
    public mutating func onMemberDiscovered(
        _ contact: Contact,
        now: Timestamp,
        using rng: inout some RandomNumberGenerator
    ) -> [SWIMDirective] {
        var directives: [SWIMDirective] = []
        if contact.id != myself.id, membersByID[contact.id] == nil, tombstonesByID[contact.id] == nil {
            let update = MemberUpdate(member: contact, status: .alive, incarnation: 0)
            addMember(update, reporter: contact.id, now: now, using: &rng)
            directives.append(.memberChanged(old: nil, new: update))
        }
        scheduleNextTick(into: &directives)
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
        gossip.enqueue(MemberUpdate(member: myself, status: .left, incarnation: incarnation))
        let recipients = probeOrder.ids.shuffled(using: &rng).prefix(max(0, settings.leaveFanout))
        var directives: [SWIMDirective] = []
        for id in recipients {
            guard let member = membersByID[id] else { continue }
            directives.append(.sendLeave(to: member.contact, updates: outgoingUpdates(for: id, using: &rng)))
        }
        return directives
    }
}
