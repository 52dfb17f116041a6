/// An object both sides of an exchange have a record of, with different digests: different claims
/// or tombstones, a different kind, or one side without the bytes.
public struct RecordDifference: Hashable, Sendable {
    /// This node's record.
    public var local: ObjectRecord
    /// The peer's record.
    public var peer: ObjectRecord

    /// Creates a difference.
    public init(local: ObjectRecord, peer: ObjectRecord) {
        self.local = local
        self.peer = peer
    }
}
