import NIOCore
import ShoalCore

/// A hand-written codec for the two frames that carry object bytes, `StoreChunk` and `ChunkData`,
/// so that the bytes move as slices of the network buffers, never copied into `Data` and back.
///
/// It produces exactly the bytes SwiftProtobuf produces (fields in number order, default values
/// omitted) and accepts what it produces. Anything else (unknown fields, a field twice, another
/// wire type), and any frame it would refuse, is left to the general decoder, which has the final
/// word, so both paths accept and refuse the same frames. (Package-visible for the fuzz target,
/// which holds it to that.)
package enum DataFrameCodec {
    private static let frameID: UInt8 = 0x08  // Frame.id, varint
    private static let storeChunkTag: UInt8 = 0x4A  // Frame.store_chunk (9), length-delimited
    private static let chunkDataTag: UInt8 = 0x62  // Frame.chunk_data (12), length-delimited

    // MARK: Encoding

    /// The encoding of a data frame in three parts, so that `data` can be written as it is:
    /// `prefix` (the length prefix and every field before the data), `data`, `suffix`.
    struct Parts {
        var prefix: ByteBuffer
        var data: ByteBuffer
        var suffix: ByteBuffer
        /// The length of the Frame's encoding (what the length prefix says).
        var frameLength: Int
    }

    /// The parts of `frame`, or `nil` when it is not a data frame.
    static func encode(_ frame: WireFrame, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> Parts? {
        var before = allocator.buffer(capacity: 96)
        var after = allocator.buffer(capacity: 0)
        let data: ByteBuffer
        let tag: UInt8
        switch frame.message {
        case .storeChunk(let s):
            tag = storeChunkTag
            data = s.data
            writeBytesField(1, s.id.bytes, to: &before)
            if data.readableBytes > 0 {
                before.writeInteger(UInt8(0x12))
                writeVarint(UInt64(data.readableBytes), to: &before)
            }
            if s.kind == .manifest { after.writeBytes([0x18, 0x01]) }
            writeBytesField(4, s.root.bytes, to: &after)
            if !s.ownerKey.isEmpty { writeBytesField(5, Array(s.ownerKey), to: &after) }
            if s.force { after.writeBytes([0x30, 0x01]) }
            for claim in s.claims {
                var encoded = allocator.buffer(capacity: 80)
                if !claim.owner.isAnonymous { writeBytesField(1, claim.owner.key, to: &encoded) }
                if claim.claimedAt.nanoseconds != 0 {
                    encoded.writeInteger(UInt8(0x10))
                    writeVarint(UInt64(bitPattern: claim.claimedAt.nanoseconds), to: &encoded)
                }
                after.writeInteger(UInt8(0x3A))
                writeVarint(UInt64(encoded.readableBytes), to: &after)
                after.writeBuffer(&encoded)
            }
            for tombstone in s.tombstones {
                var encoded = allocator.buffer(capacity: 120)
                writeBytesField(1, tombstone.owner.key, to: &encoded)
                if tombstone.deletedAt.nanoseconds != 0 {
                    encoded.writeInteger(UInt8(0x10))
                    writeVarint(UInt64(bitPattern: tombstone.deletedAt.nanoseconds), to: &encoded)
                }
                writeBytesField(3, tombstone.deleteID.bytes, to: &encoded)
                after.writeInteger(UInt8(0x42))
                writeVarint(UInt64(encoded.readableBytes), to: &after)
                after.writeBuffer(&encoded)
            }
        case .chunkData(let c):
            tag = chunkDataTag
            data = c.data
            writeBytesField(1, c.id.bytes, to: &before)
            if c.offset != 0 {
                before.writeInteger(UInt8(0x10))
                writeVarint(c.offset, to: &before)
            }
            if c.totalSize != 0 {
                before.writeInteger(UInt8(0x18))
                writeVarint(c.totalSize, to: &before)
            }
            if data.readableBytes > 0 {
                before.writeInteger(UInt8(0x22))
                writeVarint(UInt64(data.readableBytes), to: &before)
            }
        default:
            return nil
        }
        let bodyLength = before.readableBytes + data.readableBytes + after.readableBytes
        var prefix = allocator.buffer(capacity: before.readableBytes + 32)
        var frameHeader = allocator.buffer(capacity: 24)
        if frame.id != 0 {
            frameHeader.writeInteger(frameID)
            writeVarint(frame.id, to: &frameHeader)
        }
        frameHeader.writeInteger(tag)
        writeVarint(UInt64(bodyLength), to: &frameHeader)
        let frameLength = frameHeader.readableBytes + bodyLength
        writeVarint(UInt64(frameLength), to: &prefix)
        prefix.writeBuffer(&frameHeader)
        prefix.writeBuffer(&before)
        return Parts(prefix: prefix, data: data, suffix: after, frameLength: frameLength)
    }

    private static func writeBytesField(_ number: UInt8, _ bytes: [UInt8], to buffer: inout ByteBuffer) {
        guard !bytes.isEmpty else { return }
        buffer.writeInteger(number << 3 | 2)
        writeVarint(UInt64(bytes.count), to: &buffer)
        buffer.writeBytes(bytes)
    }

    static func writeVarint(_ value: UInt64, to buffer: inout ByteBuffer) {
        var v = value
        while v >= 0x80 {
            buffer.writeInteger(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        buffer.writeInteger(UInt8(v))
    }

    // MARK: Decoding

    /// Decodes one Frame's bytes when they are a valid data frame in the shape
    /// ``encode(_:allocator:)`` produces; `nil` hands the frame to the general decoder, which also
    /// says why a frame is refused.
    package static func decode(_ frame: ByteBuffer) -> WireFrame? {
        var input = frame
        var id: UInt64 = 0
        guard var first = readTag(&input) else { return nil }
        if first == frameID {
            guard let value = readVarint(&input), let next = readTag(&input) else { return nil }
            id = value
            first = next
        }
        guard first == storeChunkTag || first == chunkDataTag,
            let length = readVarint(&input), length == UInt64(input.readableBytes),
            let body = input.readSlice(length: Int(length))
        else { return nil }
        do {
            let message = first == storeChunkTag ? try storeChunk(body) : try chunkData(body)
            return message.map { WireFrame(id: id, $0) }
        } catch {
            // A field out of range, found before the rest of the body was read: whether the frame
            // is malformed (PROTOCOL) or only invalid (BAD_REQUEST with its id) is for the general
            // decoder to say, so both paths refuse alike.
            return nil
        }
    }

    private static func storeChunk(_ body: ByteBuffer) throws -> WireMessage? {
        var input = body
        var seen: Set<UInt8> = []
        var id = Key256.zero
        var root = Key256.zero
        var data = ByteBuffer()
        var kind = ObjectKind.chunk
        var owner: [UInt8] = []
        var force = false
        var claims: [OwnerClaim] = []
        var tombstones: [Tombstone] = []
        while input.readableBytes > 0 {
            guard let tag = readTag(&input) else { return nil }
            if tag != 0x3A && tag != 0x42 {
                guard seen.insert(tag).inserted else { return nil }
            }
            switch tag {
            case 0x0A:
                guard let v = readBytes(&input) else { return nil }
                id = try key(v, "StoreChunk.id")
            case 0x12:
                guard let v = readBytes(&input) else { return nil }
                data = v
            case 0x18:
                guard let v = readVarint(&input) else { return nil }
                switch v {
                case 0: kind = .chunk
                case 1: kind = .manifest
                default: throw FrameError.invalid("unknown ObjectKind \(v)")
                }
            case 0x22:
                guard let v = readBytes(&input) else { return nil }
                root = try key(v, "StoreChunk.root")
            case 0x2A:
                guard let v = readBytes(&input) else { return nil }
                owner = Array(v.readableBytesView)
            case 0x30:
                guard let v = readVarint(&input) else { return nil }
                force = v != 0
            case 0x3A:
                guard let v = readBytes(&input), let claim = try ownerClaim(v) else { return nil }
                claims.append(claim)
                guard claims.count + tombstones.count <= StoreChunk.maximumOwnerEntries else {
                    throw FrameError.invalid(
                        "StoreChunk carries more than \(StoreChunk.maximumOwnerEntries) claims and tombstones")
                }
            case 0x42:
                guard let v = readBytes(&input), let tombstone = try tombstone(v) else { return nil }
                tombstones.append(tombstone)
                guard claims.count + tombstones.count <= StoreChunk.maximumOwnerEntries else {
                    throw FrameError.invalid(
                        "StoreChunk carries more than \(StoreChunk.maximumOwnerEntries) claims and tombstones")
                }
            default: return nil
            }
        }
        guard seen.contains(0x0A) else { throw FrameError.invalid("StoreChunk.id is 0 bytes, expected 32") }
        guard seen.contains(0x22) else { throw FrameError.invalid("StoreChunk.root is 0 bytes, expected 32") }
        return .storeChunk(
            StoreChunk(
                id: id, data: data, kind: kind, root: root, ownerKey: .init(owner), force: force, claims: claims,
                tombstones: tombstones))
    }

    private static func tombstone(_ body: ByteBuffer) throws -> Tombstone? {
        var input = body
        var owner: [UInt8] = []
        var nanoseconds: Int64 = 0
        var deleteID = Key256.zero
        var seen: Set<UInt8> = []
        while input.readableBytes > 0 {
            guard let tag = readTag(&input), seen.insert(tag).inserted else { return nil }
            switch tag {
            case 0x0A:
                guard let v = readBytes(&input) else { return nil }
                owner = Array(v.readableBytesView)
            case 0x10:
                guard let v = readVarint(&input) else { return nil }
                nanoseconds = Int64(bitPattern: v)
            case 0x1A:
                guard let v = readBytes(&input) else { return nil }
                deleteID = try key(v, "Tombstone.delete_id")
            default: return nil
            }
        }
        guard seen.contains(0x1A) else { throw FrameError.invalid("Tombstone.delete_id is 0 bytes, expected 32") }
        guard let key = ObjectOwner(key: owner) else {
            throw FrameError.invalid(
                "Tombstone.owner_key is \(owner.count) bytes; 1 to \(ObjectOwner.maximumKeyLength) expected")
        }
        return Tombstone(owner: key, deletedAt: Timestamp(nanoseconds: nanoseconds), deleteID: deleteID)
    }

    private static func ownerClaim(_ body: ByteBuffer) throws -> OwnerClaim? {
        var input = body
        var owner: [UInt8] = []
        var nanoseconds: Int64 = 0
        var seen: Set<UInt8> = []
        while input.readableBytes > 0 {
            guard let tag = readTag(&input), seen.insert(tag).inserted else { return nil }
            switch tag {
            case 0x0A:
                guard let v = readBytes(&input) else { return nil }
                owner = Array(v.readableBytesView)
            case 0x10:
                guard let v = readVarint(&input) else { return nil }
                nanoseconds = Int64(bitPattern: v)
            default: return nil
            }
        }
        return try OwnerClaim(wireOwner: owner, claimedAt: nanoseconds)
    }

    private static func chunkData(_ body: ByteBuffer) throws -> WireMessage? {
        var input = body
        var seen: Set<UInt8> = []
        var id = Key256.zero
        var offset: UInt64 = 0
        var total: UInt64 = 0
        var data = ByteBuffer()
        while input.readableBytes > 0 {
            guard let tag = readTag(&input), seen.insert(tag).inserted else { return nil }
            switch tag {
            case 0x0A:
                guard let v = readBytes(&input) else { return nil }
                id = try key(v, "ChunkData.id")
            case 0x10:
                guard let v = readVarint(&input) else { return nil }
                offset = v
            case 0x18:
                guard let v = readVarint(&input) else { return nil }
                total = v
            case 0x22:
                guard let v = readBytes(&input) else { return nil }
                data = v
            default: return nil
            }
        }
        guard seen.contains(0x0A) else { throw FrameError.invalid("ChunkData.id is 0 bytes, expected 32") }
        return .chunkData(ChunkData(id: id, offset: offset, totalSize: total, data: data))
    }

    private static func key(_ bytes: ByteBuffer, _ field: String) throws -> Key256 {
        guard let key = Key256(bytes: bytes.readableBytesView) else {
            throw FrameError.invalid("\(field) is \(bytes.readableBytes) bytes, expected 32")
        }
        return key
    }

    /// A one-byte tag (every field used here has a number below 16); `nil` for anything else.
    private static func readTag(_ input: inout ByteBuffer) -> UInt8? {
        guard let byte: UInt8 = input.readInteger(), byte & 0x80 == 0 else { return nil }
        return byte
    }

    private static func readBytes(_ input: inout ByteBuffer) -> ByteBuffer? {
        guard let length = readVarint(&input), length <= UInt64(input.readableBytes) else { return nil }
        return input.readSlice(length: Int(length))
    }

    private static func readVarint(_ input: inout ByteBuffer) -> UInt64? {
        var value: UInt64 = 0
        for i in 0..<10 {
            guard let byte: UInt8 = input.readInteger() else { return nil }
            if i == 9 && byte > 1 { return nil }
            value |= UInt64(byte & 0x7f) << (7 * UInt64(i))
            if byte & 0x80 == 0 { return value }
        }
        return nil
    }
}
