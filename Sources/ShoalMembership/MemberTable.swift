import ShoalCore

/// The verified members of one instance, each kept in a numbered slot.
///
/// Slots `0 ..< roster.count` belong to the roster's contacts for good (a roster member that died
/// and rejoins gets its slot back); the roster's storage is shared, and a roster slot's state is
/// stored here only where it differs from the roster's (alive at incarnation 0). Members added
/// later get slots after the roster's, which are reused once their member leaves the table.
/// Internal code refers to members by slot, so that hot paths hash 32-bit numbers rather than
/// 256-bit node IDs.
struct MemberTable: Sendable {
    /// A slot's membership: `status` is `.alive` or `.suspect`, or `nil` when the slot holds no member.
    struct SlotState: Hashable, Sendable {
        var status: MemberStatus?
        var incarnation: UInt64

        static let absent = SlotState(status: nil, incarnation: 0)
        static let rosterDefault = SlotState(status: .alive, incarnation: 0)
    }

    private let roster: SWIMRoster
    private var rosterStates: [Int32: SlotState] = [:]
    private var rosterAddresses: [Int32: PeerAddress] = [:]
    private var addedContacts: [Contact] = []
    private var addedStates: [SlotState] = []
    private var addedSlotByID: [NodeKey: Int32] = [:]
    private var freeAddedSlots: [Int32] = []
    /// Running suspicions, by slot.
    private(set) var suspicions: [Int32: Suspicion] = [:]
    /// The slots of suspects this node accused itself: the suspicions whose timers run here.
    private(set) var accusedSlots: Set<Int32> = []
    /// Members present.
    private(set) var count: Int

    /// A table holding every roster member except `myself`.
    init(roster: SWIMRoster, excluding myself: NodeID) {
        self.roster = roster
        self.count = roster.count
        if let own = roster.slotByID[NodeKey(myself)] {
            rosterStates[own] = .absent
            count -= 1
        }
    }

    /// The number of slots, present or not: slots are numbered `0 ..< slotCount`.
    var slotCount: Int { roster.count + addedContacts.count }

    /// The slot of `id` when it is a member.
    func slot(of id: NodeID) -> Int32? {
        let key = NodeKey(id)
        if !addedSlotByID.isEmpty, let slot = addedSlotByID[key] { return slot }
        if roster.count > 0, let slot = roster.slotByID[key], state(slot).status != nil { return slot }
        return nil
    }

    func state(_ slot: Int32) -> SlotState {
        let index = Int(slot)
        if index < roster.count { return rosterStates.isEmpty ? .rosterDefault : rosterStates[slot] ?? .rosterDefault }
        return addedStates[index - roster.count]
    }

    func isPresent(_ slot: Int32) -> Bool { state(slot).status != nil }

    /// The contact of the member in `slot` (its last verified address).
    func contact(_ slot: Int32) -> Contact {
        let index = Int(slot)
        guard index < roster.count else { return addedContacts[index - roster.count] }
        var contact = roster.contacts[index]
        if !rosterAddresses.isEmpty, let moved = rosterAddresses[slot] { contact.address = moved }
        return contact
    }

    func member(at slot: Int32) -> SWIMMember? {
        let state = state(slot)
        guard let status = state.status else { return nil }
        return SWIMMember(
            contact: contact(slot), status: status, incarnation: state.incarnation,
            suspicion: status == .suspect ? suspicions[slot] : nil)
    }

    func member(_ id: NodeID) -> SWIMMember? { slot(of: id).flatMap(member(at:)) }

    /// The state of the member in `slot` as an update. Precondition: the slot holds a member.
    func update(at slot: Int32) -> MemberUpdate {
        let state = state(slot)
        let status = state.status ?? .alive
        let accuser = status == .suspect ? suspicions[slot]?.originalAccuser : nil
        return MemberUpdate(member: contact(slot), status: status, incarnation: state.incarnation, accuser: accuser)
    }

    /// Adds `contact` as a member, or updates the member with its ID (address included).
    /// - Returns: its slot.
    @discardableResult
    mutating func upsert(_ contact: Contact, status: MemberStatus, incarnation: UInt64) -> Int32 {
        let slot: Int32
        let key = NodeKey(contact.id)
        if let existing = addedSlotByID[key] ?? roster.slotByID[key] {
            slot = existing
        } else if let free = freeAddedSlots.popLast() {
            slot = free
            addedContacts[Int(free) - roster.count] = contact
            addedSlotByID[key] = free
        } else {
            slot = Int32(slotCount)
            addedContacts.append(contact)
            addedStates.append(.absent)
            addedSlotByID[key] = slot
        }
        if !isPresent(slot) { count += 1 }
        setState(slot, SlotState(status: status, incarnation: incarnation))
        if status != .suspect { setSuspicion(nil, at: slot) }
        setAddress(slot, contact.address)
        return slot
    }

    /// Sets the suspicion of the member in `slot`.
    mutating func setSuspicion(_ suspicion: Suspicion?, at slot: Int32) {
        suspicions[slot] = suspicion
        if suspicion?.accusedAt != nil {
            accusedSlots.insert(slot)
        } else if !accusedSlots.isEmpty {
            accusedSlots.remove(slot)
        }
    }

    /// Records an accusation of the suspect in `slot` by `accuser`.
    /// - Returns: `true` when it was a new confirmation (see ``Suspicion/confirm(by:limit:)``).
    mutating func confirmSuspicion(at slot: Int32, by accuser: NodeID, limit: Int) -> Bool {
        guard var suspicion = suspicions[slot], suspicion.confirm(by: accuser, limit: limit) else { return false }
        suspicions[slot] = suspicion
        return true
    }

    /// Records that this node accused the suspect in `slot` at `now` (if it had not already).
    /// - Returns: `true` when this was its first accusation.
    mutating func markAccused(at slot: Int32, now: Timestamp) -> Bool {
        guard var suspicion = suspicions[slot], suspicion.accusedAt == nil else { return false }
        suspicion.accusedAt = now
        setSuspicion(suspicion, at: slot)
        return true
    }

    /// Removes the member in `slot`; an added slot becomes free for reuse.
    mutating func remove(_ slot: Int32) {
        guard isPresent(slot) else { return }
        count -= 1
        setSuspicion(nil, at: slot)
        setState(slot, .absent)
        let index = Int(slot)
        if index >= roster.count {
            addedSlotByID[NodeKey(addedContacts[index - roster.count].id)] = nil
            freeAddedSlots.append(slot)
        }
    }

    /// Up to `wanted` distinct present slots satisfying `eligible`, chosen at random: by a full
    /// scan when the table is small, otherwise by at most `8 · wanted` random draws.
    func randomSlots(
        _ wanted: Int, using rng: inout some RandomNumberGenerator, where eligible: (Int32) -> Bool
    ) -> [Int32] {
        guard wanted > 0, count > 0 else { return [] }
        if slotCount <= 4 * wanted + 16 {
            var all: [Int32] = []
            for slot in 0..<Int32(slotCount) where isPresent(slot) && eligible(slot) { all.append(slot) }
            all.shuffle(using: &rng)
            return Array(all.prefix(wanted))
        }
        var chosen: [Int32] = []
        var attempts = 0
        while chosen.count < wanted, attempts < 8 * wanted {
            attempts += 1
            let slot = Int32.random(in: 0..<Int32(slotCount), using: &rng)
            if isPresent(slot), !chosen.contains(slot), eligible(slot) { chosen.append(slot) }
        }
        return chosen
    }

    /// Every present slot, in slot order.
    var presentSlots: [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(count)
        for slot in 0..<Int32(slotCount) where isPresent(slot) { out.append(slot) }
        return out
    }

    private mutating func setState(_ slot: Int32, _ state: SlotState) {
        let index = Int(slot)
        if index < roster.count {
            rosterStates[slot] = state == .rosterDefault ? nil : state
        } else {
            addedStates[index - roster.count] = state
        }
    }

    private mutating func setAddress(_ slot: Int32, _ address: PeerAddress) {
        let index = Int(slot)
        if index < roster.count {
            rosterAddresses[slot] = roster.contacts[index].address == address ? nil : address
        } else {
            addedContacts[index - roster.count].address = address
        }
    }
}
