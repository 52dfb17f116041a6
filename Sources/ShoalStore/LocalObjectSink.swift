import ShoalCore
import ShoalWire

/// An ``ObjectSink`` that writes into the local ``ChunkStore`` and, when given a
/// ``MetadataStore``, pins every object so it is never evicted or collected.
///
/// The file's root is known only when its last object is stored, so objects are first pinned
/// under ``uploadID``, a provisional root; ``finish(root:)`` hands the pins to the real root. Pins
/// still under an upload ID after a crash belong to an upload that never finished.
public struct LocalObjectSink: ObjectSink {
    public let chunks: ChunkStore
    public let metadata: MetadataStore?
    /// The provisional root objects are pinned under until ``finish(root:)``.
    public let uploadID: ContentID

    /// - Parameters:
    ///   - chunks: where objects are written.
    ///   - metadata: where they are pinned; `nil` to only write them.
    ///   - uploadID: the provisional root for pins; a fresh random ID by default.
    public init(chunks: ChunkStore, metadata: MetadataStore? = nil, uploadID: ContentID? = nil) {
        self.chunks = chunks
        self.metadata = metadata
        self.uploadID = uploadID ?? Key256(bytes: FileKey.generate().bytes)!
    }

    public func put(id: ContentID, bytes: [UInt8], kind: ObjectKind) async throws {
        if let metadata { try await metadata.pin(id, root: uploadID, kind: kind) }
        try await chunks.put(bytes, id: id)
    }

    /// Moves this upload's pins to the file's root once ``FileIngest`` returned it.
    public func finish(root: ContentID) async throws {
        try await metadata?.reassignPins(from: uploadID, to: root)
    }
}

/// An ``ObjectSource`` that reads from the local ``ChunkStore`` (which verifies every object).
public struct LocalObjectSource: ObjectSource {
    public let chunks: ChunkStore

    public init(chunks: ChunkStore) {
        self.chunks = chunks
    }

    public func get(id: ContentID, kind: ObjectKind) async throws -> [UInt8] {
        try await chunks.get(id)
    }
}
