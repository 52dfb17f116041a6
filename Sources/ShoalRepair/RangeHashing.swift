import Foundation
import ShoalCore

/// The hashes of the anti-entropy exchange. Every node must compute them identically; they are
/// part of the protocol (Protocol/README.md repeats them).
///
/// - A record's digest: SHA-256 of `"shoal-record-v1"`, a zero byte, then the ID (32 bytes), the
///   kind (1 byte), stored (1 byte), the claim count (u32), per claim the owner key length (u16),
///   key and `claimedAt` (i64 nanoseconds), the tombstone count (u32), per tombstone the owner key
///   length (u16), key, `deletedAt` (i64) and delete ID (32 bytes); integers big-endian, claims and
///   tombstones in the record's (owner) order.
/// - A range of at most ``leafCapacity`` records, a leaf: SHA-256 of `"shoal-leaf-v1"`, a zero
///   byte, the count (u64), then the records' digests in ascending ID order.
/// - A larger range: SHA-256 of `"shoal-node-v1"`, a zero byte, the child count (u32), then per
///   child range (``KeyRange/children``, in key order) its record count (u64) and hash.
///
/// So a range's hash is a function of its records alone, whatever order they were inserted in.
public enum RangeHashing {
    /// The most records a range may have to be hashed as a leaf (and fetched whole when it differs).
    public static let leafCapacity = 16

    /// The hash of a range without records.
    public static let emptyHash = leafHash(digests: [])

    private static let recordTag = Array("shoal-record-v1\u{0}".utf8)
    private static let leafTag = Array("shoal-leaf-v1\u{0}".utf8)
    private static let nodeTag = Array("shoal-node-v1\u{0}".utf8)

    /// The digest of `record`.
    public static func digest(of record: ObjectRecord) -> RangeHash {
        var bytes = recordTag
        bytes.reserveCapacity(recordTag.count + 42 + record.ownerEntryCount * 96)
        bytes.append(key: record.id)
        bytes.append(record.kind.rawValue)
        bytes.append(record.isStored ? 1 : 0)
        bytes.append(bigEndian: UInt32(record.claims.count))
        for claim in record.claims {
            bytes.append(bigEndian: UInt16(claim.owner.key.count))
            bytes.append(contentsOf: claim.owner.key)
            bytes.append(bigEndian: UInt64(bitPattern: claim.claimedAt.nanoseconds))
        }
        bytes.append(bigEndian: UInt32(record.tombstones.count))
        for t in record.tombstones {
            bytes.append(bigEndian: UInt16(t.owner.key.count))
            bytes.append(contentsOf: t.owner.key)
            bytes.append(bigEndian: UInt64(bitPattern: t.deletedAt.nanoseconds))
            bytes.append(key: t.deleteID)
        }
        return RangeHash(Key256.sha256(of: bytes))
    }

    /// The hash of a leaf range whose records have `digests`, in ascending ID order.
    public static func leafHash(digests: some Collection<RangeHash>) -> RangeHash {
        var bytes = leafTag
        bytes.reserveCapacity(leafTag.count + 8 + digests.count * 32)
        bytes.append(bigEndian: UInt64(digests.count))
        for d in digests { bytes.append(key: d.value) }
        return RangeHash(Key256.sha256(of: bytes))
    }

    /// The hash of a range with more than ``leafCapacity`` records, from its children's summaries
    /// in key order.
    public static func nodeHash(children: some Collection<RangeSummary>) -> RangeHash {
        var bytes = nodeTag
        bytes.reserveCapacity(nodeTag.count + 4 + children.count * 40)
        bytes.append(bigEndian: UInt32(children.count))
        for child in children {
            bytes.append(bigEndian: child.count)
            bytes.append(key: child.hash.value)
        }
        return RangeHash(Key256.sha256(of: bytes))
    }
}

extension [UInt8] {
    @inline(__always)
    fileprivate mutating func append<T: FixedWidthInteger>(bigEndian value: T) {
        var v = value.bigEndian
        Swift.withUnsafeBytes(of: &v) { append(contentsOf: $0) }
    }

    @inline(__always)
    fileprivate mutating func append(key: Key256) {
        append(bigEndian: key.words.0)
        append(bigEndian: key.words.1)
        append(bigEndian: key.words.2)
        append(bigEndian: key.words.3)
    }
}
