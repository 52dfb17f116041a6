import ShoalCore

extension SWIMInstance {
    /// The updates to piggyback on one message to `recipient`.
    ///
    /// In order: this node's `left` state while leaving; what the recipient most needs to hear
    /// about itself (that it is suspected, or remembered as dead or departed, so that it can
    /// refute); the least-transmitted pending updates; then, in spare room, a few random members'
    /// current state (anti-entropy): ``SWIMSettings/antiEntropyUpdatesPerMessage`` of them, or
    /// as many as fit when `fillWithMembers` is set (for a node that has just made contact and
    /// knows little of the cluster).
    mutating func outgoingUpdates(
        for recipient: NodeID?,
        fillWithMembers: Bool = false,
        using rng: inout some RandomNumberGenerator
    ) -> [MemberUpdate] {
        let capacity = max(0, min(settings.maximumUpdatesPerMessage, SWIMSettings.wireUpdateLimit))
        guard capacity > 0 else { return [] }
        var out: [MemberUpdate] = []
        var included: Set<NodeID> = []
        func add(_ update: MemberUpdate) {
            guard out.count < capacity, included.insert(update.member.id).inserted else { return }
            out.append(update)
        }
        if isLeaving {
            add(MemberUpdate(member: myself, status: .left, incarnation: incarnation))
        }
        if let recipient {
            if let member = membersByID[recipient], member.status == .suspect {
                add(member.update)
            } else if let tombstone = tombstonesByID[recipient] {
                add(tombstone.update)
            }
        }
        for update in gossip.take(maximum: capacity - out.count, limit: transmissionLimit, excluding: included) {
            add(update)
        }
        let room = capacity - out.count
        let spare = fillWithMembers ? room : min(settings.antiEntropyUpdatesPerMessage, room)
        if spare > 0 {
            let wanted = out.count + spare
            if probeOrder.count <= 4 * spare {
                for id in probeOrder.ids.shuffled(using: &rng) where out.count < wanted {
                    if let member = membersByID[id] { add(member.update) }
                }
            } else {
                var attempts = 0
                while out.count < wanted, attempts < 2 * spare, let id = probeOrder.randomElement(using: &rng) {
                    attempts += 1
                    if let member = membersByID[id] { add(member.update) }
                }
            }
        }
        return out
    }
}
