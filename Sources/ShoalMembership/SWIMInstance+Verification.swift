import ShoalCore

/// Members are verified before they count: claims of peers wait in the unverified set until the
/// shell has reached the peer at its listed address under its node ID.
extension SWIMInstance {
    /// The shell reached `contact` over TLS at `contact.address` and the certificate's key hashes
    /// to `contact.id`: because a `.verifyMember` succeeded, or on its own (a DHT request the
    /// shell sent to that address was answered).
    ///
    /// A waiting unverified peer becomes a member in the state it was claimed in; a peer never
    /// heard of becomes a member alive at incarnation 0; a member's new address replaces the old
    /// one. A peer remembered as dead stays dead (only a higher incarnation, from the peer itself,
    /// revives it).
    /// - Parameters:
    ///   - contact: the peer as reached.
    ///   - now: the current time.
    ///   - rng: randomness for the directives that follow.
    /// - Returns: `.memberChanged` for the admitted member, then possibly `.sendFanOut`,
    ///   `.verifyMember` and `.scheduleTick`.
    public mutating func onMemberVerified(
        _ contact: Contact,
        now: Timestamp,
        using rng: inout some RandomNumberGenerator
    ) -> [SWIMDirective] {
        var directives: [SWIMDirective] = []
        noteProven(contact, now: now, into: &directives)
        finishCall(now: now, into: &directives, using: &rng)
        return directives
    }

    /// A `.verifyMember` for `contact` failed: refused, another node ID, no answer within its
    /// timeout, or an error.
    ///
    /// The peer is tried once more through a verified member (a probe request); if that fails
    /// too, or no helper is available, it is dropped and each of its informers is held
    /// responsible (see ``SWIMSettings/informerFailuresBeforePenalty``). While this node is
    /// starved, failures are nobody's fault: the peer is dropped without penalty.
    /// - Parameters:
    ///   - contact: the peer as given in the `.verifyMember`.
    ///   - now: the current time.
    ///   - rng: picks the helper.
    /// - Returns: possibly one `.sendProbeRequest` (the second attempt) or `.disconnect`s, then
    ///   possibly `.verifyMember` and `.scheduleTick`.
    public mutating func onMemberVerificationFailed(
        _ contact: Contact,
        now: Timestamp,
        using rng: inout some RandomNumberGenerator
    ) -> [SWIMDirective] {
        var directives: [SWIMDirective] = []
        if var candidate = unverified[contact.id], candidate.attempt == .direct, candidate.contact == contact {
            if starvation.isStarved(at: now) {
                dropUnverified(contact.id)
            } else if let helper = verificationHelper(for: candidate, now: now, using: &rng) {
                candidate.attempt = .indirect(helper: helper.id)
                unverified[contact.id] = candidate
                counters.verificationsRequested += 1
                directives.append(
                    .sendProbeRequest(
                        to: helper, target: contact, updates: [ownState],
                        timeout: health.scale(settings.verificationTimeout)))
            } else {
                verificationFailed(candidate, now: now, into: &directives)
            }
        }
        finishCall(now: now, into: &directives, using: &rng)
        return directives
    }

    // MARK: Claims

    /// Records the claim `update` (a peer this node does not know as a member) heard from
    /// `informer`, unless a cap refuses it.
    mutating func claim(_ update: MemberUpdate, reason: UnverifiedMember.Reason, informer: NodeID?, now: Timestamp) {
        let introducedItself = informer.map { $0.hasSameWords(as: update.member.id) } ?? false
        let candidate = UnverifiedMember(
            contact: update.member,
            status: update.status == .suspect ? .suspect : .alive,
            incarnation: update.incarnation,
            accuser: update.status == .suspect ? effectiveAccuser(of: update, sender: informer ?? myself.id) : nil,
            informers: informer.map { [$0] } ?? [],
            reason: reason,
            introducedItself: introducedItself,
            learnedAt: now,
            expiresAt: now + settings.unverifiedLifetime,
            attempt: .waiting)
        switch unverified.admit(candidate) {
        case .added, .updated: break
        case .informerFull, .full: counters.claimsRefused += 1
        }
    }

    /// A request's sender that this node does not know introduces itself: its listen address is
    /// only claimed, so it waits for verification like any other claim.
    mutating func noteSender(_ sender: Contact, now: Timestamp) {
        let id = sender.id
        guard !id.hasSameWords(as: myself.id), table.slot(of: id) == nil, tombstonesByID[id] == nil,
            !informers.isIgnored(id, now: now)
        else { return }
        claim(MemberUpdate(member: sender, status: .alive, incarnation: 0), reason: .newMember, informer: id, now: now)
    }

    /// `contact` answered a request the shell dialled to its address: it is verified.
    mutating func noteProven(_ contact: Contact, now: Timestamp, into directives: inout [SWIMDirective]) {
        let id = contact.id
        guard !id.hasSameWords(as: myself.id) else { return }
        if let slot = table.slot(of: id), let member = table.member(at: slot) {
            if let candidate = unverified[id], candidate.reason == .newAddress, candidate.contact == contact {
                settleCandidate(id, succeeded: true)
                table.upsert(contact, status: member.status, incarnation: member.incarnation)
                if let moved = table.member(at: slot) {
                    gossip.enqueue(moved.update, priority: .membership)
                    directives.append(.memberChanged(old: member.update, new: moved.update))
                }
            }
            return
        }
        let candidate = unverified[id]
        if tombstonesByID[id] != nil {
            guard let candidate, candidate.reason == .revival, candidate.contact.address == contact.address else {
                return
            }
        }
        if candidate != nil { settleCandidate(id, succeeded: true) }
        var admitted = candidate?.update ?? MemberUpdate(member: contact, status: .alive, incarnation: 0)
        admitted.member = contact
        counters.verificationsSucceeded += 1
        admitMember(admitted, accuser: candidate?.accuser, now: now, into: &directives)
    }

    /// Removes the unverified peer `id`, if any, keeping the in-flight count right.
    mutating func dropUnverified(_ id: NodeID) {
        guard let removed = unverified.remove(id) else { return }
        if removed.attempt != .waiting { verificationsInFlight = max(0, verificationsInFlight - 1) }
    }

    // MARK: Outcomes

    /// The indirect attempt for `target` through `helper` ended: acked, or not.
    mutating func noteIndirectVerification(
        helper: NodeID,
        target: Contact,
        acked: Bool,
        now: Timestamp,
        into directives: inout [SWIMDirective]
    ) {
        guard let candidate = unverified[target.id], candidate.attempt == .indirect(helper: helper) else { return }
        if acked {
            noteProven(candidate.contact, now: now, into: &directives)
        } else {
            if starvation.isStarved(at: now) {
                dropUnverified(target.id)
            } else {
                verificationFailed(candidate, now: now, into: &directives)
            }
        }
    }

    /// Drops `candidate` for good and holds its informers responsible.
    private mutating func verificationFailed(
        _ candidate: UnverifiedMember,
        now: Timestamp,
        into directives: inout [SWIMDirective]
    ) {
        dropUnverified(candidate.contact.id)
        counters.verificationsFailed += 1
        for informer in candidate.informers {
            switch informers.recordFailure(of: informer, now: now, settings: settings) {
            case .none:
                continue
            case .penalised:
                counters.informersPenalised += 1
            case .disconnected(let until):
                counters.informersPenalised += 1
                counters.disconnectsRequested += 1
                directives.append(.disconnect(informer, until: until))
            }
            for dropped in unverified.removeAll(informedBy: informer) where dropped.attempt != .waiting {
                verificationsInFlight = max(0, verificationsInFlight - 1)
            }
        }
    }

    /// Removes a candidate that was verified and credits its informers.
    private mutating func settleCandidate(_ id: NodeID, succeeded: Bool) {
        guard let candidate = unverified[id] else { return }
        dropUnverified(id)
        if succeeded { for informer in candidate.informers { informers.recordSuccess(of: informer) } }
    }

    // MARK: Pumping

    /// Starts verifications while this period's budget and the in-flight limit allow.
    mutating func pumpVerifications(into directives: inout [SWIMDirective]) {
        guard !isLeaving, !unverified.isEmpty else { return }
        while verificationTokens > 0, verificationsInFlight < settings.maximumVerificationsInFlight,
            let candidate = unverified.nextToVerify()
        {
            verificationTokens -= 1
            verificationsInFlight += 1
            counters.verificationsRequested += 1
            directives.append(.verifyMember(candidate.contact, timeout: health.scale(settings.verificationTimeout)))
        }
    }

    /// Forgets the unverified peers whose time is up.
    mutating func expireUnverified(now: Timestamp) {
        for expired in unverified.expire(now: now) {
            counters.unverifiedExpired += 1
            if expired.attempt != .waiting { verificationsInFlight = max(0, verificationsInFlight - 1) }
        }
    }

    /// This node's own state, as it introduces itself.
    var ownState: MemberUpdate {
        MemberUpdate(member: myself, status: isLeaving ? .left : .alive, incarnation: incarnation)
    }

    /// A verified, alive member other than the peer's informers, to probe it on this node's behalf.
    private func verificationHelper(
        for candidate: UnverifiedMember, now: Timestamp, using rng: inout some RandomNumberGenerator
    ) -> Contact? {
        let table = self.table
        let informers = self.informers
        let slots = table.randomSlots(1, using: &rng) { slot in
            let contact = table.contact(slot)
            return table.state(slot).status == .alive
                && !contact.id.hasSameWords(as: candidate.contact.id)
                && !candidate.informers.contains { $0.hasSameWords(as: contact.id) }
                && !informers.isDisconnected(contact.id, now: now)
        }
        return slots.first.map(table.contact)
    }
}
