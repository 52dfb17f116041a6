import ShoalCore

/// A running suspicion of one member: when it started here and which nodes accused it.
///
/// Lifeguard counts *independent* confirmations (Dadgar et al. 2018, section IV.B): the first
/// accuser starts the suspicion, each further distinct accuser is one confirmation, and every
/// confirmation shortens the time left before the suspect is declared dead (see
/// ``SuspicionTimeout``). An accuser is the node that raised the suspicion
/// (``MemberUpdate/accuser``), not the node that relayed it; only when an update does not name
/// its accuser (a version-1 peer) does its sender count as the accuser.
public struct Suspicion: Hashable, Sendable {
    /// When this node started suspecting the member.
    public var startedAt: Timestamp
    /// Distinct accusers, the original one first.
    public private(set) var accusers: [NodeID]

    /// Starts a suspicion raised by `accuser` at `startedAt`.
    public init(startedAt: Timestamp, accuser: NodeID) {
        self.startedAt = startedAt
        self.accusers = [accuser]
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
