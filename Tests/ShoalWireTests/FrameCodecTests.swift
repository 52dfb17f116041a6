import Foundation
import NIOCore
import NIOTestUtils
import ShoalCore
import XCTest

@testable import ShoalWire

final class FrameCodecTests: XCTestCase {
    private let id = Key256(hex: String(repeating: "ab", count: 32))!
    private let contact = Contact(
        id: Key256(hex: String(repeating: "01", count: 32))!, address: PeerAddress(host: "127.0.0.2", port: 4000))

    private func sampleFrames() -> [WireFrame] {
        [
            WireFrame(id: 0, .hello(Hello(nodeID: id, listenAddress: PeerAddress(host: "127.0.0.1", port: 3000)))),
            WireFrame(id: 1, .ping(payload: Data("hi".utf8))),
            WireFrame(id: 1, .pong(payload: Data("hi".utf8))),
            WireFrame(id: 2, .findNode(target: id)),
            WireFrame(id: 2, .nodes([contact, contact])),
            WireFrame(id: 3, .findValue(key: id)),
            WireFrame(id: 3, .valueResult(ValueResult(held: false, closer: [contact]))),
            WireFrame(
                id: 4,
                .storeChunk(
                    StoreChunk(
                        id: id, data: ByteBuffer(repeating: 7, count: 300), kind: .chunk, root: id,
                        ownerKey: Data([4, 5])))),
            WireFrame(
                id: 300,
                .storeChunk(
                    StoreChunk(
                        id: id, data: ByteBuffer(repeating: 9, count: 200_000), kind: .manifest, root: .zero,
                        ownerKey: Data(), force: true,
                        claims: [
                            OwnerClaim(
                                owner: ObjectOwner(key: Array(repeating: 4, count: 65))!,
                                claimedAt: Timestamp(nanoseconds: 1_700_000_000_123_000_000)),
                            OwnerClaim(owner: .anonymous, claimedAt: .zero),
                        ]))),
            WireFrame(
                id: 0, .storeChunk(StoreChunk(id: id, data: ByteBuffer(), kind: .chunk, root: id, ownerKey: Data()))),
            WireFrame(id: 4, .storeAck(StoreAck(stored: false, reason: "not among the 3 closest", closer: [contact]))),
            WireFrame(id: 5, .getChunk(GetChunk(id: id, offset: 10, length: 20))),
            WireFrame(
                id: 5,
                .chunkData(ChunkData(id: id, offset: 10, totalSize: 30, data: ByteBuffer(repeating: 1, count: 20)))),
            WireFrame(id: 1 << 40, .chunkData(ChunkData(id: id, offset: 0, totalSize: 0, data: ByteBuffer()))),
            WireFrame(
                id: 6,
                .delete(
                    DeleteRequest(
                        root: id, objects: [id, id], issuedAt: 1_700_000_000, ownerKey: Data([1]), signature: Data([2]))
                )),
            WireFrame(id: 6, .deleteAck(DeleteAck(removed: 2, absent: 0, retained: [id]))),
            WireFrame(id: 0, .badCopy(id)),
            WireFrame(
                id: 7,
                .gossip(
                    GossipMessage(
                        kind: .probeRequest, target: contact,
                        updates: [
                            MemberUpdate(member: contact, status: .suspect, incarnation: 3),
                            MemberUpdate(member: contact, status: .suspect, incarnation: 4, accuser: id),
                        ]))),
            WireFrame(id: 7, .gossip(GossipMessage(kind: .ack))),
            WireFrame(id: 8, .error(WireError(.notFound, "no such object"))),
        ]
    }

    func testEveryBodyRoundTrips() throws {
        for frame in sampleFrames() {
            var buffer = ByteBuffer()
            try FrameEncoder.write(frame, to: &buffer)
            let decoded = try FrameDecoder.readFrame(from: &buffer, maximumFrameSize: WireLimits.maximumFrameSize)
            XCTAssertEqual(decoded, frame)
            XCTAssertEqual(buffer.readableBytes, 0)
        }
    }

    func testDripFedBytesDecodeIdentically() throws {
        // (Small frames only: the verifier re-feeds every prefix, which is quadratic in the size.)
        let small = try sampleFrames().filter { try FrameEncoder.encode($0).count < 4096 }
        let pairs = try small.map { frame -> (ByteBuffer, [WireFrame]) in
            var buffer = ByteBuffer()
            try FrameEncoder.write(frame, to: &buffer)
            return (buffer, [frame])
        }
        // Byte by byte, in pairs, and all at once: the verifier tries every split.
        XCTAssertNoThrow(try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) { FrameDecoder() })
    }

    /// The hand-written codec of the data frames writes exactly what SwiftProtobuf writes, and both
    /// decoders read the same frames the same way.
    func testDataFramesMatchTheGeneralCodec() throws {
        for frame in sampleFrames() {
            var fast = ByteBuffer()
            try FrameEncoder.write(frame, to: &fast)
            let general: [UInt8] = try frame.proto.serializedBytes()
            var prefixed = ByteBuffer()
            DataFrameCodec.writeVarint(UInt64(general.count), to: &prefixed)
            prefixed.writeBytes(general)
            XCTAssertEqual(Array(fast.readableBytesView), Array(prefixed.readableBytesView), "\(frame.message.name)")
            let decodedGenerally = try WireFrame(proto: try Shoal_V1_Frame(serializedBytes: general))
            XCTAssertEqual(decodedGenerally, frame)
        }
        // A data frame in a shape the fast path does not take (an unknown field) still decodes.
        let chunkData: [UInt8] = [0x0A, 0x20] + id.bytes + [0x22, 0x03, 1, 2, 3, 0x78, 0x01]
        let bytes: [UInt8] = [0x08, 0x03, 0x62, UInt8(chunkData.count)] + chunkData
        var buffer = ByteBuffer()
        DataFrameCodec.writeVarint(UInt64(bytes.count), to: &buffer)
        buffer.writeBytes(bytes)
        let decoded = try XCTUnwrap(try FrameDecoder.readFrame(from: &buffer, maximumFrameSize: 1 << 20))
        XCTAssertEqual(
            decoded,
            WireFrame(
                id: 3, .chunkData(ChunkData(id: id, offset: 0, totalSize: 0, data: ByteBuffer(bytes: [1, 2, 3])))))
        // A short ID is refused on either path, with the request's id.
        for body in [Data([0x0A, 0x02, 0x01, 0x02, 0x12, 0x01, 0x05, 0x22, 0x00]), Data([0x0A, 0x02, 0x01, 0x02])] {
            var frame = ByteBuffer()
            var inner = ByteBuffer(bytes: [0x08, 0x07, 0x4A])
            DataFrameCodec.writeVarint(UInt64(body.count), to: &inner)
            inner.writeBytes(body)
            DataFrameCodec.writeVarint(UInt64(inner.readableBytes), to: &frame)
            frame.writeBuffer(&inner)
            XCTAssertThrowsError(try FrameDecoder.readFrame(from: &frame, maximumFrameSize: 1 << 20)) { error in
                XCTAssertEqual((error as? FrameError)?.code, .badRequest, "\(error)")
                XCTAssertEqual((error as? FrameError)?.requestID, 7)
            }
        }
    }

    /// Found by the `frames` fuzz target: a data frame with a field out of range and, further on, a
    /// truncated field was refused by the fast path as BAD_REQUEST and by the general one as
    /// PROTOCOL. Bytes that are not a protobuf `Frame` are PROTOCOL, id 0 (Protocol/README.md §4).
    func testMalformedDataFramesAreProtocolErrorsWhateverTheirFirstField() throws {
        let inputs: [[UInt8]] = [
            [0x06, 0x4A, 0x04, 0x0A, 0x00, 0x2A, 0x06, 0x10, 0x04],  // StoreChunk{id: 0 bytes, owner_key: truncated}
            [0x06, 0x4A, 0x04, 0x18, 0x48, 0x02, 0x48],  // StoreChunk{kind: 72, then field number 0}
            // Frame{id: 7, ChunkData{id: 0 bytes, data: truncated}}
            [0x08, 0x08, 0x07, 0x62, 0x04, 0x0A, 0x00, 0x22, 0x05],
        ]
        for bytes in inputs {
            var buffer = ByteBuffer(bytes: bytes)
            XCTAssertThrowsError(try FrameDecoder.readFrame(from: &buffer, maximumFrameSize: 1 << 20)) { error in
                guard case .malformedFrame = error as? FrameError else { return XCTFail("\(error)") }
                XCTAssertEqual((error as? FrameError)?.code, .protocolViolation)
                XCTAssertEqual((error as? FrameError)?.requestID, 0)
            }
            XCTAssertNil(
                DataFrameCodec.decode(ByteBuffer(bytes: bytes[1...Int(bytes[0])])),
                "the fast path leaves it to the general one")
        }
    }

    /// Found by the `addresses` fuzz target: a listen address such as ":]:8" was taken, and printed
    /// as "[:]]:8", which no peer parses, so every frame relaying it would have been refused.
    func testAddressesThatWouldNotPrintBackAreInvalid() throws {
        for address in [":]:8", "[ a]:1", "h\u{e9}te:80"] {
            var hello = Shoal_V1_Frame()
            hello.hello = .with {
                $0.protocolVersion = 1
                $0.nodeID = Data(id.bytes)
                $0.listenAddress = address
            }
            var nodes = Shoal_V1_Frame()
            nodes.id = 3
            nodes.nodes = .with {
                $0.contacts = [
                    .with {
                        $0.nodeID = Data(id.bytes)
                        $0.address = address
                    }
                ]
            }
            for frame in [hello, nodes] {
                let bytes: [UInt8] = try frame.serializedBytes()
                var buffer = ByteBuffer()
                DataFrameCodec.writeVarint(UInt64(bytes.count), to: &buffer)
                buffer.writeBytes(bytes)
                XCTAssertThrowsError(try FrameDecoder.readFrame(from: &buffer, maximumFrameSize: 1 << 20), address) {
                    error in
                    XCTAssertEqual((error as? FrameError)?.code, .badRequest, "\(error)")
                    XCTAssertEqual((error as? FrameError)?.requestID, frame.id)
                }
            }
        }
    }

    func testGoldenBytes() throws {
        // Frame{id: 1, ping{payload: "hi"}}: length 8, then field 1 varint 1, field 3 (ping) length 4,
        // containing field 1 (payload) length 2 "hi".
        let bytes = try FrameEncoder.encode(WireFrame(id: 1, .ping(payload: Data("hi".utf8))))
        XCTAssertEqual(bytes, [0x08, 0x08, 0x01, 0x1a, 0x04, 0x0a, 0x02, 0x68, 0x69])
        // A length over 127 takes a two-byte varint.
        let big = try FrameEncoder.encode(WireFrame(id: 1, .pong(payload: Data(repeating: 0, count: 200))))
        XCTAssertEqual(Array(big.prefix(2)), [0xd0, 0x01])  // 208 = 0x50 | 0x80, 0x01
    }

    func testOversizeLengthIsRefusedBeforeBuffering() throws {
        var buffer = ByteBuffer()
        // varint for 10 MiB, no body.
        var length = UInt64(10 << 20)
        while length >= 0x80 {
            buffer.writeInteger(UInt8(truncatingIfNeeded: length) | 0x80)
            length >>= 7
        }
        buffer.writeInteger(UInt8(length))
        XCTAssertThrowsError(try FrameDecoder.readFrame(from: &buffer, maximumFrameSize: WireLimits.maximumFrameSize)) {
            error in
            XCTAssertEqual(error as? FrameError, .frameTooLarge(length: 10 << 20, limit: WireLimits.maximumFrameSize))
        }
    }

    func testEncoderRefusesOversizeFrame() {
        let frame = WireFrame(id: 1, .pong(payload: Data(repeating: 0, count: 2000)))
        var buffer = ByteBuffer()
        XCTAssertThrowsError(try FrameEncoder.write(frame, to: &buffer, maximumFrameSize: 1000)) { error in
            guard case .frameTooLarge = error as? FrameError else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(buffer.readableBytes, 0)
    }

    func testGarbageIsATypedError() {
        var buffer = ByteBuffer(bytes: [0x05, 0xff, 0xff, 0xff, 0xff, 0xff])
        XCTAssertThrowsError(try FrameDecoder.readFrame(from: &buffer, maximumFrameSize: 1 << 20)) { error in
            guard case .malformedFrame = error as? FrameError else { return XCTFail("\(error)") }
        }
        var overlong = ByteBuffer(bytes: [UInt8](repeating: 0xff, count: 11))
        XCTAssertThrowsError(try FrameDecoder.readFrame(from: &overlong, maximumFrameSize: 1 << 20)) { error in
            XCTAssertEqual(error as? FrameError, .malformedLength)
        }
    }

    func testFrameWithoutBodyIsUnknown() {
        var buffer = ByteBuffer(bytes: [0x02, 0x08, 0x01])  // Frame{id: 1}, no body
        XCTAssertThrowsError(try FrameDecoder.readFrame(from: &buffer, maximumFrameSize: 1 << 20)) { error in
            XCTAssertEqual(error as? FrameError, .unknownBody)
        }
    }

    func testBadFieldsAreInvalid() {
        // FindNode with a 3-byte target.
        var proto = Shoal_V1_Frame()
        proto.id = 9
        proto.findNode = .with { $0.target = Data([1, 2, 3]) }
        let bytes: [UInt8] = try! proto.serializedBytes()
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt8(bytes.count))
        buffer.writeBytes(bytes)
        XCTAssertThrowsError(try FrameDecoder.readFrame(from: &buffer, maximumFrameSize: 1 << 20)) { error in
            XCTAssertEqual(error as? FrameError, .invalid("FindNode.target is 3 bytes, expected 32", id: 9))
            XCTAssertEqual((error as? FrameError)?.requestID, 9)
        }
    }

    func testIncarnationBeyondTheMaximumIsInvalid() throws {
        let update = MemberUpdate(member: contact, status: .suspect, incarnation: .max)
        var buffer = ByteBuffer()
        try FrameEncoder.write(WireFrame(id: 4, .gossip(GossipMessage(kind: .probe, updates: [update]))), to: &buffer)
        XCTAssertThrowsError(try FrameDecoder.readFrame(from: &buffer, maximumFrameSize: 1 << 20)) { error in
            XCTAssertEqual((error as? FrameError)?.code, .badRequest)
            XCTAssertEqual((error as? FrameError)?.requestID, 4)
        }
        var fine = ByteBuffer()
        let atMaximum = MemberUpdate(member: contact, status: .suspect, incarnation: MemberUpdate.maximumIncarnation)
        try FrameEncoder.write(WireFrame(id: 4, .gossip(GossipMessage(kind: .probe, updates: [atMaximum]))), to: &fine)
        XCTAssertNotNil(try FrameDecoder.readFrame(from: &fine, maximumFrameSize: 1 << 20))
    }

    func testTheAccuserFieldIsAdditive() throws {
        // A version-1 peer that predates the field sends none: the update decodes without one.
        let old = Shoal_V1_Frame.with {
            $0.id = 4
            $0.gossip = .with {
                $0.kind = .probe
                $0.updates = [
                    .with {
                        $0.member = contact.proto
                        $0.status = .suspect
                        $0.incarnation = 2
                    }
                ]
            }
        }
        var buffer = ByteBuffer()
        let bytes = try old.serializedBytes() as [UInt8]
        buffer.writeInteger(UInt8(bytes.count))
        buffer.writeBytes(bytes)
        let decoded = try XCTUnwrap(try FrameDecoder.readFrame(from: &buffer, maximumFrameSize: 1 << 20))
        guard case .gossip(let gossip) = decoded.message else { return XCTFail() }
        XCTAssertEqual(gossip.updates, [MemberUpdate(member: contact, status: .suspect, incarnation: 2)])
        XCTAssertNil(gossip.updates.first?.accuser)

        // A node that predates the field reads an update that carries it as before (unknown
        // fields are skipped): the encoding of the first three fields is unchanged.
        let accused = MemberUpdate(member: contact, status: .suspect, incarnation: 2, accuser: id)
        let encoded: [UInt8] = try WireFrame(id: 4, .gossip(GossipMessage(kind: .probe, updates: [accused]))).proto
            .serializedBytes()
        let parsed = try Shoal_V1_Frame(serializedBytes: encoded)
        XCTAssertEqual(parsed.gossip.updates.first?.accuser, Data(id.bytes))
        XCTAssertEqual(parsed.gossip.updates.first?.incarnation, 2)

        // An accuser of the wrong length is refused.
        let bad = Shoal_V1_Frame.with {
            $0.id = 5
            $0.gossip = .with {
                $0.kind = .probe
                $0.updates = [
                    .with {
                        $0.member = contact.proto
                        $0.status = .suspect
                        $0.accuser = Data([1, 2, 3])
                    }
                ]
            }
        }
        var badBuffer = ByteBuffer()
        let badBytes = try bad.serializedBytes() as [UInt8]
        badBuffer.writeInteger(UInt8(badBytes.count))
        badBuffer.writeBytes(badBytes)
        XCTAssertThrowsError(try FrameDecoder.readFrame(from: &badBuffer, maximumFrameSize: 1 << 20)) { error in
            XCTAssertEqual((error as? FrameError)?.code, .badRequest)
        }
    }

    func testHostileContactListsAreTruncated() throws {
        let many = Array(repeating: contact, count: 1000)
        var buffer = ByteBuffer()
        try FrameEncoder.write(WireFrame(id: 1, .nodes(many)), to: &buffer)
        let decoded = try XCTUnwrap(
            try FrameDecoder.readFrame(from: &buffer, maximumFrameSize: WireLimits.maximumFrameSize))
        guard case .nodes(let contacts) = decoded.message else { return XCTFail() }
        XCTAssertEqual(contacts.count, WireLimits.maximumContacts)
    }

    func testManifestRoundTripAndUnknownCipher() throws {
        let manifest = Manifest(
            totalSize: 70_000, chunkSize: 65_536, cipher: .aes256GCM,
            entries: [.init(id: id, size: 65_536), .init(id: id, size: 4_464)])
        XCTAssertEqual(try Manifest(serialized: manifest.serialized()), manifest)
        var proto = Shoal_V1_Manifest()
        proto.formatVersion = 1
        proto.chunkSize = 65_536
        proto.cipher = .UNRECOGNIZED(9)
        XCTAssertThrowsError(try Manifest(serialized: try proto.serializedBytes() as [UInt8]))
    }

    func testDeleteStatementIsDeterministic() {
        let a = DeleteRequest.statementBytes(root: id, objects: [id], issuedAt: 5)
        let b = DeleteRequest.statementBytes(root: id, objects: [id], issuedAt: 5)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, DeleteRequest.statementBytes(root: id, objects: [id], issuedAt: 6))
    }
}
