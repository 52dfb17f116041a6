import ShoalCore

/// A member this node considers part of the cluster: alive, or suspected of having failed.
///
/// Dead and departed members are no longer members; they are remembered as ``SWIMTombstone``s.
public struct SWIMMember: Hashable, Sendable, CustomStringConvertible {
    /// Who the member is and where it listens.
    public var contact: Contact
    /// `.alive` or `.suspect`.
    public var status: MemberStatus
    /// The member's incarnation as last heard; only the member itself raises it.
    public var incarnation: UInt64
    /// Present while the member is suspect.
    public var suspicion: Suspicion?

    /// The member's node ID.
    public var id: NodeID { contact.id }

    /// The member's state as a gossip update; a suspicion names its original accuser.
    public var update: MemberUpdate {
        MemberUpdate(member: contact, status: status, incarnation: incarnation, accuser: suspicion?.originalAccuser)
    }

    /// Creates a member record.
    public init(contact: Contact, status: MemberStatus, incarnation: UInt64, suspicion: Suspicion? = nil) {
        self.contact = contact
        self.status = status
        self.incarnation = incarnation
        self.suspicion = suspicion
    }

    public var description: String { update.description }
}
