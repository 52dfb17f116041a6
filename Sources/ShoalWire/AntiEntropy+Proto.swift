import Foundation
import ShoalCore
import ShoalRepair

// Conversions of the anti-entropy messages (Protocol/README.md §6.9) between the generated
// protobuf types and ShoalRepair's values. Every count, length and range a peer sends is checked
// here; a message outside the bounds is refused as a whole (BAD_REQUEST, the connection closes).
// What the decoder cannot check (record order, records inside the range asked, counts against
// summaries, expired tombstones) is checked by `ExchangeSession`, and the responder checks the
// bounds of what it is asked (`RecordTree.answer`).

extension WireLimits {
    /// Ranges or record queries in one `AntiEntropyRequest`.
    public static let maximumExchangeRanges = 256
    /// Summaries in one `AntiEntropyAnswer`.
    public static let maximumExchangeSummaries = 4096
    /// Pages in one `AntiEntropyAnswer`.
    public static let maximumExchangePages = 256
    /// Records in one `AntiEntropyAnswer` (over all its pages) or one `ShareRecords`.
    public static let maximumExchangeRecords = 1024
    /// Claims plus tombstones in one record, or in one `StoreChunk`.
    public static let maximumOwnerEntries = 4096
    /// Bytes of an `AntiEntropyAnswer.refused` reason kept; the rest is cut.
    public static let maximumRefusalBytes = 256
    /// Bytes of a `SignedDelete` (a Delete of 4096 objects takes about 140 KiB).
    public static let maximumSignedDeleteBytes = 1 << 20
}

extension ObjectKind {
    init(proto: Shoal_V1_ObjectKind) throws {
        switch proto {
        case .chunk: self = .chunk
        case .manifest: self = .manifest
        case .UNRECOGNIZED(let v): throw FrameError.invalid("unknown ObjectKind \(v)")
        }
    }

    var proto: Shoal_V1_ObjectKind { self == .chunk ? .chunk : .manifest }
}

extension KeyRange {
    init(proto: Shoal_V1_KeyRange) throws {
        guard proto.bitLength <= UInt32(Key256.bitCount) else {
            throw FrameError.invalid("KeyRange.bit_length \(proto.bitLength) exceeds \(Key256.bitCount)")
        }
        let bits = Int(proto.bitLength)
        let expected = (bits + 7) / 8
        guard proto.prefix.count == expected else {
            throw FrameError.invalid(
                "KeyRange.prefix is \(proto.prefix.count) bytes; \(expected) expected for \(bits) bits")
        }
        guard let key = Key256(bytes: Array(proto.prefix) + [UInt8](repeating: 0, count: 32 - expected)),
            let range = KeyRange(prefix: key, bitLength: bits)
        else {
            throw FrameError.invalid("KeyRange.prefix has bits set past its \(bits)-bit length")
        }
        self = range
    }

    var proto: Shoal_V1_KeyRange {
        .with {
            $0.prefix = Data(prefix.bytes.prefix((bitLength + 7) / 8))
            $0.bitLength = UInt32(bitLength)
        }
    }
}

extension Tombstone {
    init(proto: Shoal_V1_Tombstone) throws {
        guard let owner = ObjectOwner(key: Array(proto.ownerKey)) else {
            throw FrameError.invalid(
                "Tombstone.owner_key is \(proto.ownerKey.count) bytes; 1 to \(ObjectOwner.maximumKeyLength) expected")
        }
        self.init(
            owner: owner, deletedAt: Timestamp(nanoseconds: proto.deletedAt),
            deleteID: try Key256(wire: proto.deleteID, field: "Tombstone.delete_id"))
    }

    var proto: Shoal_V1_Tombstone {
        .with {
            $0.ownerKey = Data(owner.key)
            $0.deletedAt = deletedAt.nanoseconds
            $0.deleteID = Data(deleteID.bytes)
        }
    }
}

extension ObjectRecord {
    init(proto r: Shoal_V1_ObjectRecord) throws {
        guard r.claims.count + r.tombstones.count <= WireLimits.maximumOwnerEntries else {
            throw FrameError.invalid(
                "ObjectRecord carries \(r.claims.count + r.tombstones.count) claims and tombstones, at most \(WireLimits.maximumOwnerEntries) allowed"
            )
        }
        self.init(
            id: try Key256(wire: r.id, field: "ObjectRecord.id"), kind: try ObjectKind(proto: r.kind),
            isStored: r.stored,
            claims: try r.claims.map(OwnerClaim.init(proto:)), tombstones: try r.tombstones.map(Tombstone.init(proto:)))
    }

    var proto: Shoal_V1_ObjectRecord {
        .with {
            $0.id = Data(id.bytes)
            $0.kind = kind.proto
            $0.stored = isStored
            $0.claims = claims.map(\.proto)
            $0.tombstones = tombstones.map(\.proto)
        }
    }

    /// Decodes a list of records, refusing more than `limit`.
    static func list(_ records: [Shoal_V1_ObjectRecord], limit: Int, field: String) throws -> [ObjectRecord] {
        guard records.count <= limit else {
            throw FrameError.invalid("\(field) lists \(records.count) records, at most \(limit) allowed")
        }
        return try records.map(ObjectRecord.init(proto:))
    }
}

extension TombstoneHorizon {
    init(wire nanoseconds: Int64) {
        self.init(cutoff: Timestamp(nanoseconds: nanoseconds))
    }

    var wire: Int64 { cutoff.nanoseconds }
}

extension ExchangeRequest {
    init(proto p: Shoal_V1_AntiEntropyRequest) throws {
        func ranges(_ list: [Shoal_V1_KeyRange], _ field: String) throws -> [KeyRange] {
            guard list.count <= WireLimits.maximumExchangeRanges else {
                throw FrameError.invalid(
                    "\(field) lists \(list.count) ranges, at most \(WireLimits.maximumExchangeRanges) allowed")
            }
            return try list.map(KeyRange.init(proto:))
        }
        let body: Body
        switch p.body {
        case .summaries(let list)?:
            body = .summaries(try ranges(list.ranges, "AntiEntropyRequest.summaries"))
        case .children(let list)?:
            body = .children(try ranges(list.ranges, "AntiEntropyRequest.children"))
        case .records(let list)?:
            guard list.queries.count <= WireLimits.maximumExchangeRanges else {
                throw FrameError.invalid(
                    "AntiEntropyRequest.records lists \(list.queries.count) queries, at most \(WireLimits.maximumExchangeRanges) allowed"
                )
            }
            body = .records(
                try list.queries.map { q in
                    RecordQuery(
                        range: try KeyRange(proto: q.range),
                        after: q.after.isEmpty ? nil : try Key256(wire: q.after, field: "RecordQuery.after"))
                })
        case nil:
            throw FrameError.invalid("AntiEntropyRequest has no body")
        }
        self.init(horizon: TombstoneHorizon(wire: p.horizon), body: body)
    }

    var proto: Shoal_V1_AntiEntropyRequest {
        .with {
            $0.horizon = horizon.wire
            switch body {
            case .summaries(let ranges): $0.summaries = .with { $0.ranges = ranges.map(\.proto) }
            case .children(let ranges): $0.children = .with { $0.ranges = ranges.map(\.proto) }
            case .records(let queries):
                $0.records = .with {
                    $0.queries = queries.map { q in
                        .with {
                            $0.range = q.range.proto
                            if let after = q.after { $0.after = Data(after.bytes) }
                        }
                    }
                }
            }
        }
    }
}

extension ExchangeAnswer {
    /// Decodes an answer and the responder's horizon.
    static func decode(_ a: Shoal_V1_AntiEntropyAnswer) throws -> (ExchangeAnswer, TombstoneHorizon) {
        let horizon = TombstoneHorizon(wire: a.horizon)
        switch a.body {
        case .summaries(let list)?:
            guard list.summaries.count <= WireLimits.maximumExchangeSummaries else {
                throw FrameError.invalid(
                    "AntiEntropyAnswer lists \(list.summaries.count) summaries, at most \(WireLimits.maximumExchangeSummaries) allowed"
                )
            }
            return (
                .summaries(
                    try list.summaries.map { s in
                        guard let hash = RangeHash(bytes: s.hash) else {
                            throw FrameError.invalid("RangeSummary.hash is \(s.hash.count) bytes, expected 32")
                        }
                        return RangeSummary(count: s.count, hash: hash)
                    }), horizon
            )
        case .records(let list)?:
            guard list.pages.count <= WireLimits.maximumExchangePages else {
                throw FrameError.invalid(
                    "AntiEntropyAnswer lists \(list.pages.count) pages, at most \(WireLimits.maximumExchangePages) allowed"
                )
            }
            let total = list.pages.reduce(0) { $0 + $1.records.count }
            guard total <= WireLimits.maximumExchangeRecords else {
                throw FrameError.invalid(
                    "AntiEntropyAnswer lists \(total) records, at most \(WireLimits.maximumExchangeRecords) allowed")
            }
            return (
                .records(
                    try list.pages.map { page in
                        RecordPage(records: try page.records.map(ObjectRecord.init(proto:)), isComplete: page.complete)
                    }), horizon
            )
        case .horizonMismatch?:
            return (.horizonMismatch(horizon), horizon)
        case .refused(let reason)?:
            return (
                .refused(String(decoding: reason.utf8.prefix(WireLimits.maximumRefusalBytes), as: UTF8.self)), horizon
            )
        case nil:
            throw FrameError.invalid("AntiEntropyAnswer has no body")
        }
    }

    /// The answer as sent by a responder at `horizon` (a mismatch carries its own).
    func proto(horizon: TombstoneHorizon) -> Shoal_V1_AntiEntropyAnswer {
        .with {
            switch self {
            case .summaries(let summaries):
                $0.horizon = horizon.wire
                $0.summaries = .with {
                    $0.summaries = summaries.map { s in
                        .with {
                            $0.count = s.count
                            $0.hash = Data(s.hash.bytes)
                        }
                    }
                }
            case .records(let pages):
                $0.horizon = horizon.wire
                $0.records = .with {
                    $0.pages = pages.map { page in
                        .with {
                            $0.records = page.records.map(\.proto)
                            $0.complete = page.isComplete
                        }
                    }
                }
            case .horizonMismatch(let theirs):
                $0.horizon = theirs.wire
                $0.horizonMismatch = true
            case .refused(let reason):
                $0.horizon = horizon.wire
                $0.refused = reason
            }
        }
    }
}
