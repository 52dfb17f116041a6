import ShoalCore

/// A message this node owes one member and sends directly, once per protocol period, until the
/// member acknowledges it, the notice no longer applies, or ``maximumAttempts`` sends.
///
/// Only accusers declare a suspect dead, so two messages must not be left to gossip, whose
/// backlog at thousands of members can outlast a suspicion timeout, nor to one datagram's luck:
/// - an **accusation**, from an accuser to the suspect (the buddy system), so that the suspect
///   learns who accuses it;
/// - a **refutation**, from the suspect to each accuser (and to whoever relayed the accusation),
///   so that no accuser's timer runs out on a member that answered.
struct DirectNotice: Hashable, Sendable {
    enum Kind: Hashable, Sendable {
        /// This node accuses `recipient`, a suspect.
        case accusation
        /// This node tells `recipient`, which accused it or relayed an accusation, its current state.
        case refutation
    }

    /// How often one notice is sent at most.
    static let maximumAttempts = 4
    /// How many notices are kept at most.
    static let capacity = 64

    var kind: Kind
    var recipient: NodeID
    var attempts = 0
    var lastSentAt: Timestamp?
}
