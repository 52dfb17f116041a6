import ShoalCore

/// A peer this node has heard of but not yet reached: it does not count as a member until the
/// shell reports that it answered over TLS at its listed address under its node ID.
///
/// It is not probed, not gossiped, not reported to the shell as a member and does not count
/// towards `n`. It waits for a verification (``SWIMDirective/verifyMember(_:updates:timeout:)``)
/// and is forgotten at ``expiresAt`` if none succeeded by then.
public struct UnverifiedMember: Hashable, Sendable, CustomStringConvertible {
    /// Why the peer needs verifying.
    public enum Reason: Hashable, Sendable {
        /// A peer this node does not know.
        case newMember
        /// A member remembered as dead or departed that gossip says is back.
        case revival
        /// A member whose gossiped address differs from the verified one.
        case newAddress
    }

    /// Where the verification stands.
    public enum Attempt: Hashable, Sendable {
        /// Waiting for its turn.
        case waiting
        /// A `.verifyMember` is out.
        case direct
        /// A direct attempt failed; a probe request through `helper`, a verified member, is out.
        case indirect(helper: NodeID)
    }

    /// The peer as claimed: node ID and listen address.
    public var contact: Contact
    /// Its claimed state, `.alive` or `.suspect`, and incarnation.
    public var status: MemberStatus
    public var incarnation: UInt64
    /// For a claimed suspicion, its accuser.
    public var accuser: NodeID?
    /// The verified members that told this node of it (at most three), first informer first;
    /// empty when the shell reported it.
    public var informers: [NodeID]
    public var reason: Reason
    /// Whether it introduced itself (it was the sender of a message), which verifies first.
    public var introducedItself: Bool
    public var learnedAt: Timestamp
    public var expiresAt: Timestamp
    public var attempt: Attempt

    /// The claim as an update.
    public var update: MemberUpdate {
        MemberUpdate(member: contact, status: status, incarnation: incarnation, accuser: accuser)
    }

    public var description: String { "unverified \(update) (\(reason), \(attempt))" }
}
