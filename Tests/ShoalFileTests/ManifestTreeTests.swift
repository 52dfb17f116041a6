import ShoalCore
import ShoalTestKit
import ShoalWire
import XCTest

@testable import ShoalFile

final class ManifestTreeTests: XCTestCase {
    /// The ID of virtual chunk `index` (no data is generated).
    private func chunkID(_ index: UInt64) -> ContentID { Key256(words: (0x5348_4f41_4c00_0000, 0, index, ~index)) }

    func testHundredGiBVirtualFileMakesAMultiLevelTreeOfBoundedNodesWithWorkingRangeLookup() throws {
        let chunkSize: UInt64 = 1 << 20
        let size: UInt64 = 100 << 30
        let chunkCount = size / chunkSize
        var builder = ManifestTreeBuilder(chunkSize: UInt32(chunkSize), cipher: .aes256GCM)
        var nodes: [ContentID: Manifest] = [:]
        var largestNode = 0
        func emit(_ node: Manifest) throws -> ContentID {
            let bytes = node.serialized()
            largestNode = max(largestNode, bytes.count + Sealer.overhead)
            XCTAssertEqual(try Manifest(serialized: bytes), node, "every node survives its encoding")
            let id = Key256.sha256(of: bytes)
            nodes[id] = node
            return id
        }
        for index in 0..<chunkCount {
            try builder.add(Manifest.Entry(id: chunkID(index), size: chunkSize), emit: emit)
        }
        let root = try builder.finish(emit: emit)
        largestNode = max(largestNode, root.serialized().count + Sealer.overhead)

        XCTAssertEqual(root.totalSize, size)
        XCTAssertEqual(root.chunkCount, chunkCount)
        XCTAssertGreaterThanOrEqual(root.depth, 1, "102,400 chunks do not fit one node")
        XCTAssertEqual(nodes.count, 7, "six full leaves of 16,384 chunks and one of 4,096")
        XCTAssertLessThan(largestNode, WireLimits.maximumFrameSize, "every node fits a frame")
        XCTAssertLessThan(largestNode, ObjectSize.maximum)

        var rng = SeededRandom(seed: 100)
        var offsets: [UInt64] = [
            0, chunkSize - 1, chunkSize, 16_384 * chunkSize - 1, 16_384 * chunkSize, size / 2 + 12_345, size - 1,
        ]
        offsets += (0..<20).map { _ in UInt64.random(in: 0..<size, using: &rng) }
        for offset in offsets {
            var node = root
            var depthSeen = 0
            while node.depth > 0 {
                let hits = node.entries(overlapping: offset..<(offset + 1))
                XCTAssertEqual(hits.count, 1)
                node = try XCTUnwrap(nodes[hits[0].entry.id])
                depthSeen += 1
            }
            XCTAssertEqual(depthSeen, Int(root.depth))
            let hits = node.entries(overlapping: offset..<(offset + 1))
            XCTAssertEqual(hits.count, 1)
            XCTAssertEqual(hits[0].entry.id, chunkID(offset / chunkSize), "offset \(offset)")
            XCTAssertEqual(hits[0].offset, offset / chunkSize * chunkSize)
        }
    }
}
