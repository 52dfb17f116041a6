import ShoalCore

/// The membership exchange that heals partitions.
///
/// During a partition each side declares the other dead, and SWIM never probes the dead, so the
/// two views would stay apart (memberlist's clusters did, until users added a periodic re-join).
/// The shell therefore re-contacts its bootstrap peers periodically, and on each contact this
/// node sends the peer what it needs to hear to merge the views: this node's own state, what
/// this node believes of the peer (so that a peer held as dead refutes at once, in its ack), and
/// the members this node holds as dead, as *suspicions* (so that those still alive on the other
/// side hear of it and refute, while nobody is declared dead on this hearsay alone: the same
/// choice memberlist makes when merging a remote dead state). Its spare room carries random live
/// members, as anti-entropy.
extension SWIMInstance {
    /// The shell has just reached `peer` outside SWIM (a bootstrap peer that answered the
    /// periodic re-contact): exchange membership with it.
    ///
    /// `peer` counts as verified (a peer never heard of becomes a member; a tombstoned one stays
    /// dead until its own refutation arrives, typically in the exchange's ack). Does nothing for
    /// this node itself, while leaving, or for a disconnected peer.
    /// - Parameters:
    ///   - peer: the peer as reached.
    ///   - now: the current time.
    ///   - rng: picks the anti-entropy members.
    /// - Returns: `.memberChanged` when the peer was new, then one `.sendExchange(to: peer, …)`
    ///   whose ack the shell reports with ``onGossipAck(from:updates:now:using:)``, and possibly
    ///   `.verifyMember` and `.scheduleTick`.
    public mutating func onExchange(
        with peer: Contact,
        now: Timestamp,
        using rng: inout some RandomNumberGenerator
    ) -> [SWIMDirective] {
        var directives: [SWIMDirective] = []
        if !peer.id.hasSameWords(as: myself.id), !isLeaving, !informers.isDisconnected(peer.id, now: now) {
            noteProven(peer, now: now, into: &directives)
            directives.append(
                .sendExchange(
                    to: peer, updates: exchangeUpdates(for: peer.id, using: &rng),
                    timeout: health.scale(settings.probeTimeout)))
        }
        finishCall(now: now, into: &directives, using: &rng)
        return directives
    }

    /// This node's state; the peer's state as seen here when it is suspect or dead; the dead
    /// members, most recently dead first, as suspicions accused by this node; random live members.
    private mutating func exchangeUpdates(
        for peer: NodeID, using rng: inout some RandomNumberGenerator
    ) -> [MemberUpdate] {
        let capacity = max(1, min(settings.maximumUpdatesPerMessage, SWIMSettings.wireUpdateLimit))
        var out = [ownState]
        if let member = table.member(peer), member.status == .suspect {
            out.append(member.update)
        } else if let tombstone = tombstonesByID[peer] {
            out.append(tombstone.update)
        }
        let dead = tombstonesByID.values
            .filter { $0.status == .dead && !$0.contact.id.hasSameWords(as: peer) }
            .sorted { $0.expiresAt != $1.expiresAt ? $0.expiresAt > $1.expiresAt : $0.contact.id < $1.contact.id }
        for tombstone in dead.prefix(max(0, capacity / 2 - out.count)) {
            out.append(
                MemberUpdate(
                    member: tombstone.contact, status: .suspect, incarnation: tombstone.incarnation, accuser: myself.id)
            )
        }
        let table = self.table
        let chosen = out.map(\.member.id)
        let slots = table.randomSlots(capacity - out.count, using: &rng) { slot in
            let id = table.contact(slot).id
            return !chosen.contains { $0.hasSameWords(as: id) }
        }
        out += slots.compactMap { table.member(at: $0)?.update }
        return out
    }
}
