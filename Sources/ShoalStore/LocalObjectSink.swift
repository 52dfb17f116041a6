import NIOCore
import ShoalCore
import ShoalFile

/// An ``ObjectSink`` that stores every object of a file as a durable replica on this node, claimed
/// by `owner` (for single-node ingest: benchmarks, tools and tests).
public struct LocalObjectSink: ObjectSink {
    public let objects: LocalObjects
    /// The owner the objects are claimed by (``ObjectOwner/anonymous`` for an anonymous store).
    public let owner: ObjectOwner
    /// The wall clock the claims are dated with.
    public let now: @Sendable () -> Timestamp

    public init(objects: LocalObjects, owner: ObjectOwner = .anonymous, now: @escaping @Sendable () -> Timestamp) {
        self.objects = objects
        self.owner = owner
        self.now = now
    }

    public func put(id: ContentID, bytes: ByteBuffer, kind: ObjectKind) async throws {
        let time = now()
        try await objects.storeReplica(
            id, bytes: bytes, kind: kind, claims: [OwnerClaim(owner: owner, claimedAt: time)], fresh: true,
            hashVerified: true, now: time)
    }
}

/// An ``ObjectSource`` that reads this node's own copies (verified on every read).
public struct LocalObjectSource: ObjectSource {
    public let objects: LocalObjects

    public init(objects: LocalObjects) {
        self.objects = objects
    }

    public func get(id: ContentID, kind: ObjectKind, expectedSize: UInt64?) async throws -> ByteBuffer {
        guard let bytes = try await objects.get(id) else {
            throw ChunkStoreError(.notFound, id: id, "object \(id.short) is not held by this node")
        }
        return bytes
    }
}
