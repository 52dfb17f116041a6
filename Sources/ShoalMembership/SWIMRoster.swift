import ShoalCore

/// Contacts that instances start from, stored once and shared by every instance created from it.
///
/// An instance keeps the members of its roster in the roster's storage and records on its own
/// only what differs (a status, an incarnation, a new address) and the members it adds later.
/// Instances created from one roster (thousands of simulated nodes in one process, say) therefore
/// share one copy of it: `n` instances of `n` members cost `O(n)` for the roster plus what each
/// one learned, instead of `O(n²)`.
///
/// Members of a roster count as verified: whoever builds the roster vouches for them (a saved
/// view, a test). Peers heard of later are verified before they count (see ``SWIMInstance``).
public struct SWIMRoster: Sendable {
    /// The contacts, in slot order, without duplicate node IDs (the first of duplicates is kept).
    public let contacts: [Contact]
    let slotByID: [NodeKey: Int32]

    /// A roster of `contacts`; later duplicates of a node ID are dropped.
    public init(_ contacts: [Contact]) {
        var kept: [Contact] = []
        var slots: [NodeKey: Int32] = [:]
        kept.reserveCapacity(contacts.count)
        slots.reserveCapacity(contacts.count)
        for contact in contacts where slots[NodeKey(contact.id)] == nil {
            slots[NodeKey(contact.id)] = Int32(kept.count)
            kept.append(contact)
        }
        self.contacts = kept
        self.slotByID = slots
    }

    /// The number of contacts.
    public var count: Int { contacts.count }

    /// A roster without contacts.
    public static let empty = SWIMRoster([])
}
