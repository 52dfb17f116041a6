import ShoalCore

extension SWIMInstance {
    /// Advances time: ends the protocol period that is over (suspecting its target if nothing
    /// acked it), starts the next one with a probe, declares dead the suspects whose suspicion
    /// timed out and forgets expired tombstones.
    ///
    /// Call once to start the instance, then at each `.scheduleTick(at:)`. Calling early is
    /// harmless (nothing is due yet); calling late runs what is overdue.
    /// - Parameters:
    ///   - now: the current time.
    ///   - rng: picks probe order and helpers.
    /// - Returns: a `.sendProbe` when a period starts, `.memberChanged` for new suspects and
    ///   deaths, and the next `.scheduleTick`.
    public mutating func onTick(now: Timestamp, using rng: inout some RandomNumberGenerator) -> [SWIMDirective] {
        var directives: [SWIMDirective] = []
        scheduledTick = nil
        if !isLeaving, nextPeriodAt.map({ now >= $0 }) ?? true {
            finishRound(now: now, into: &directives)
            startRound(now: now, into: &directives, using: &rng)
        }
        expireSuspicions(now: now, into: &directives)
        expireTombstones(now: now)
        scheduleNextTick(into: &directives)
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
        guard let member = membersByID[finished.target.id], member.status == .alive else { return }
        let old = member.update
        var suspect = member
        suspect.status = .suspect
        suspect.suspicion = Suspicion(startedAt: now, reporter: myself.id)
        membersByID[member.id] = suspect
        suspects.insert(member.id)
        gossip.enqueue(suspect.update)
        directives.append(.memberChanged(old: old, new: suspect.update))
    }

    private mutating func startRound(
        now: Timestamp,
        into directives: inout [SWIMDirective],
        using rng: inout some RandomNumberGenerator
    ) {
        let period = health.scale(settings.probeInterval)
        nextPeriodAt = now + period
        guard let id = probeOrder.next(using: &rng), let target = membersByID[id] else { return }
        round = ProbeRound(target: target.contact, endsAt: now + period)
        directives.append(.sendProbe(
            to: target.contact,
            updates: outgoingUpdates(for: id, using: &rng),
            timeout: health.scale(settings.probeTimeout)))
    }

    private mutating func expireSuspicions(now: Timestamp, into directives: inout [SWIMDirective]) {
        guard !suspects.isEmpty else { return }
        let bounds = suspicionTimeout
        var expired: [SWIMMember] = []
        for id in suspects {
            guard let member = membersByID[id], let suspicion = member.suspicion else { continue }
            if now >= suspicion.startedAt + bounds.timeout(confirmations: suspicion.confirmations) {
                expired.append(member)
            }
        }
        for member in expired.sorted(by: { $0.id < $1.id }) {
            let dead = MemberUpdate(member: member.contact, status: .dead, incarnation: member.incarnation)
            removeMember(member.id, becoming: dead, now: now)
            gossip.enqueue(dead)
            directives.append(.memberChanged(old: member.update, new: dead))
        }
    }

    private mutating func expireTombstones(now: Timestamp) {
        guard let earliest = earliestTombstoneExpiry, now >= earliest else { return }
        tombstonesByID = tombstonesByID.filter { $0.value.expiresAt > now }
        earliestTombstoneExpiry = tombstonesByID.values.map(\.expiresAt).min()
    }

    /// Appends `.scheduleTick` when the next deadline differs from the one already scheduled.
    mutating func scheduleNextTick(into directives: inout [SWIMDirective]) {
        var next: Timestamp? = isLeaving ? nil : nextPeriodAt
        func consider(_ t: Timestamp) { next = min(next ?? t, t) }
        if !suspects.isEmpty {
            let bounds = suspicionTimeout
            for id in suspects {
                if let s = membersByID[id]?.suspicion {
                    consider(s.startedAt + bounds.timeout(confirmations: s.confirmations))
                }
            }
        }
        if let earliest = earliestTombstoneExpiry { consider(earliest) }
        guard let next, next != scheduledTick else { return }
        scheduledTick = next
        directives.append(.scheduleTick(at: next))
    }
}
