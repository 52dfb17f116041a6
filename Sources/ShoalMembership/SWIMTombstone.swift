import ShoalCore

/// A member that was declared dead or left, remembered so that stale gossip cannot revive it.
///
/// Only an update with a strictly higher incarnation (the node itself came back and refuted)
/// brings the member back. The tombstone is forgotten at ``expiresAt``.
public struct SWIMTombstone: Hashable, Sendable, CustomStringConvertible {
    /// The member's last known contact.
    public var contact: Contact
    /// `.dead` or `.left`.
    public var status: MemberStatus
    /// The incarnation at which the member died or left.
    public var incarnation: UInt64
    /// When the tombstone is forgotten.
    public var expiresAt: Timestamp

    /// Creates a tombstone.
    public init(contact: Contact, status: MemberStatus, incarnation: UInt64, expiresAt: Timestamp) {
        self.contact = contact
        self.status = status
        self.incarnation = incarnation
        self.expiresAt = expiresAt
    }

    /// The tombstone as a gossip update.
    public var update: MemberUpdate { MemberUpdate(member: contact, status: status, incarnation: incarnation) }

    public var description: String { "\(update) until \(expiresAt)" }
}
