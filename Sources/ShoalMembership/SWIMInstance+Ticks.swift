import ShoalCore

extension SWIMInstance {
    /// Advances time: ends the protocol period that is over (suspecting its target if nothing
    /// acked it), starts the next one with a probe, declares dead the suspects whose suspicion
    /// timed out and forgets expired tombstones and unverified peers.
    ///
    /// A tick later than ``SWIMSettings/starvationThreshold`` after the scheduled one means this
    /// node was starved: a period starting then raises the local health multiplier, and until a
    /// full period has passed without another late tick no one is suspected or declared dead
    /// (see ``SWIMCounters/suppressedAccusations``).
    ///
    /// Call once to start the instance, then at each `.scheduleTick(at:)`. Calling early is
    /// harmless (nothing is due yet); calling late runs what is overdue.
    /// - Parameters:
    ///   - now: the current time.
    ///   - rng: picks probe order and helpers.
    /// - Returns: a `.sendProbe` when a period starts, `.memberChanged` for new suspects and
    ///   deaths, possibly `.sendFanOut` and `.verifyMember`, and the next `.scheduleTick`.
    public mutating func onTick(now: Timestamp, using rng: inout some RandomNumberGenerator) -> [SWIMDirective] {
        var directives: [SWIMDirective] = []
        let late = starvation.noteTick(
            due: scheduledTick, now: now, threshold: settings.starvationThreshold,
            period: health.scale(settings.probeInterval))
        if late { counters.lateTicks += 1 }
        if !starvation.isStarved(at: now) { postponedDeaths.removeAll() }
        scheduledTick = nil
        if !isLeaving, nextPeriodAt.map({ now >= $0 }) ?? true {
            if late { health.record(.lateTick) }
            finishRound(now: now, into: &directives)
            startRound(now: now, into: &directives, using: &rng)
        }
        expireSuspicions(now: now, into: &directives)
        expireTombstones(now: now)
        expireUnverified(now: now)
        finishCall(now: now, into: &directives, using: &rng)
        return directives
    }

    private mutating func finishRound(now: Timestamp, into directives: inout [SWIMDirective]) {
        guard let finished = round else { return }
        round = nil
        guard !finished.acked else { return }
        if finished.helpers.isEmpty {
            health.record(.failedProbe)
        } else {
            for _ in finished.answeredHelpers.count..<finished.helpers.count { health.record(.missedNack) }
        }
        guard let slot = table.slot(of: finished.target.id), let member = table.member(at: slot) else { return }
        guard !starvation.isStarved(at: now) else {
            counters.suppressedSuspicions += 1
            return
        }
        let accusation = MemberUpdate(
            member: member.contact, status: .suspect, incarnation: member.incarnation, accuser: myself.id)
        switch member.status {
        case .alive:
            let suspicion = Suspicion(startedAt: now, accuser: myself.id, accusedAt: now)
            table.upsert(member.contact, status: .suspect, incarnation: member.incarnation)
            table.setSuspicion(suspicion, at: slot)
            gossip.enqueue(accusation, priority: .suspicion)
            directives.append(.memberChanged(old: member.update, new: accusation))
        case .suspect:
            // An independent accusation of a member someone else suspects already: this node now
            // runs a timer of its own, and others may count it as a confirmation.
            guard table.markAccused(at: slot, now: now) else { return }
            if table.confirmSuspicion(at: slot, by: myself.id, limit: suspicionTimeout.expectedConfirmations) {
                gossip.enqueue(accusation, priority: .suspicion)
            }
        case .dead, .left:
            return
        }
        if let suspicion = table.suspicions[slot], let due = deadline(of: suspicion, bounds: suspicionTimeout) {
            noteSuspicionDeadline(due)
        }
        // The buddy system: the suspect hears at once who accuses it, so it can refute to them.
        owe(.accusation, to: [member.id])
    }

    private mutating func startRound(
        now: Timestamp,
        into directives: inout [SWIMDirective],
        using rng: inout some RandomNumberGenerator
    ) {
        let period = health.scale(settings.probeInterval)
        nextPeriodAt = now + period
        fanOut.refill(to: settings.fanOutMessagesPerPeriod)
        verificationTokens = max(0, settings.verificationsPerPeriod)
        guard table.count > 0 else { return }
        let table = self.table
        let informers = self.informers
        let next = probeOrder.next(slotCount: table.slotCount, using: &rng) { slot in
            table.isPresent(slot)
                && (informers.records.isEmpty || !informers.isDisconnected(table.contact(slot).id, now: now))
        }
        sendBacklogGossip(now: now, into: &directives, using: &rng)
        guard let slot = next, let target = table.member(at: slot) else { return }
        round = ProbeRound(target: target.contact, endsAt: now + period)
        directives.append(
            .sendProbe(
                to: target.contact,
                updates: outgoingUpdates(for: target.id, using: &rng),
                timeout: health.scale(settings.probeTimeout)))
    }

    private mutating func expireSuspicions(now: Timestamp, into directives: inout [SWIMDirective]) {
        guard let check = suspicionCheckAt, now >= check else { return }
        let bounds = suspicionTimeout
        let starved = starvation.isStarved(at: now)
        var next: Timestamp?
        var expired: [Int32] = []
        for slot in table.accusedSlots {
            guard let suspicion = table.suspicions[slot], let due = deadline(of: suspicion, bounds: bounds) else {
                continue
            }
            if now < due {
                next = min(next ?? due, due)
            } else if starved {
                if postponedDeaths.insert(slot).inserted { counters.postponedDeaths += 1 }
                if let until = starvation.starvedUntil { next = min(next ?? until, until) }
            } else {
                expired.append(slot)
            }
        }
        suspicionCheckAt = next
        for slot in expired.sorted() {
            guard let member = table.member(at: slot) else { continue }
            let dead = MemberUpdate(member: member.contact, status: .dead, incarnation: member.incarnation)
            removeMember(at: slot, becoming: dead, now: now)
            gossip.enqueue(dead, priority: .final)
            fanOut.offer(dead, urgency: .death)
            directives.append(.memberChanged(old: member.update, new: dead))
        }
    }

    private mutating func expireTombstones(now: Timestamp) {
        guard let earliest = earliestTombstoneExpiry, now >= earliest else { return }
        tombstonesByID = tombstonesByID.filter { $0.value.expiresAt > now }
        earliestTombstoneExpiry = tombstonesByID.values.map(\.expiresAt).min()
    }

    /// What every input does last: sends what the fan-out and verification budgets allow, then
    /// schedules the next tick.
    mutating func finishCall(
        now: Timestamp,
        into directives: inout [SWIMDirective],
        using rng: inout some RandomNumberGenerator
    ) {
        pumpFanOut(now: now, into: &directives, using: &rng)
        pumpVerifications(into: &directives)
        scheduleNextTick(into: &directives)
        staleViewers.removeAll()
    }

    /// Appends `.scheduleTick` when the next deadline differs from the one already scheduled.
    mutating func scheduleNextTick(into directives: inout [SWIMDirective]) {
        var next: Timestamp? = isLeaving ? nil : nextPeriodAt
        func consider(_ t: Timestamp) { next = min(next ?? t, t) }
        if let check = suspicionCheckAt { consider(check) }
        if let earliest = earliestTombstoneExpiry { consider(earliest) }
        guard let next, next != scheduledTick else { return }
        scheduledTick = next
        directives.append(.scheduleTick(at: next))
    }
}
