import ShoalCore

/// A push the planner would like to make, before the limits are applied.
struct PushCandidate: Hashable, Sendable {
    var record: ObjectRecord
    var size: Int
    var target: Contact
    /// Confirmed replicas among the object's `r` closest nodes; fewer means more endangered.
    var confirmedReplicas: Int

    var object: ContentID { record.id }

    /// Most endangered first, then by object and target for a deterministic order.
    static func precedes(_ a: PushCandidate, _ b: PushCandidate) -> Bool {
        if a.confirmedReplicas != b.confirmedReplicas { return a.confirmedReplicas < b.confirmedReplicas }
        if a.object != b.object { return a.object < b.object }
        return a.object.isCloser(a.target.id, than: b.target.id)
    }
}
