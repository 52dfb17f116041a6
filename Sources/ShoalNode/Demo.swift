import Crypto
import Foundation
import Logging
import NIOCore
import ShoalCore
import ShoalFile
import ShoalStore
import ShoalWire

/// The original three-node demo, done for real: three nodes on ports 3000, 4000 and 5000 (free
/// ports if those are taken), the third bootstrapping from the first two; 20 files stored through
/// the third, removed from its disk, read back from the network; then a large file streamed in and
/// out with its throughput. One process, temporary data directories, cleaned up afterwards.
public struct ShoalDemo: Sendable {
    public var ports: [Int] = [3000, 4000, 5000]
    public var fileCount = 20
    public var largeFileSize: UInt64 = 256 << 20
    public var host = "127.0.0.1"

    public init() {}

    /// Runs the demo, reporting through `say`.
    /// - Throws: when any step fails; the temporary directories are removed either way.
    public func run(logger: Logger = Logger(label: "shoal.demo"), say: @Sendable (String) -> Void) async throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent(
            "shoal-demo-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        var nodes: [ShoalNode] = []
        defer { try? FileManager.default.removeItem(at: base) }
        var failure: (any Error)?
        // The nodes run as children of this group, which ends once the steps are done and every
        // node has stopped.
        await withDiscardingTaskGroup { group in
            do {
                try await runSteps(base: base, nodes: &nodes, group: &group, logger: logger, say: say)
            } catch {
                failure = error
            }
            for node in nodes { await node.stop(handOff: false) }
        }
        if let failure { throw failure }
        say("stopped the three nodes and removed \(base.path)")
    }

    private func runSteps(
        base: URL, nodes: inout [ShoalNode], group: inout DiscardingTaskGroup, logger: Logger,
        say: @Sendable (String) -> Void
    ) async throws {
        // 1. Three nodes; the third bootstraps from the first two.
        for (i, port) in ports.enumerated() {
            var config = NodeConfiguration(
                listen: PeerAddress(host: host, port: port),
                dataDirectory: base.appendingPathComponent("node\(i + 1)"))
            config.bootstrap = i == 2 ? nodes.map(\.contact.address) : []
            config.bootstrapInterval = .seconds(2)
            let node: ShoalNode
            do {
                node = try await ShoalNode.start(configuration: config, logger: logger)
            } catch is NodeError {
                config.listen = PeerAddress(host: host, port: 0)
                node = try await ShoalNode.start(configuration: config, logger: logger)
                say("port \(port) is taken; node \(i + 1) uses \(node.contact.address) instead")
            }
            nodes.append(node)
            group.addTask { try? await node.run() }
            say(
                "node \(i + 1) listening on \(node.contact.address)  id \(node.nodeID.short)"
                    + (config.bootstrap.isEmpty
                        ? "" : "  bootstrap \(config.bootstrap.map(\.description).joined(separator: ", "))"))
        }
        let (first, third) = (nodes[0], nodes[2])
        try await waitUntil(seconds: 30, "every node to know the other two") {
            for node in nodes where await node.dht.size < 2 { return false }
            return true
        }
        say("all three nodes know each other (Kademlia + SWIM over TLS)")

        // 2. Twenty files through the third node.
        var stored: [(FileAddress, String)] = []
        for i in 0..<fileCount {
            let text = "my big data file here! #\(i)"
            let result = try await third.files.put(
                ByteBufferSequence(buffers: [ByteBuffer(string: text)]), isPublic: false, name: "demo-\(i)")
            stored.append((result.address, text))
        }
        say("stored \(fileCount) files through node 3 (each encrypted, on \(min(3, nodes.count)) replicas)")

        // 3. Removed from the third node's disk, then read back from the network.
        var removed = 0
        for (address, _) in stored { removed += try await third.dropLocalCopies(of: address) }
        say("removed \(removed) objects of those files from node 3's disk")
        for (i, (address, text)) in stored.enumerated() {
            var collected = ByteBuffer()
            let file = try await third.files.open(address)
            try await third.files.read(file) { buffer in
                var b = buffer
                collected.writeBuffer(&b)
            }
            let got = String(buffer: collected)
            guard got == text else { throw DemoError(message: "file \(i) came back as '\(got)', expected '\(text)'") }
            say("[\(third.contact.address)] fetched from the network: \(got)")
        }

        // 4. A large generated file, streamed in through node 1 and out through node 3.
        let size = largeFileSize
        let putStart = ContinuousClock.now
        let big = try await first.files.put(
            GeneratedBytes(size: size, seed: 42),
            isPublic: false, name: "demo-large")
        let putSeconds = ShoalDemo.seconds(ContinuousClock.now - putStart)
        let digestIn = ShoalDemo.hex(GeneratedBytes.digest(size: size, seed: 42))
        say(
            String(
                format: "put %@ through node 1 in %.2f s: %.1f MB/s (%llu chunks)", ShoalDemo.human(size), putSeconds,
                Double(size) / putSeconds / 1e6, big.chunkCount))
        let dropped = try await third.dropLocalCopies(of: big.address)
        say("removed node 3's \(dropped) local objects of the large file, so it streams from nodes 1 and 2")
        var hasherOut = SHA256()
        var received: UInt64 = 0
        let getStart = ContinuousClock.now
        let file = try await third.files.open(big.address)
        try await third.files.read(file) { buffer in
            buffer.withUnsafeReadableBytes { hasherOut.update(bufferPointer: $0) }
            received += UInt64(buffer.readableBytes)
        }
        let getSeconds = ShoalDemo.seconds(ContinuousClock.now - getStart)
        let digestOut = ShoalDemo.hex(hasherOut.finalize())
        guard received == size, digestOut == digestIn else {
            throw DemoError(
                message:
                    "large file mismatch: got \(received) bytes with SHA-256 \(digestOut), expected \(size) bytes with \(digestIn)"
            )
        }
        say(
            String(
                format: "got %@ through node 3 in %.2f s: %.1f MB/s, SHA-256 verified (%@…)", ShoalDemo.human(size),
                getSeconds,
                Double(size) / getSeconds / 1e6, String(digestOut.prefix(16))))
    }

    private func waitUntil(seconds: Int, _ what: String, _ condition: () async -> Bool) async throws {
        for _ in 0..<(seconds * 20) {
            if await condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw DemoError(message: "timed out after \(seconds) s waiting for \(what)")
    }

    static func seconds(_ d: Duration) -> Double { d.inSeconds }

    static func hex(_ digest: some Sequence<UInt8>) -> String { digest.map { String(format: "%02x", $0) }.joined() }

    static func human(_ n: UInt64) -> String { ByteCountFormat.string(n) }
}

public struct DemoError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// A fixed list of buffers as an async sequence.
public struct ByteBufferSequence: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    public let buffers: [ByteBuffer]
    public init(buffers: [ByteBuffer]) { self.buffers = buffers }
    public struct AsyncIterator: AsyncIteratorProtocol {
        var iterator: IndexingIterator<[ByteBuffer]>
        public mutating func next() async -> ByteBuffer? { iterator.next() }
    }
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(iterator: buffers.makeIterator()) }
}

/// `size` deterministic pseudo-random bytes in 1 MiB buffers, generated on the fly (never all in
/// memory): for demos, tests and benchmarks.
public struct GeneratedBytes: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    public let size: UInt64
    public let seed: UInt64
    public let bufferSize: Int

    public init(size: UInt64, seed: UInt64, bufferSize: Int = 1 << 20) {
        self.size = size
        self.seed = seed
        self.bufferSize = bufferSize
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var remaining: UInt64
        var state: UInt64
        let bufferSize: Int
        public mutating func next() async -> ByteBuffer? {
            guard remaining > 0 else { return nil }
            let n = Int(Swift.min(UInt64(bufferSize), remaining))
            remaining -= UInt64(n)
            var buffer = ByteBuffer()
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: n) { ptr in
                GeneratedBytes.fill(UnsafeMutableRawBufferPointer(rebasing: ptr[0..<n]), state: &state)
                return n
            }
            return buffer
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(remaining: size, state: seed, bufferSize: bufferSize)
    }

    /// Fills `bytes` with the next bytes of the stream whose generator state is `state`.
    public static func fill(_ bytes: UnsafeMutableRawBufferPointer, state: inout UInt64) {
        let words = bytes.count / 8
        for i in 0..<words { bytes.storeBytes(of: step(&state), toByteOffset: i * 8, as: UInt64.self) }
        if bytes.count % 8 != 0 {
            var last = step(&state)
            for j in (words * 8)..<bytes.count {
                bytes[j] = UInt8(truncatingIfNeeded: last)
                last >>= 8
            }
        }
    }

    static func step(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// SHA-256 of the whole generated stream, computed by streaming it.
    public static func digest(size: UInt64, seed: UInt64) -> SHA256.Digest {
        var hasher = SHA256()
        var state = seed
        var remaining = size
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while remaining > 0 {
            let n = Int(Swift.min(UInt64(buffer.count), remaining))
            buffer.withUnsafeMutableBytes { fill(UnsafeMutableRawBufferPointer(rebasing: $0[0..<n]), state: &state) }
            buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            remaining -= UInt64(n)
        }
        return hasher.finalize()
    }
}

extension ShoalNode {
    /// Deletes this node's local copies of a file's objects (replicas and cache entries), as if
    /// its disk had lost them. Used by the demo and by tests.
    /// - Returns: how many objects were removed.
    public func dropLocalCopies(of address: FileAddress) async throws -> Int {
        let stat = try await FileReader(source: files.fetcher, maxInFlight: 8).stat(try await files.resolve(address))
        var removed = 0
        for id in stat.allObjectIDs where try await objects.drop(id) { removed += 1 }
        return removed
    }
}
