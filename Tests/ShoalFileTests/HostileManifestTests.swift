import Foundation
import NIOCore
import ShoalCore
import ShoalFile
import ShoalWire
import XCTest

/// The manifests of issue 10 that once trapped a node, read through `FileReader` as a node reads a
/// GET: as a file's root and as a node further down its tree. Each is refused with a
/// `FileReaderError` by `open`, `stat` and `read` alike.
final class HostileManifestTests: XCTestCase {
    private let chunkSize: UInt32 = 65_536

    private func hostileManifests(pointingAt chunk: ContentID) -> [Manifest] {
        [
            // Entry sizes that wrap around UInt64 to the declared total.
            Manifest(
                totalSize: 10, chunkSize: chunkSize, cipher: .none, depth: 1,
                entries: [.init(id: chunk, size: .max), .init(id: chunk, size: 11)]),
            // A size no integer conversion survives.
            Manifest(
                totalSize: .max, chunkSize: chunkSize, cipher: .none, depth: 1, entries: [.init(id: chunk, size: .max)]),
            // A leaf whose chunk sizes wrap around.
            Manifest(
                totalSize: 5, chunkSize: chunkSize, cipher: .none,
                entries: [.init(id: chunk, size: .max - 65_535), .init(id: chunk, size: 65_541)]),
        ]
    }

    private func put(_ bytes: [UInt8], _ kind: ObjectKind, into store: MemoryObjectStore) async throws -> ContentID {
        let id = Key256.sha256(of: bytes)
        try await store.put(id: id, bytes: ByteBuffer(bytes: bytes), kind: kind)
        return id
    }

    private func assertRefused(_ reader: FileReader, _ address: FileAddress, line: UInt = #line) async {
        await assertThrows(FileReaderError.self, { _ = try await reader.open(address) }, line: line) { _ in true }
        await assertThrows(FileReaderError.self, { _ = try await reader.stat(address) }, line: line) { _ in true }
        for offset: UInt64 in [0, 5, 11] {
            await assertThrows(
                FileReaderError.self, { _ = try await readAll(reader, address, offset: offset) }, line: line
            ) {
                $0.code == .corrupt || $0.code == .keyRequired || $0.code == .rangeNotSatisfiable
            }
        }
    }

    func testAsTheRootTheyAreRefused() async throws {
        let store = MemoryObjectStore()
        let chunk = try await put(Array("a chunk".utf8), .chunk, into: store)
        let reader = FileReader(source: store)
        for manifest in hostileManifests(pointingAt: chunk) {
            let root = try await put(manifest.serialized(), .manifest, into: store)
            await assertRefused(reader, FileAddress(root: root, key: nil))
        }
    }

    func testBelowAValidRootTheyAreCorrupt() async throws {
        let store = MemoryObjectStore()
        let chunk = try await put(Array("a chunk".utf8), .chunk, into: store)
        let reader = FileReader(source: store)
        for manifest in hostileManifests(pointingAt: chunk) {
            var child = manifest
            child.depth = 0
            let childID = try await put(child.serialized(), .manifest, into: store)
            let root = Manifest(
                totalSize: 10, chunkSize: chunkSize, cipher: .none, depth: 1, entries: [.init(id: childID, size: 10)])
            let address = FileAddress(root: try await put(root.serialized(), .manifest, into: store), key: nil)
            _ = try await reader.open(address)
            await assertThrows(FileReaderError.self, { _ = try await reader.stat(address) }) { $0.code == .corrupt }
            await assertThrows(FileReaderError.self, { _ = try await readAll(reader, address, offset: 3) }) {
                $0.code == .corrupt
            }
        }
    }
}
