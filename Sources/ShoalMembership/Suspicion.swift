import ShoalCore

/// A running suspicion of one member: when it started here and which nodes accused it.
///
/// Lifeguard counts *independent* confirmations (Dadgar et al. 2018, section IV.B): the first
/// accuser starts the suspicion, each further distinct accuser is one confirmation, and every
/// confirmation shortens the time left before the suspect is declared dead (see
/// ``SuspicionTimeout``). An accuser is the node that raised the suspicion
/// (``MemberUpdate/accuser``), not the node that relayed it; only when an update does not name
/// its accuser (a version-1 peer) does its sender count as the accuser.
///
/// Only a node that accused the member itself (its own probe went unanswered) runs the timer,
/// from ``accusedAt``; the others wait for an accuser's verdict (a death notice) or the refutation.
public struct Suspicion: Hashable, Sendable {
    /// When this node started suspecting the member.
    public var startedAt: Timestamp
    /// Distinct accusers, the original one first (at most Lifeguard's K + 1 are kept).
    public private(set) var accusers: [NodeID]
    /// When this node itself accused the member, or `nil` when it only heard of the suspicion.
    public internal(set) var accusedAt: Timestamp?

    /// Starts a suspicion raised by `accuser` at `startedAt`; `accusedAt` is set when this node
    /// is the accuser.
    public init(startedAt: Timestamp, accuser: NodeID, accusedAt: Timestamp? = nil) {
        self.startedAt = startedAt
        self.accusers = [accuser]
        self.accusedAt = accusedAt
    }

    /// The node that raised the suspicion, as far as this node knows.
    public var originalAccuser: NodeID { accusers[0] }

    /// Independent confirmations received after the first accusation.
    public var confirmations: Int { accusers.count - 1 }

    /// Whether `node` is among the accusers.
    public func isAccused(by node: NodeID) -> Bool { accusers.contains { $0.hasSameWords(as: node) } }

    /// Records an accusation by `accuser`.
    /// - Parameters:
    ///   - accuser: the node that accused the member.
    ///   - limit: the most confirmations worth keeping (Lifeguard's K).
    /// - Returns: `true` when this was a new confirmation.
    @discardableResult
    public mutating func confirm(by accuser: NodeID, limit: Int) -> Bool {
        guard confirmations < limit, !isAccused(by: accuser) else { return false }
        accusers.append(accuser)
        return true
    }
}
