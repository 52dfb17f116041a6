import ShoalCore

/// Applying gossip: SWIM's precedence rules between alive, suspect, dead and left.
///
/// For a known member at incarnation `i`:
/// - `alive@j` wins if `j > i`;
/// - `suspect@j` wins if `j > i`, or `j == i` over `alive`; at `j == i` over `suspect` it is a
///   confirmation;
/// - `dead@j` and `left@j` win if `j >= i`, turning the member into a tombstone.
/// A tombstone at `i` yields only to `alive@j` or `suspect@j` with `j > i`.
extension SWIMInstance {
    /// Applies piggybacked updates received from `sender` (at most the wire limit are read).
    mutating func apply(
        _ updates: [MemberUpdate],
        from sender: NodeID,
        now: Timestamp,
        into directives: inout [SWIMDirective],
        using rng: inout some RandomNumberGenerator
    ) {
        // An incarnation beyond the maximum is never legitimate (see `MemberUpdate.maximumIncarnation`).
        for update in updates.prefix(SWIMSettings.wireUpdateLimit) where update.incarnation <= MemberUpdate.maximumIncarnation {
            apply(update, from: sender, now: now, into: &directives, using: &rng)
        }
    }

    /// Records a message's sender as an alive member when it is entirely unknown.
    mutating func noteSender(
        _ sender: Contact,
        now: Timestamp,
        into directives: inout [SWIMDirective],
        using rng: inout some RandomNumberGenerator
    ) {
        let id = sender.id
        guard id != myself.id, membersByID[id] == nil, tombstonesByID[id] == nil else { return }
        let update = MemberUpdate(member: sender, status: .alive, incarnation: 0)
        addMember(update, reporter: id, now: now, using: &rng)
        gossip.enqueue(update)
        directives.append(.memberChanged(old: nil, new: update))
    }

    private mutating func apply(
        _ update: MemberUpdate,
        from sender: NodeID,
        now: Timestamp,
        into directives: inout [SWIMDirective],
        using rng: inout some RandomNumberGenerator
    ) {
        let id = update.member.id
        if id == myself.id {
            applyAboutMyself(update)
        } else if let member = membersByID[id] {
            applyToMember(member, update, from: sender, now: now, into: &directives)
        } else if let tombstone = tombstonesByID[id] {
            guard update.incarnation > tombstone.incarnation else { return }
            switch update.status {
            case .alive, .suspect:
                tombstonesByID[id] = nil
                addMember(update, reporter: sender, now: now, using: &rng)
                gossip.enqueue(update)
                directives.append(.memberChanged(old: tombstone.update, new: update))
            case .dead, .left:
                tombstonesByID[id]?.status = update.status
                tombstonesByID[id]?.incarnation = update.incarnation
            }
        } else {
            switch update.status {
            case .alive, .suspect:
                addMember(update, reporter: sender, now: now, using: &rng)
                gossip.enqueue(update)
                directives.append(.memberChanged(old: nil, new: update))
            case .dead, .left:
                addTombstone(update, now: now)
            }
        }
    }

    private mutating func applyToMember(
        _ member: SWIMMember,
        _ update: MemberUpdate,
        from sender: NodeID,
        now: Timestamp,
        into directives: inout [SWIMDirective]
    ) {
        let id = member.id
        let old = member.update
        switch update.status {
        case .alive:
            guard update.incarnation > member.incarnation else { return }
            membersByID[id] = SWIMMember(contact: update.member, status: .alive, incarnation: update.incarnation)
            suspects.remove(id)
            gossip.enqueue(update)
            if old.status != .alive || old.member != update.member {
                directives.append(.memberChanged(old: old, new: update))
            }
        case .suspect:
            if update.incarnation > member.incarnation
                || (update.incarnation == member.incarnation && member.status == .alive)
            {
                let suspicion = Suspicion(startedAt: now, reporter: sender)
                membersByID[id] = SWIMMember(
                    contact: update.member, status: .suspect, incarnation: update.incarnation, suspicion: suspicion)
                suspects.insert(id)
                gossip.enqueue(update)
                if old.status != .suspect || old.member != update.member {
                    directives.append(.memberChanged(old: old, new: update))
                }
            } else if update.incarnation == member.incarnation, member.status == .suspect {
                let limit = suspicionTimeout.expectedConfirmations
                membersByID[id]?.suspicion?.confirm(by: sender, limit: limit)
            }
        case .dead, .left:
            guard update.incarnation >= member.incarnation else { return }
            let final = MemberUpdate(member: member.contact, status: update.status, incarnation: update.incarnation)
            removeMember(id, becoming: final, now: now)
            gossip.enqueue(final)
            directives.append(.memberChanged(old: old, new: final))
        }
    }

    /// Someone gossiped about this node: refute anything but the truth by raising the incarnation.
    private mutating func applyAboutMyself(_ update: MemberUpdate) {
        guard !isLeaving else { return }
        switch update.status {
        case .alive:
            // Someone remembers a higher incarnation (from before a restart): move past it.
            guard update.incarnation > incarnation else { return }
            incarnation = min(update.incarnation, MemberUpdate.maximumIncarnation) + 1
        case .suspect, .dead, .left:
            guard update.incarnation >= incarnation else { return }
            incarnation = min(update.incarnation, MemberUpdate.maximumIncarnation) + 1
            health.record(.refutedSuspicion)
        }
        gossip.enqueue(MemberUpdate(member: myself, status: .alive, incarnation: incarnation))
    }

    // MARK: Bookkeeping

    mutating func addMember(
        _ update: MemberUpdate,
        reporter: NodeID,
        now: Timestamp,
        using rng: inout some RandomNumberGenerator
    ) {
        let id = update.member.id
        var member = SWIMMember(contact: update.member, status: update.status, incarnation: update.incarnation)
        if update.status == .suspect {
            member.suspicion = Suspicion(startedAt: now, reporter: reporter)
            suspects.insert(id)
        }
        membersByID[id] = member
        probeOrder.insert(id, using: &rng)
    }

    /// Turns member `id` into a tombstone described by `final` (status `.dead` or `.left`).
    mutating func removeMember(_ id: NodeID, becoming final: MemberUpdate, now: Timestamp) {
        membersByID[id] = nil
        suspects.remove(id)
        probeOrder.remove(id)
        addTombstone(final, now: now)
    }

    mutating func addTombstone(_ update: MemberUpdate, now: Timestamp) {
        let expiresAt = now + effectiveTombstoneLifetime
        tombstonesByID[update.member.id] = SWIMTombstone(
            contact: update.member, status: update.status, incarnation: update.incarnation, expiresAt: expiresAt)
        earliestTombstoneExpiry = min(earliestTombstoneExpiry ?? expiresAt, expiresAt)
    }
}
