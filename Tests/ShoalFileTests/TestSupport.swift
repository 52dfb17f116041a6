import Foundation
import NIOConcurrencyHelpers
import NIOCore
import ShoalCore
import ShoalFile
import ShoalTestKit
import XCTest

/// Deterministic pseudo-random bytes.
func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var rng = SeededRandom(seed: seed)
    return (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
}

/// Yields `bytes` as ByteBuffers of `pieceSize` bytes (the last shorter), never aligned to chunks
/// unless asked.
struct ByteStream: AsyncSequence {
    typealias Element = ByteBuffer
    let bytes: [UInt8]
    var pieceSize = 10_007

    struct AsyncIterator: AsyncIteratorProtocol {
        let bytes: [UInt8]
        let pieceSize: Int
        var offset = 0
        mutating func next() async -> ByteBuffer? {
            guard offset < bytes.count else { return nil }
            let end = Swift.min(bytes.count, offset + pieceSize)
            defer { offset = end }
            return ByteBuffer(bytes: bytes[offset..<end])
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(bytes: bytes, pieceSize: pieceSize) }
}

/// Objects in memory, as sink and source, with hooks to tamper with them and to watch the traffic.
/// As a source it verifies what it returns (the ``ObjectSource`` contract) unless made with
/// `verifying: false`, which stands for a broken source, to test what the reader itself catches.
final class MemoryObjectStore: ObjectSink, ObjectSource, @unchecked Sendable {
    let verifying: Bool

    init(verifying: Bool = true) {
        self.verifying = verifying
    }

    struct State {
        var objects: [ContentID: [UInt8]] = [:]
        var kinds: [ContentID: ObjectKind] = [:]
        var putOrder: [ContentID] = []
        var gets: [ContentID] = []
        var concurrentPuts = 0
        var maxConcurrentPuts = 0
        var concurrentGets = 0
        var maxConcurrentGets = 0
        /// Served instead of the real object: id → other id.
        var substitutes: [ContentID: ContentID] = [:]
    }

    let state = NIOLockedValueBox(State())

    func put(id: ContentID, bytes buffer: ByteBuffer, kind: ObjectKind) async throws {
        let bytes = Array(buffer.readableBytesView)
        state.withLockedValue {
            $0.concurrentPuts += 1
            $0.maxConcurrentPuts = max($0.maxConcurrentPuts, $0.concurrentPuts)
        }
        await Task.yield()
        XCTAssertEqual(Key256.sha256(of: bytes), id, "a sink is handed bytes that hash to their ID")
        state.withLockedValue {
            $0.objects[id] = bytes
            $0.kinds[id] = kind
            $0.putOrder.append(id)
            $0.concurrentPuts -= 1
        }
    }

    func get(id: ContentID, kind: ObjectKind, expectedSize: UInt64?) async throws -> ByteBuffer {
        state.withLockedValue {
            $0.concurrentGets += 1
            $0.maxConcurrentGets = max($0.maxConcurrentGets, $0.concurrentGets)
            $0.gets.append(id)
        }
        await Task.yield()
        let bytes = try state.withLockedValue { state in
            state.concurrentGets -= 1
            let served = state.substitutes[id] ?? id
            guard let bytes = state.objects[served] else { throw MissingObject(id: id) }
            return bytes
        }
        if verifying, Key256.sha256(of: bytes) != id { throw AlteredObject(id: id) }
        return ByteBuffer(bytes: bytes)
    }

    struct MissingObject: Error { let id: ContentID }
    struct AlteredObject: Error { let id: ContentID }

    var objects: [ContentID: [UInt8]] { state.withLockedValue { $0.objects } }
    func kind(of id: ContentID) -> ObjectKind? { state.withLockedValue { $0.kinds[id] } }
    func bytes(of id: ContentID) -> [UInt8]? { state.withLockedValue { $0.objects[id] } }

    func replace(_ id: ContentID, with bytes: [UInt8]) {
        state.withLockedValue { $0.objects[id] = bytes }
    }

    func store(_ bytes: [UInt8]) -> ContentID {
        let id = Key256.sha256(of: bytes)
        state.withLockedValue { $0.objects[id] = bytes }
        return id
    }

    func resetCounters() {
        state.withLockedValue {
            $0.gets = []
            $0.maxConcurrentGets = 0
        }
    }
}

/// Reads a whole range into one array.
func readAll(
    _ reader: FileReader, _ address: FileAddress, offset: UInt64 = 0, length: UInt64? = nil
) async throws -> [UInt8] {
    var out: [UInt8] = []
    try await reader.read(address, offset: offset, length: length) { buffer in
        out += buffer.readableBytesView
    }
    return out
}

/// Asserts that `body` throws an error of type `E` for which `check` holds.
func assertThrows<E: Error>(
    _ type: E.Type, _ body: () async throws -> Void, file: StaticString = #filePath,
    line: UInt = #line, _ check: (E) -> Bool
) async {
    do {
        try await body()
        XCTFail("expected \(E.self), nothing was thrown", file: file, line: line)
    } catch let error as E {
        XCTAssertTrue(check(error), "unexpected \(error)", file: file, line: line)
    } catch {
        XCTFail("expected \(E.self), got \(error)", file: file, line: line)
    }
}
