/// A member's liveness as SWIM gossips it.
public enum MemberStatus: Int, Sendable, Hashable, Comparable, CustomStringConvertible {
    case alive = 0
    case suspect = 1
    case dead = 2
    /// Left on purpose (graceful leave); treated like dead, but never suspected first.
    case left = 3

    public static func < (a: MemberStatus, b: MemberStatus) -> Bool { a.rawValue < b.rawValue }

    public var description: String {
        switch self {
        case .alive: return "alive"
        case .suspect: return "suspect"
        case .dead: return "dead"
        case .left: return "left"
        }
    }
}

/// One piggybacked membership update: "member is `status` at `incarnation`", and for a suspicion,
/// who raised it.
public struct MemberUpdate: Hashable, Sendable, CustomStringConvertible {
    public var member: Contact
    public var status: MemberStatus
    public var incarnation: UInt64
    /// For `.suspect`: the node that originally raised the suspicion (Lifeguard counts distinct
    /// accusers, not the nodes that relayed it). `nil` when unknown, as from a version-1 peer,
    /// whose updates carry no accuser: the receiver then counts the relaying sender as the
    /// accuser. Meaningless for other statuses, where it is `nil`.
    public var accuser: NodeID?

    /// The highest incarnation a member may have. Incarnations rise by one per refutation, so a
    /// real member never comes near it; an update above it is refused (on the wire, `BAD_REQUEST`)
    /// and the room above it guarantees that refuting never overflows.
    public static let maximumIncarnation: UInt64 = 1 << 62

    /// Creates an update; `accuser` is kept only for `.suspect`.
    public init(member: Contact, status: MemberStatus, incarnation: UInt64, accuser: NodeID? = nil) {
        self.member = member
        self.status = status
        self.incarnation = incarnation
        self.accuser = status == .suspect ? accuser : nil
    }

    public var description: String {
        guard let accuser else { return "\(member) \(status)@\(incarnation)" }
        return "\(member) \(status)@\(incarnation) by \(accuser.short)"
    }
}
