import ShoalCore

/// A push emitted by the planner and not yet reported finished.
struct InFlightPush: Hashable, Sendable {
    struct Key: Hashable, Sendable {
        var object: ContentID
        var target: NodeID
    }

    var size: Int
    var expiresAt: Timestamp
}
