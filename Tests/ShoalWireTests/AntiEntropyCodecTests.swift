import Foundation
import NIOCore
import ShoalCore
import ShoalRepair
import ShoalTestKit
import XCTest

@testable import ShoalWire

/// The anti-entropy messages on the wire: every body round-trips, the sizes ShoalRepair budgets
/// with are the real encoder's, and every bound a hostile peer could break is refused with
/// BAD_REQUEST (the frame is invalid, the connection closes), never trusted.
final class AntiEntropyCodecTests: XCTestCase {
    private var rng = SeededRandom(seed: 0xAE)
    private let owner = ObjectOwner(key: [0x04] + [UInt8](repeating: 0x33, count: 64))!
    private let other = ObjectOwner(key: [0x04] + [UInt8](repeating: 0x44, count: 64))!

    private func key() -> Key256 { Key256.random(using: &rng) }

    private func record(
        claims: Int = 1, tombstones: Int = 0, stored: Bool = true, kind: ObjectKind = .chunk
    ) -> ObjectRecord {
        let owners = (0..<(claims + tombstones)).map { i in
            ObjectOwner(key: [0x04] + [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: 63) + [UInt8(i >> 8)])!
        }
        return ObjectRecord(
            id: key(), kind: kind, isStored: stored,
            claims: owners.prefix(claims).map {
                OwnerClaim(owner: $0, claimedAt: Timestamp(nanoseconds: 1_700_000_000_000_000_000))
            },
            tombstones: owners.dropFirst(claims).map {
                Tombstone(owner: $0, deletedAt: Timestamp(seconds: 1_700_000_100), deleteID: self.key())
            })
    }

    private func range(_ bits: Int) -> KeyRange { KeyRange(containing: key(), bitLength: bits) }

    private let horizon = TombstoneHorizon(cutoff: Timestamp(seconds: 1_699_000_000))

    private func sampleMessages() -> [WireMessage] {
        let records = [
            record(), record(claims: 2, tombstones: 1, kind: .manifest),
            record(claims: 0, tombstones: 2, stored: false),
            ObjectRecord(
                id: key(), kind: .chunk, isStored: true, claims: [OwnerClaim(owner: .anonymous, claimedAt: .zero)]),
        ]
        return [
            .antiEntropyRequest(ExchangeRequest(horizon: .origin, body: .summaries([.everything]))),
            .antiEntropyRequest(
                ExchangeRequest(horizon: horizon, body: .summaries([range(1), range(7), range(8), range(256)]))),
            .antiEntropyRequest(ExchangeRequest(horizon: horizon, body: .children([range(4), range(13)]))),
            .antiEntropyRequest(
                ExchangeRequest(
                    horizon: horizon,
                    body: .records([
                        RecordQuery(range: range(12)),
                        RecordQuery(range: .everything, after: key()),
                    ]))),
            .antiEntropyAnswer(
                .summaries([
                    RangeSummary(count: 0, hash: RangeSummary.empty.hash),
                    RangeSummary(count: 1 << 40, hash: RangeHash(key())),
                ]), horizon: horizon),
            .antiEntropyAnswer(.summaries([]), horizon: .origin),
            .antiEntropyAnswer(
                .records([RecordPage(records: records, isComplete: true), RecordPage(records: [], isComplete: false)]),
                horizon: horizon),
            .antiEntropyAnswer(.horizonMismatch(horizon), horizon: horizon),
            .antiEntropyAnswer(.refused("too many ranges"), horizon: horizon),
            .shareRecords(records),
            .shareRecordsAck(merged: 3),
            .getDelete(key()),
            .signedDelete([1, 2, 3]),
        ]
    }

    private func encode(_ frame: WireFrame) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        try FrameEncoder.write(frame, to: &buffer)
        return buffer
    }

    private func decode(_ proto: Shoal_V1_Frame) throws -> WireFrame? {
        let bytes: [UInt8] = try proto.serializedBytes()
        var buffer = ByteBuffer()
        DataFrameCodec.writeVarint(UInt64(bytes.count), to: &buffer)
        buffer.writeBytes(bytes)
        return try FrameDecoder.readFrame(from: &buffer, maximumFrameSize: WireLimits.maximumFrameSize)
    }

    /// Decoding `proto` is refused as a bad request naming `what`.
    private func assertRefused(
        _ proto: Shoal_V1_Frame, _ what: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertThrowsError(try decode(proto), file: file, line: line) { error in
            guard let error = error as? FrameError else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertEqual(error.code, .badRequest, "\(error)", file: file, line: line)
            XCTAssertTrue("\(error)".contains(what), "\(error) does not mention \(what)", file: file, line: line)
        }
    }

    // MARK: Round trips and sizes

    func testEveryAntiEntropyBodyRoundTrips() throws {
        for (i, message) in sampleMessages().enumerated() {
            let frame = WireFrame(id: UInt64(i + 1), message)
            var buffer = try encode(frame)
            XCTAssertEqual(
                try FrameDecoder.readFrame(from: &buffer, maximumFrameSize: WireLimits.maximumFrameSize), frame,
                message.name)
        }
    }

    func testResponsesAreToldFromRequests() {
        for message in sampleMessages() {
            switch message {
            case .antiEntropyAnswer, .shareRecordsAck, .signedDelete: XCTAssertTrue(message.isResponse, message.name)
            default: XCTAssertFalse(message.isResponse, message.name)
            }
        }
    }

    /// ExchangeWireSize (what answers are budgeted by, and the benchmark counts) is the real
    /// encoder's size, frame id 2^20 (three varint bytes) included.
    func testBudgetedSizesAreTheEncodedSizes() throws {
        for message in sampleMessages() {
            let frame = WireFrame(id: 1 << 20, message)
            let encoded = try encode(frame).readableBytes
            switch message {
            case .antiEntropyRequest(let request):
                XCTAssertEqual(ExchangeWireSize.frame(request), encoded, "\(request)")
            case .antiEntropyAnswer(let answer, let horizon):
                XCTAssertEqual(ExchangeWireSize.frame(answer, horizon: horizon), encoded, "\(answer)")
            case .shareRecords(let records):
                let body = records.reduce(0) { $0 + ExchangeWireSize.message(ExchangeWireSize.record($1)) }
                XCTAssertEqual(ExchangeWireSize.frame(bodyField: 20, body: body), encoded)
            default:
                continue
            }
        }
    }

    func testAStoreChunkCarriesClaimsAndTombstonesOnBothCodecs() throws {
        let r = record(claims: 3, tombstones: 2, kind: .manifest)
        let data = ByteBuffer(repeating: 5, count: 70_000)
        let frame = WireFrame(
            id: 9,
            .storeChunk(
                StoreChunk(
                    id: r.id, data: data, kind: .manifest, root: .zero, ownerKey: Data(),
                    force: true, claims: r.claims, tombstones: r.tombstones)))
        let fast = try encode(frame)
        let general: [UInt8] = try frame.proto.serializedBytes()
        var prefixed = ByteBuffer()
        DataFrameCodec.writeVarint(UInt64(general.count), to: &prefixed)
        prefixed.writeBytes(general)
        XCTAssertEqual(
            Array(fast.readableBytesView), Array(prefixed.readableBytesView),
            "the hand codec writes what SwiftProtobuf writes")
        var buffer = fast
        XCTAssertEqual(try FrameDecoder.readFrame(from: &buffer, maximumFrameSize: WireLimits.maximumFrameSize), frame)
        XCTAssertEqual(try WireFrame(proto: try Shoal_V1_Frame(serializedBytes: general)), frame)
    }

    // MARK: Bounds

    func testRangeFieldsOutOfBoundsAreRefused() {
        func request(_ ranges: [Shoal_V1_KeyRange]) -> Shoal_V1_Frame {
            .with {
                $0.id = 3
                $0.antiEntropyRequest = .with { $0.summaries = .with { $0.ranges = ranges } }
            }
        }
        assertRefused(
            request([
                .with {
                    $0.bitLength = 257
                    $0.prefix = Data(repeating: 0, count: 33)
                }
            ]), "exceeds 256")
        assertRefused(
            request([
                .with {
                    $0.bitLength = 12
                    $0.prefix = Data([0xab])
                }
            ]), "2 expected")
        assertRefused(
            request([
                .with {
                    $0.bitLength = 12
                    $0.prefix = Data([0xab, 0xcd])
                }
            ]), "bits set past")
        assertRefused(
            request([
                .with {
                    $0.bitLength = 0
                    $0.prefix = Data([0])
                }
            ]), "0 expected")
        assertRefused(request(Array(repeating: KeyRange.everything.proto, count: 257)), "at most 256")
        XCTAssertNoThrow(try decode(request(Array(repeating: KeyRange.everything.proto, count: 256))))
        assertRefused(
            .with {
                $0.id = 3
                $0.antiEntropyRequest = .with {
                    $0.records = .with {
                        $0.queries = [
                            .with {
                                $0.range = KeyRange.everything.proto
                                $0.after = Data(repeating: 1, count: 31)
                            }
                        ]
                    }
                }
            }, "RecordQuery.after")
        assertRefused(
            .with {
                $0.id = 3
                $0.antiEntropyRequest = .with { $0.horizon = 5 }
            }, "no body")
    }

    func testAnswersOverTheirBoundsAreRefused() {
        func summaries(_ list: [Shoal_V1_RangeSummary]) -> Shoal_V1_Frame {
            .with {
                $0.id = 4
                $0.antiEntropyAnswer = .with { $0.summaries = .with { $0.summaries = list } }
            }
        }
        let good = Shoal_V1_RangeSummary.with {
            $0.count = 1
            $0.hash = Data(repeating: 7, count: 32)
        }
        assertRefused(summaries(Array(repeating: good, count: 4097)), "at most 4096")
        XCTAssertNoThrow(try decode(summaries(Array(repeating: good, count: 4096))))
        assertRefused(
            summaries([
                .with {
                    $0.count = 1
                    $0.hash = Data(repeating: 7, count: 31)
                }
            ]), "RangeSummary.hash")

        func pages(_ list: [Shoal_V1_RecordPage]) -> Shoal_V1_Frame {
            .with {
                $0.id = 4
                $0.antiEntropyAnswer = .with { $0.records = .with { $0.pages = list } }
            }
        }
        let one = record().proto
        assertRefused(pages(Array(repeating: Shoal_V1_RecordPage(), count: 257)), "at most 256")
        assertRefused(
            pages([
                .with { $0.records = Array(repeating: one, count: 600) },
                .with { $0.records = Array(repeating: one, count: 425) },
            ]),
            "at most 1024")
        XCTAssertNoThrow(try decode(pages([.with { $0.records = Array(repeating: one, count: 1024) }])))
        // A refusal's reason is cut, not trusted.
        let long = try? decode(
            .with {
                $0.id = 4
                $0.antiEntropyAnswer = .with { $0.refused = String(repeating: "x", count: 100_000) }
            })
        guard case .antiEntropyAnswer(.refused(let reason), _)? = long?.message else {
            return XCTFail("\(String(describing: long))")
        }
        XCTAssertEqual(reason.utf8.count, WireLimits.maximumRefusalBytes)
    }

    func testRecordsOutOfBoundsAreRefused() {
        func shared(_ records: [Shoal_V1_ObjectRecord]) -> Shoal_V1_Frame {
            .with {
                $0.id = 5
                $0.shareRecords = .with { $0.records = records }
            }
        }
        let good = record().proto
        assertRefused(shared(Array(repeating: good, count: 1025)), "at most 1024")
        var shortID = good
        shortID.id = Data(repeating: 1, count: 31)
        assertRefused(shared([shortID]), "ObjectRecord.id")
        var unknownKind = good
        unknownKind.kind = .UNRECOGNIZED(7)
        assertRefused(shared([unknownKind]), "unknown ObjectKind")
        var crowded = good
        crowded.claims = Array(repeating: good.claims[0], count: 4097)
        assertRefused(shared([crowded]), "at most 4096")
        var longOwner = good
        longOwner.tombstones = [
            .with {
                $0.ownerKey = Data(repeating: 4, count: 129)
                $0.deleteID = Data(repeating: 2, count: 32)
            }
        ]
        assertRefused(shared([longOwner]), "Tombstone.owner_key")
        var noOwner = good
        noOwner.tombstones = [.with { $0.deleteID = Data(repeating: 2, count: 32) }]
        assertRefused(shared([noOwner]), "Tombstone.owner_key")
        var shortDelete = good
        shortDelete.tombstones = [
            .with {
                $0.ownerKey = Data(owner.key)
                $0.deleteID = Data(repeating: 2, count: 8)
            }
        ]
        assertRefused(shared([shortDelete]), "Tombstone.delete_id")
        var badClaim = good
        badClaim.claims = [.with { $0.ownerKey = Data(repeating: 4, count: 12) }]
        assertRefused(shared([badClaim]), "OwnerClaim.owner_key")
    }

    func testDeleteMessagesOutOfBoundsAreRefused() {
        assertRefused(
            .with {
                $0.id = 6
                $0.getDelete = .with { $0.deleteID = Data(repeating: 1, count: 33) }
            }, "GetDelete.delete_id")
        assertRefused(
            .with {
                $0.id = 6
                $0.signedDelete = .with {
                    $0.delete = Data(repeating: 1, count: WireLimits.maximumSignedDeleteBytes + 1)
                }
            }, "SignedDelete")
    }

    func testAStoreChunkWithTooManyOwnerEntriesIsRefusedOnBothCodecs() throws {
        let id = key()
        let claim = OwnerClaim(owner: owner, claimedAt: Timestamp(nanoseconds: 5))
        let tombstone = Tombstone(owner: other, deletedAt: Timestamp(nanoseconds: 9), deleteID: key())
        let store = StoreChunk(
            id: id, data: ByteBuffer(repeating: 1, count: 10), kind: .chunk, root: .zero, ownerKey: Data(), force: true,
            claims: Array(repeating: claim, count: 3000), tombstones: Array(repeating: tombstone, count: 1097))
        let frame = WireFrame(id: 8, .storeChunk(store))
        var fast = try encode(frame)
        XCTAssertThrowsError(try FrameDecoder.readFrame(from: &fast, maximumFrameSize: WireLimits.maximumFrameSize)) {
            error in
            XCTAssertEqual((error as? FrameError)?.code, .badRequest, "\(error)")
            XCTAssertEqual((error as? FrameError)?.requestID, 8)
        }
        XCTAssertThrowsError(try WireFrame(proto: frame.proto)) { error in
            XCTAssertEqual((error as? FrameError)?.code, .badRequest, "\(error)")
        }
        var fitting = store
        fitting.tombstones.removeLast()
        var ok = try encode(WireFrame(id: 8, .storeChunk(fitting)))
        XCTAssertNotNil(try FrameDecoder.readFrame(from: &ok, maximumFrameSize: WireLimits.maximumFrameSize))
    }
}
