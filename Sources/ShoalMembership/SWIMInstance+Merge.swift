import ShoalCore

/// Applying gossip: SWIM's precedence rules between alive, suspect, dead and left.
///
/// For a known member at incarnation `i`:
/// - `alive@j` wins if `j > i` (it is passed on only when it changes something here: it clears
///   a suspicion; a bare incarnation rise is absorbed);
/// - `suspect@j` wins if `j > i`, or `j == i` over `alive`; at `j == i` over `suspect` it is a
///   confirmation when its accuser is new (counted here, not passed on: each accuser spreads
///   its own accusation);
/// - `dead@j` and `left@j` win if `j >= i`, turning the member into a tombstone.
/// A tombstone at `i` yields only to `alive@j` or `suspect@j` with `j > i`.
///
/// Only verified, unpenalised senders are believed about others; anyone is believed about itself,
/// and heard about this node (so that this node can refute whatever anyone says of it). Claims of
/// peers this node does not know as members (new peers, returning dead ones, new addresses) wait
/// in the unverified set until verified.
extension SWIMInstance {
    /// Applies piggybacked updates received from `sender` (at most the wire limit are read).
    /// - Parameter proven: `true` when `sender` answered a request this node's shell dialled to
    ///   its address (an ack), so that its claims about itself need no verification.
    mutating func apply(
        _ updates: [MemberUpdate],
        from sender: Contact,
        proven: Bool,
        now: Timestamp,
        into directives: inout [SWIMDirective],
        using rng: inout some RandomNumberGenerator
    ) {
        guard !updates.isEmpty else { return }
        let senderID = sender.id
        let trusted =
            !senderID.hasSameWords(as: myself.id) && table.slot(of: senderID) != nil
            && !informers.isIgnored(senderID, now: now)
        // An incarnation beyond the maximum is never legitimate (see `MemberUpdate.maximumIncarnation`).
        for update in updates.prefix(SWIMSettings.wireUpdateLimit)
        where update.incarnation <= MemberUpdate.maximumIncarnation {
            let id = update.member.id
            let aboutSender = id.hasSameWords(as: senderID)
            if id.hasSameWords(as: myself.id) {
                applyAboutMyself(update, from: sender, trusted: trusted)
            } else if trusted || aboutSender {
                apply(update, from: sender, proven: proven && aboutSender, now: now, into: &directives)
            } else {
                counters.updatesIgnored += 1
            }
        }
    }

    private mutating func apply(
        _ update: MemberUpdate,
        from sender: Contact,
        proven: Bool,
        now: Timestamp,
        into directives: inout [SWIMDirective]
    ) {
        let id = update.member.id
        if let slot = table.slot(of: id) {
            applyToMember(at: slot, update, from: sender, now: now, into: &directives)
        } else if let tombstone = tombstonesByID[id] {
            guard update.incarnation > tombstone.incarnation else { return }
            switch update.status {
            case .alive, .suspect:
                // A member verified at this address before returns on its own or a member's word.
                if proven || update.member.address == tombstone.contact.address {
                    admitMember(
                        update, accuser: effectiveAccuser(of: update, sender: sender.id), now: now, into: &directives)
                } else {
                    claim(update, reason: .revival, informer: sender.id, now: now)
                }
            case .dead, .left:
                tombstonesByID[id]?.status = update.status
                tombstonesByID[id]?.incarnation = update.incarnation
            }
        } else {
            switch update.status {
            case .alive, .suspect:
                if proven {
                    admitMember(
                        update, accuser: effectiveAccuser(of: update, sender: sender.id), now: now, into: &directives)
                } else {
                    claim(update, reason: .newMember, informer: sender.id, now: now)
                }
            case .dead, .left:
                dropUnverified(id)
                if tombstonesByID.count < settings.maximumStrangerTombstones { addTombstone(update, now: now) }
            }
        }
    }

    private mutating func applyToMember(
        at slot: Int32,
        _ update: MemberUpdate,
        from sender: Contact,
        now: Timestamp,
        into directives: inout [SWIMDirective]
    ) {
        guard let member = table.member(at: slot) else { return }
        let old = member.update
        switch update.status {
        case .alive:
            guard update.incarnation > member.incarnation else { return }
            let refreshed = MemberUpdate(member: member.contact, status: .alive, incarnation: update.incarnation)
            table.upsert(member.contact, status: .alive, incarnation: update.incarnation)
            if old.status != .alive {
                gossip.enqueue(refreshed, priority: .refutation)
                directives.append(.memberChanged(old: old, new: refreshed))
            }
            if update.member.address != member.contact.address {
                claim(update, reason: .newAddress, informer: sender.id, now: now)
            }
        case .suspect:
            let accuser = effectiveAccuser(of: update, sender: sender.id)
            let limit = suspicionTimeout.expectedConfirmations
            if update.incarnation > member.incarnation
                || (update.incarnation == member.incarnation && member.status == .alive)
            {
                let suspicion = Suspicion(startedAt: now, accuser: accuser)
                table.upsert(member.contact, status: .suspect, incarnation: update.incarnation)
                table.setSuspicion(suspicion, at: slot)
                let suspected = MemberUpdate(
                    member: member.contact, status: .suspect, incarnation: update.incarnation, accuser: accuser)
                gossip.enqueue(suspected, priority: .suspicion)
                if old.status != .suspect { directives.append(.memberChanged(old: old, new: suspected)) }
            } else if update.incarnation == member.incarnation, member.status == .suspect,
                table.confirmSuspicion(at: slot, by: accuser, limit: limit),
                let suspicion = table.suspicions[slot], let due = deadline(of: suspicion, bounds: suspicionTimeout)
            {
                // A new, independent accuser shortens this node's own timer, if it runs one.
                noteSuspicionDeadline(due)
            }
        case .dead, .left:
            guard update.incarnation >= member.incarnation else { return }
            let final = MemberUpdate(member: member.contact, status: update.status, incarnation: update.incarnation)
            removeMember(at: slot, becoming: final, now: now)
            gossip.enqueue(final, priority: .final)
            directives.append(.memberChanged(old: old, new: final))
        }
    }

    /// Someone gossiped about this node: refute anything but the truth by raising the incarnation.
    ///
    /// The refutation is piggybacked with priority, spread at once to a few members, and sent
    /// directly to the accuser and to whoever brought the news: only accusers declare a suspect
    /// dead, so the refutation must reach them whatever the gossip backlog. A sender still
    /// holding an older accusation of this node is told this node's current state again, directly
    /// and first in the answer. Only a refutation prompted by a verified sender counts against
    /// local health (so a stranger cannot slow this node down by telling it lies about itself).
    private mutating func applyAboutMyself(_ update: MemberUpdate, from sender: Contact, trusted: Bool) {
        guard !isLeaving else { return }
        let accusation = update.status != .alive
        switch update.status {
        case .alive:
            if update.incarnation == incarnation { settleNotices(to: sender.id, kind: .refutation) }
            // Someone remembers a higher incarnation (from before a restart): move past it.
            guard update.incarnation > incarnation else { return }
            incarnation = min(update.incarnation, MemberUpdate.maximumIncarnation) + 1
        case .suspect, .dead, .left:
            guard update.incarnation >= incarnation else {
                // A stale accusation: its holders missed the refutation.
                staleViewers.append(sender.id)
                owe(.refutation, to: [effectiveAccuser(of: update, sender: sender.id), sender.id])
                return
            }
            incarnation = min(update.incarnation, MemberUpdate.maximumIncarnation) + 1
            if trusted { health.record(.refutedSuspicion) }
        }
        let refutation = MemberUpdate(member: myself, status: .alive, incarnation: incarnation)
        gossip.enqueue(refutation, priority: .refutation)
        guard accusation else { return }
        staleViewers.append(sender.id)
        owe(.refutation, to: [effectiveAccuser(of: update, sender: sender.id), sender.id])
        fanOut.offer(refutation, urgency: .refutation)
    }

    /// Records that `recipients` are owed a direct notice of `kind` (see ``DirectNotice``).
    mutating func owe(_ kind: DirectNotice.Kind, to recipients: [NodeID]) {
        for recipient in recipients where !recipient.hasSameWords(as: myself.id) {
            if let index = directNotices.firstIndex(where: {
                $0.kind == kind && $0.recipient.hasSameWords(as: recipient)
            }) {
                directNotices[index].attempts = 0
            } else if directNotices.count < DirectNotice.capacity {
                directNotices.append(DirectNotice(kind: kind, recipient: recipient))
            }
        }
    }

    /// `member` has what this node owed it.
    mutating func settleNotices(to member: NodeID, kind: DirectNotice.Kind? = nil) {
        guard !directNotices.isEmpty else { return }
        directNotices.removeAll { notice in
            notice.recipient.hasSameWords(as: member) && (kind.map { notice.kind == $0 } ?? true)
        }
    }

    /// The accuser to count for `update`: the one it names, or else (a version-1 peer, or a
    /// nonsensical accuser naming the suspect itself) the sender that relayed it.
    func effectiveAccuser(of update: MemberUpdate, sender: NodeID) -> NodeID {
        guard let accuser = update.accuser, !accuser.hasSameWords(as: update.member.id) else { return sender }
        return accuser
    }

    // MARK: Bookkeeping

    /// Makes `update`'s member a verified member in the state `update` gives, replacing its
    /// tombstone if any, and reports and gossips it.
    mutating func admitMember(
        _ update: MemberUpdate,
        accuser: NodeID?,
        now: Timestamp,
        into directives: inout [SWIMDirective]
    ) {
        let id = update.member.id
        let status: MemberStatus = update.status == .suspect ? .suspect : .alive
        let previous = tombstonesByID.removeValue(forKey: id)?.update
        dropUnverified(id)
        let slot = table.upsert(update.member, status: status, incarnation: update.incarnation)
        var admitted = MemberUpdate(member: update.member, status: status, incarnation: update.incarnation)
        if status == .suspect {
            let suspicion = Suspicion(startedAt: now, accuser: accuser ?? myself.id)
            table.setSuspicion(suspicion, at: slot)
            admitted.accuser = suspicion.originalAccuser
        }
        gossip.enqueue(admitted, priority: status == .suspect ? .suspicion : .membership)
        noteAdmitted(id, now: now)
        directives.append(.memberChanged(old: previous, new: admitted))
    }

    /// Turns the member in `slot` into a tombstone described by `final` (status `.dead` or `.left`).
    mutating func removeMember(at slot: Int32, becoming final: MemberUpdate, now: Timestamp) {
        table.remove(slot)
        if unverified[final.member.id]?.reason == .newAddress { dropUnverified(final.member.id) }
        addTombstone(final, now: now)
        noteSuspicionDeadlinesMayMove(now: now)
    }

    mutating func addTombstone(_ update: MemberUpdate, now: Timestamp) {
        let expiresAt = now + effectiveTombstoneLifetime
        tombstonesByID[update.member.id] = SWIMTombstone(
            contact: update.member, status: update.status, incarnation: update.incarnation, expiresAt: expiresAt)
        earliestTombstoneExpiry = min(earliestTombstoneExpiry ?? expiresAt, expiresAt)
    }

    /// Remembers that `id` became a member at `now`, for ``SWIMSettings/newMemberFillWindow``.
    private mutating func noteAdmitted(_ id: NodeID, now: Timestamp) {
        guard settings.newMemberFillWindow > .zero else { return }
        if recentlyAdmitted.updateValue(now, forKey: NodeKey(id)) == nil { recentlyAdmittedOrder.append(NodeKey(id)) }
        while let oldest = recentlyAdmittedOrder.first,
            recentlyAdmittedOrder.count > 1024
                || (recentlyAdmitted[oldest].map { now - $0 > settings.newMemberFillWindow } ?? true)
        {
            recentlyAdmittedOrder.removeFirst()
            recentlyAdmitted[oldest] = nil
        }
    }

    /// Whether `id` became a member less than ``SWIMSettings/newMemberFillWindow`` ago.
    func isNewMember(_ id: NodeID, now: Timestamp) -> Bool {
        guard !recentlyAdmitted.isEmpty, let admitted = recentlyAdmitted[NodeKey(id)] else { return false }
        return now - admitted < settings.newMemberFillWindow
    }

    /// A suspicion deadline at `deadline` exists: no check may come later.
    mutating func noteSuspicionDeadline(_ deadline: Timestamp) {
        suspicionCheckAt = min(suspicionCheckAt ?? deadline, deadline)
    }

    /// Deadlines may have come closer (the multiplier fell, `n` shrank): check at the next tick.
    mutating func noteSuspicionDeadlinesMayMove(now: Timestamp) {
        guard !table.accusedSlots.isEmpty else { return }
        suspicionCheckAt = min(suspicionCheckAt ?? now, now)
    }
}
