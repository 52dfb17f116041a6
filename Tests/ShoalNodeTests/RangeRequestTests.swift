import Foundation
import NIOCore
import NIOHTTP1
import ShoalCore
import XCTest

@testable import ShoalNode

/// `Range` requests through the HTTP API, at and across chunk boundaries, mapped onto chunks
/// fetched from another node.
final class RangeRequestTests: NodeTestCase, @unchecked Sendable {
    private static let chunk = 65536

    func testRangesAtChunkBoundaries() async throws {
        let nodes = try await startNodes(2, configure: { _, config in config.chunkSize = Self.chunk })
        try await waitForRoutingTables(nodes, minimum: 1)
        let (a, b) = (nodes[0], nodes[1])
        let api = try await startAPI(for: b)
        let size = Self.chunk * 3 + Self.chunk / 2
        let bytes = testBytes(count: size, seed: 11)

        for isPublic in [true, false] {
            let stored = try await a.put(bytes, isPublic: isPublic)
            _ = try await b.dropLocalCopies(of: stored.address)
            let path = "/v1/files/\(stored.address)"
            let label = isPublic ? "public" : "private"

            let satisfiable: [(String, ClosedRange<Int>)] = [
                ("bytes=0-0", 0...0),
                ("bytes=65536-131071", 65536...131071),  // exactly the second chunk
                ("bytes=65535-65536", 65535...65536),  // the two bytes around the first boundary
                ("bytes=60000-140000", 60000...140000),  // across two boundaries
                ("bytes=196608-229375", 196608...229375),  // the last, half chunk
                ("bytes=131072-131072", 131072...131072),  // first byte of a chunk
                ("bytes=-10", (size - 10)...(size - 1)),  // suffix
                ("bytes=-1", (size - 1)...(size - 1)),
                ("bytes=-1000000", 0...(size - 1)),  // suffix longer than the file
                ("bytes=131072-", 131072...(size - 1)),  // open-ended at a boundary
                ("bytes=229375-", 229375...(size - 1)),  // open-ended, last byte
                ("bytes=100-99999999", 100...(size - 1)),  // end past the file: clamped
            ]
            for (header, expected) in satisfiable {
                let r = try await api.request(.GET, path, headers: [("Range", header)])
                XCTAssertEqual(r.status, 206, "\(label) \(header)")
                XCTAssertEqual(
                    r.header("Content-Range"), "bytes \(expected.lowerBound)-\(expected.upperBound)/\(size)",
                    "\(label) \(header)")
                XCTAssertEqual(r.header("Content-Length"), "\(expected.count)", "\(label) \(header)")
                XCTAssertEqual(r.body.count, expected.count, "\(label) \(header)")
                XCTAssertTrue(r.body == Array(bytes[expected]), "\(label) \(header): wrong bytes")
            }

            for header in ["bytes=\(size)-", "bytes=\(size + 10)-\(size + 20)", "bytes=-0"] {
                let r = try await api.request(.GET, path, headers: [("Range", header)])
                XCTAssertEqual(r.status, 416, "\(label) \(header)")
                XCTAssertEqual(r.header("Content-Range"), "bytes */\(size)", "\(label) \(header)")
                XCTAssertEqual(r.errorCode, "range", "\(label) \(header)")
            }

            // No Range (and a Range in another unit, which may be ignored): the whole file.
            for headers in [[], [("Range", "items=0-5")]] {
                let r = try await api.request(.GET, path, headers: headers)
                XCTAssertEqual(r.status, 200, label)
                XCTAssertEqual(r.header("Accept-Ranges"), "bytes", label)
                XCTAssertEqual(r.header("Content-Length"), "\(size)", label)
                XCTAssertTrue(r.body == bytes, "\(label): whole file differs")
            }

            let head = try await api.request(.HEAD, path)
            XCTAssertEqual(head.status, 200, label)
            XCTAssertEqual(head.header("Content-Length"), "\(size)", "\(label): HEAD must give the file's length")
            XCTAssertTrue(head.body.isEmpty, label)

            // The client library's range path.
            var viaClient: [UInt8] = []
            let client = APIClient(address: api.address.description)
            try await client.get(stored.address.description, range: 65530...65545) { buffer, _ in
                viaClient.append(contentsOf: buffer.readableBytesView)
            }
            XCTAssertTrue(viaClient == Array(bytes[65530...65545]), label)
        }
    }

    func testRangesOfAnEmptyFile() async throws {
        let node = try await startNode()
        let api = try await startAPI(for: node)
        let stored = try await node.put([], isPublic: true)
        let path = "/v1/files/\(stored.address)"

        let whole = try await api.request(.GET, path)
        XCTAssertEqual(whole.status, 200)
        XCTAssertEqual(whole.header("Content-Length"), "0")
        XCTAssertTrue(whole.body.isEmpty)

        let ranged = try await api.request(.GET, path, headers: [("Range", "bytes=0-0")])
        XCTAssertEqual(ranged.status, 416)
        XCTAssertEqual(ranged.header("Content-Range"), "bytes */0")
    }
}
