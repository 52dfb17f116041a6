import NIOCore
import ShoalCore

/// Where ``FileIngest`` puts the objects of a file: the local chunk store, or the nodes that should
/// hold each object.
///
/// Call contract: `put` is called concurrently (up to the ingest's `maxInFlight` at once), once per
/// object, with `id == SHA-256(bytes)` computed by the caller from these very bytes (a sink need
/// not hash them again before storing them locally); the root manifest is put last, after every
/// other object of the file was put successfully. A throwing `put` aborts the ingest.
public protocol ObjectSink: Sendable {
    /// Stores one object durably before returning.
    /// - Parameters:
    ///   - id: SHA-256 of `bytes`.
    ///   - bytes: the object as stored (sealed for private files).
    ///   - kind: a data chunk or a manifest node.
    func put(id: ContentID, bytes: ByteBuffer, kind: ObjectKind) async throws
}

/// Where ``FileReader`` gets the objects of a file from.
///
/// Call contract: `get` is called concurrently (up to the reader's window at once) and must return
/// only bytes it has verified to hash to `id`: the reader does not hash them again.
public protocol ObjectSource: Sendable {
    /// Fetches one object.
    /// - Parameters:
    ///   - id: the object's content ID.
    ///   - kind: a data chunk or a manifest node (a hint, e.g. for caching policy).
    ///   - expectedSize: its stored size when the caller knows it (a data chunk's, from its
    ///     manifest entry), so that holders can budget for it; a copy of another size is no copy.
    /// - Returns: the object's stored bytes, whose SHA-256 is `id`.
    /// - Throws: when no verified copy can be found or fetched.
    func get(id: ContentID, kind: ObjectKind, expectedSize: UInt64?) async throws -> ByteBuffer
}

extension ObjectSource {
    /// Fetches one object whose size is not known in advance.
    public func get(id: ContentID, kind: ObjectKind) async throws -> ByteBuffer {
        try await get(id: id, kind: kind, expectedSize: nil)
    }
}
