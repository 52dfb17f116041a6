import Dispatch
import Foundation
import NIOCore
import ShoalCore
import ShoalFile
import ShoalWire

// libFuzzer target `manifest`: manifest decoding and the tree walk of `FileReader`.
//
// Input: 4 header bytes, then objects separated by `separator`. Header: a little-endian UInt16 that
// picks the read's offset (0…0xfffd: that fraction of the file's size; 0xfffe: the size itself;
// 0xffff: one past it) and a UInt16 length (0xffff: to the end). Each object is stored under its
// SHA-256 in an in-memory source; the first is the root of a public file. So that the fuzzer can
// build trees without inverting SHA-256, 31 bytes of 0xee then a byte k, anywhere in object i,
// stand for the ID of object k when k > i (objects are finished from the last one up). An object
// that is exactly `fill` (2 bytes), a byte b and a 3-byte big-endian n is n bytes of b, so a chunk
// of 64 KiB or more takes 6 bytes of input.
//
// Checks: every object that decodes as a manifest re-encodes and decodes to itself, and its
// range lookup never traps. `open`, `stat` and `read` may refuse the file, but only with a
// `FileReaderError` or the source's error; a `stat` lists as many chunks as the size needs; a
// `read` writes exactly the bytes of the range, the bytes of the chunks `stat` lists. The source
// returns at most `Budget.bytes` per input, so no manifest makes the reader run away.

private let separator: [UInt8] = [0xff, 0x53, 0x50, 0x4c]  // "\xffSPL"
private let fill: [UInt8] = [0xff, 0x52]  // "\xffR"
private let placeholderByte: UInt8 = 0xee
private let maximumObjects = 64
private let maximumFill = 1 << 20

private enum Budget {
    static let bytes = 16 << 20
    static let gets = 4096
    static let generated = 4 << 20
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzManifest(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: count))
    guard input.count >= 4 else { return 0 }
    let offsetPick = UInt16(input[0]) | UInt16(input[1]) << 8
    let lengthPick = UInt16(input[2]) | UInt16(input[3]) << 8
    let objects = buildObjects(split(input[4...]))
    guard let root = objects.first else { return 0 }

    for object in objects { checkDecoding(object.bytes) }

    let source = MemorySource(objects)
    let address = FileAddress(root: root.id, key: nil)
    let reader = FileReader(source: source, maxInFlight: 4)
    runBlocking {
        await walk(reader, address, source: source, offsetPick: offsetPick, lengthPick: lengthPick)
    }
    return 0
}

// MARK: Building the objects

private func split(_ bytes: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
    var parts: [ArraySlice<UInt8>] = []
    var start = bytes.startIndex
    var i = start
    while i + separator.count <= bytes.endIndex, parts.count < maximumObjects - 1 {
        if bytes[i..<(i + separator.count)].elementsEqual(separator) {
            parts.append(bytes[start..<i])
            i += separator.count
            start = i
        } else {
            i += 1
        }
    }
    parts.append(bytes[start...])
    return parts
}

private struct StoredObject {
    var id: ContentID
    var bytes: ByteBuffer
}

private func buildObjects(_ parts: [ArraySlice<UInt8>]) -> [StoredObject] {
    var generated = 0
    var ids = [ContentID?](repeating: nil, count: parts.count)
    var objects = [StoredObject?](repeating: nil, count: parts.count)
    for i in parts.indices.reversed() {
        var bytes = Array(parts[i])
        if bytes.count == 6, bytes.starts(with: fill) {
            let n = min(
                Int(bytes[3]) << 16 | Int(bytes[4]) << 8 | Int(bytes[5]), maximumFill, Budget.generated - generated)
            generated += n
            bytes = Array(repeating: bytes[2], count: n)
        } else {
            substitutePlaceholders(in: &bytes, after: i, ids: ids)
        }
        let buffer = ByteBuffer(bytes: bytes)
        let id = ContentID.sha256(of: buffer)
        ids[i] = id
        objects[i] = StoredObject(id: id, bytes: buffer)
    }
    return objects.compactMap { $0 }
}

/// Replaces each `0xee × 31, k` with the ID of object k, for k after `index`.
private func substitutePlaceholders(in bytes: inout [UInt8], after index: Int, ids: [ContentID?]) {
    guard bytes.count >= 32 else { return }
    var i = 0
    while i + 32 <= bytes.count {
        guard bytes[i] == placeholderByte else {
            i += 1
            continue
        }
        var run = 1
        while run < 31 && bytes[i + run] == placeholderByte { run += 1 }
        let k = Int(bytes[i + 31])
        if run == 31, k > index, k < ids.count, let id = ids[k] {
            bytes.replaceSubrange(i..<(i + 32), with: id.bytes)
            i += 32
        } else {
            i += 1
        }
    }
}

// MARK: Checks

private func checkDecoding(_ bytes: ByteBuffer) {
    guard let manifest = try? Manifest(serialized: bytes.readableBytesView) else { return }
    let encoded = manifest.serialized()
    guard let again = try? Manifest(serialized: encoded) else {
        fail("a valid manifest re-encodes to bytes that do not decode: \(manifest)")
    }
    require(again == manifest, "a manifest re-encodes differently:\n was \(manifest)\n now \(again)")
    require(again.serialized() == encoded, "a manifest's encoding is not deterministic")
    _ = (manifest.chunkCount, manifest.sealIndex)
    let size = manifest.totalSize
    for range in [0..<size, 0..<1, size / 2..<size, size..<size] {
        let entries = manifest.entries(overlapping: range)
        require(entries.count <= manifest.entries.count, "more overlapping entries than entries")
    }
}

private func walk(
    _ reader: FileReader, _ address: FileAddress, source: MemorySource,
    offsetPick: UInt16, lengthPick: UInt16
) async {
    let file: OpenFile
    do {
        file = try await reader.open(address)
    } catch {
        return checkRefusal(error, "open")
    }
    let size = file.size

    var stat: FileStat?
    do {
        let s = try await reader.stat(address)
        require(s.size == size, "stat gives \(s.size) bytes, open \(size)")
        require(
            UInt64(s.chunkIDs.count) == file.chunkCount, "stat lists \(s.chunkIDs.count) chunks for \(file.chunkCount)")
        require(s.manifestIDs.first == address.root, "stat does not list the root first")
        stat = s
    } catch {
        checkRefusal(error, "stat")
    }

    let offset: UInt64
    switch offsetPick {
    case 0xffff: offset = size &+ 1
    case 0xfffe: offset = size
    default: offset = UInt64(0xfffd).dividingFullWidth(size.multipliedFullWidth(by: UInt64(offsetPick))).quotient
    }
    let length: UInt64? = lengthPick == 0xffff ? nil : UInt64(lengthPick)
    let expectedCount = offset > size ? 0 : min(length ?? size, size - offset)
    let collect = expectedCount <= 1 << 20
    var received = ByteBuffer()
    var receivedCount: UInt64 = 0
    do {
        let written = try await reader.read(file, offset: offset, length: length) { bytes in
            receivedCount += UInt64(bytes.readableBytes)
            if collect {
                var bytes = bytes
                received.writeBuffer(&bytes)
            }
        }
        require(offset <= size, "a read from \(offset), past the end (\(size)), succeeded")
        require(
            written == expectedCount && receivedCount == written,
            "a read of \(String(describing: length)) bytes from \(offset) of \(size) says \(written), wrote \(receivedCount)"
        )
        if collect, let stat,
            let expected = source.bytes(
                of: stat.chunkIDs, in: offset..<(offset + expectedCount), chunkSize: stat.chunkSize)
        {
            require(
                received == expected, "a read from \(offset) of \(expectedCount) bytes gave other bytes than its chunks"
            )
        }
    } catch {
        checkRefusal(error, "read")
    }
}

private func checkRefusal(_ error: Error, _ operation: String) {
    require(
        error is FileReaderError || error is MemorySource.Refusal, "\(operation) threw \(type(of: error)): \(error)")
}

private func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fail(message()) }
}

private func fail(_ message: String) -> Never {
    fatalError("fuzz-manifest: \(message)")
}

// MARK: The object source

/// Objects in memory, each verified against its ID before it is returned (the `ObjectSource`
/// contract), within a budget of gets and bytes per input.
private final class MemorySource: ObjectSource, @unchecked Sendable {
    enum Refusal: Error {
        case notFound(ContentID)
        case overBudget
        case hashMismatch(ContentID)
    }

    private let objects: [ContentID: ByteBuffer]
    private let lock = NSLock()
    private var gets = 0
    private var bytesReturned = 0

    init(_ objects: [StoredObject]) {
        self.objects = Dictionary(objects.map { ($0.id, $0.bytes) }, uniquingKeysWith: { first, _ in first })
    }

    func get(id: ContentID, kind: ObjectKind, expectedSize: UInt64?) async throws -> ByteBuffer {
        guard let bytes = objects[id] else { throw Refusal.notFound(id) }
        try lock.withLock {
            gets += 1
            bytesReturned += bytes.readableBytes
            guard gets <= Budget.gets, bytesReturned <= Budget.bytes else { throw Refusal.overBudget }
        }
        guard ContentID.sha256(of: bytes) == id else { throw Refusal.hashMismatch(id) }
        return bytes
    }

    /// The bytes of `range` in a public file of these chunks (`nil` if a chunk is missing).
    func bytes(of chunks: [ContentID], in range: Range<UInt64>, chunkSize: UInt32) -> ByteBuffer? {
        var out = ByteBuffer()
        for (index, id) in chunks.enumerated() {
            let start = UInt64(index) * UInt64(chunkSize)
            guard start < range.upperBound else { break }
            // Every chunk but the last is `chunkSize` long, so a chunk ending before the range is skipped unread.
            guard start + UInt64(chunkSize) > range.lowerBound else { continue }
            guard var chunk = objects[id] else { return nil }
            let end = start + UInt64(chunk.readableBytes)
            guard end > range.lowerBound else { return nil }
            let lower = Int(max(range.lowerBound, start) - start)
            let upper = Int(min(range.upperBound, end) - start)
            chunk.moveReaderIndex(forwardBy: lower)
            var slice = chunk.readSlice(length: upper - lower)!
            out.writeBuffer(&slice)
        }
        return out
    }
}

// MARK: Running async code from libFuzzer's thread

/// Runs `body` on the concurrency pool and waits for it (libFuzzer calls the target synchronously).
private func runBlocking(_ body: @escaping @Sendable () async -> Void) {
    let semaphore = DispatchSemaphore(value: 0)
    Task {
        await body()
        semaphore.signal()
    }
    semaphore.wait()
}
