import ShoalCore

/// A running suspicion of one member: when it started and who has reported it.
///
/// Lifeguard counts *independent* confirmations: the first reporter starts the suspicion, each
/// further distinct reporter is one confirmation, and every confirmation shortens the time left
/// before the suspect is declared dead (see ``SuspicionTimeout``).
public struct Suspicion: Hashable, Sendable {
    /// When this node started suspecting the member.
    public var startedAt: Timestamp
    /// Distinct nodes that reported the suspicion, the first reporter included.
    public private(set) var reporters: Set<NodeID>

    /// Starts a suspicion reported by `reporter` at `startedAt`.
    public init(startedAt: Timestamp, reporter: NodeID) {
        self.startedAt = startedAt
        self.reporters = [reporter]
    }

    /// Independent confirmations received after the first report.
    public var confirmations: Int { reporters.count - 1 }

    /// Records a report from `reporter`.
    /// - Parameters:
    ///   - reporter: the node that reported the suspicion.
    ///   - limit: the most confirmations worth keeping (Lifeguard's K).
    /// - Returns: `true` when this was a new confirmation.
    @discardableResult
    public mutating func confirm(by reporter: NodeID, limit: Int) -> Bool {
        guard confirmations < limit, !reporters.contains(reporter) else { return false }
        reporters.insert(reporter)
        return true
    }
}
