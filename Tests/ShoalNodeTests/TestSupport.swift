import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import ShoalCore
import ShoalFile
import ShoalStore
import XCTest

@testable import ShoalNode

/// A test case that starts real nodes on loopback, each with its own temporary data directory,
/// and stops them (and any HTTP API it started) in `tearDown`, whatever the test did.
class NodeTestCase: XCTestCase, @unchecked Sendable {
    private var nodes: [ShoalNode] = []
    /// Each node's `run()`, awaited in `tearDown` once the node was asked to stop.
    private var runs: [Task<Void, Never>] = []
    private var apis: [RunningAPI] = []
    private var directories: [URL] = []
    private var cleanups: [@Sendable () async -> Void] = []

    override func tearDown() async throws {
        for api in apis.reversed() { await api.stop() }
        apis = []
        for cleanup in cleanups.reversed() { await cleanup() }
        cleanups = []
        for node in nodes.reversed() { await node.stop(handOff: false) }
        for run in runs { await run.value }
        nodes = []
        runs = []
        for dir in directories { try? FileManager.default.removeItem(at: dir) }
        directories = []
        try await super.tearDown()
    }

    /// Logs at `error` unless `SHOAL_TEST_LOG` names another level (e.g. `warning`, `debug`).
    static func testLogger(_ label: String = "shoal.test") -> Logger {
        var logger = Logger(label: label, factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel =
            ProcessInfo.processInfo.environment["SHOAL_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .error
        return logger
    }

    /// Runs `cleanup` in `tearDown`, before the nodes stop.
    func addCleanup(_ cleanup: @escaping @Sendable () async -> Void) {
        cleanups.append(cleanup)
    }

    /// A fresh directory under the system temp directory, removed in `tearDown`.
    func makeTemporaryDirectory(_ prefix: String = "shoal-test") throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "\(prefix)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        directories.append(dir)
        return dir
    }

    /// Starts one node on `host` with a free port, short test intervals, and its own data directory.
    func startNode(
        host: String = "127.0.0.1", bootstrap: [ShoalNode] = [],
        configure: (inout NodeConfiguration) -> Void = { _ in }
    ) async throws -> ShoalNode {
        let dir = try makeTemporaryDirectory("shoal-node")
        var config = NodeConfiguration(listen: PeerAddress(host: host, port: 0), dataDirectory: dir)
        config.bootstrap = bootstrap.map(\.contact.address)
        config.bootstrapInterval = .seconds(1)
        configure(&config)
        return try await launch(config)
    }

    /// Starts a node with `config` and runs it until `tearDown` (or an earlier `stop`).
    func launch(_ config: NodeConfiguration) async throws -> ShoalNode {
        let node = try await ShoalNode.start(configuration: config, logger: Self.testLogger("shoal.node"))
        nodes.append(node)
        runs.append(Task { try? await node.run() })
        return node
    }

    /// Starts `count` nodes; node `i` bootstraps from the nodes `bootstrap(i)` names (earlier ones).
    func startNodes(
        _ count: Int, bootstrap: (Int) -> [Int] = { $0 == 0 ? [] : [0] },
        configure: (Int, inout NodeConfiguration) -> Void = { _, _ in }
    ) async throws -> [ShoalNode] {
        var started: [ShoalNode] = []
        for i in 0..<count {
            let peers = bootstrap(i).map { started[$0] }
            started.append(try await startNode(bootstrap: peers) { configure(i, &$0) })
        }
        return started
    }

    /// Starts the HTTP API of `node` on 127.0.0.1 with a free port; stopped in `tearDown`.
    func startAPI(
        for node: ShoalNode, token: String? = nil, limits: HTTPAPI.Limits = HTTPAPI.Limits()
    ) async throws -> RunningAPI {
        let api = try await RunningAPI.start(
            node: node, token: token, limits: limits, logger: Self.testLogger("shoal.api"))
        apis.append(api)
        return api
    }

    /// Polls `condition` every 50 ms until it holds; fails the test after `seconds` (a bound, not
    /// an assertion about speed).
    func waitUntil(
        _ what: String, seconds: Int = 30, file: StaticString = #filePath, line: UInt = #line,
        _ condition: () async throws -> Bool
    ) async throws {
        for _ in 0..<(seconds * 20) {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        XCTFail("timed out after \(seconds) s waiting for \(what)", file: file, line: line)
        throw TestFailure("timed out waiting for \(what)")
    }

    /// Waits until every node's routing table holds at least `minimum` contacts.
    func waitForRoutingTables(_ nodes: [ShoalNode], minimum: Int, seconds: Int = 30) async throws {
        try await waitUntil("every routing table to hold \(minimum) contacts", seconds: seconds) {
            for node in nodes where await node.dht.size < minimum { return false }
            return true
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

// MARK: - Bytes

/// Deterministic pseudo-random bytes (SplitMix64), so failures reproduce.
func testBytes(count: Int, seed: UInt64) -> [UInt8] {
    var state = seed
    var out = [UInt8]()
    out.reserveCapacity(count)
    while out.count < count {
        var word = GeneratedBytes.step(&state)
        for _ in 0..<min(8, count - out.count) {
            out.append(UInt8(truncatingIfNeeded: word))
            word >>= 8
        }
    }
    return out
}

/// `bytes` as an async sequence of buffers of at most `bufferSize` bytes.
func byteSequence(_ bytes: [UInt8], bufferSize: Int = 64 << 10) -> ByteBufferSequence {
    var buffers: [ByteBuffer] = []
    var start = 0
    while start < bytes.count {
        let end = min(start + bufferSize, bytes.count)
        buffers.append(ByteBuffer(bytes: bytes[start..<end]))
        start = end
    }
    return ByteBufferSequence(buffers: buffers)
}

extension ShoalNode {
    /// Stores `bytes` through this node.
    func put(_ bytes: [UInt8], isPublic: Bool, name: String = "test") async throws -> IngestResult {
        try await files.put(byteSequence(bytes), isPublic: isPublic, name: name)
    }

    /// Opens and reads a whole file (or a range) through this node into memory (small files only).
    func readAll(_ address: FileAddress, offset: UInt64 = 0, length: UInt64? = nil) async throws -> [UInt8] {
        let file = try await files.open(address)
        var out: [UInt8] = []
        try await files.read(file, offset: offset, length: length) { buffer in
            out.append(contentsOf: buffer.readableBytesView)
        }
        return out
    }

    /// A file's manifest tree walked through this node: its manifests and its chunks in order.
    func fileStat(_ address: FileAddress) async throws -> FileStat {
        try await FileReader(source: files.fetcher, maxInFlight: 8).stat(try await files.resolve(address))
    }

    /// Whether this node's disk holds `id` (pinned or cached).
    func hasOnDisk(_ id: ContentID) async -> Bool {
        (try? await chunks.contains(id)) ?? false
    }
}

/// The indices of the nodes whose disk holds `id`.
func holders(of id: ContentID, among nodes: [ShoalNode]) async -> [Int] {
    var out: [Int] = []
    for (i, node) in nodes.enumerated() where await node.hasOnDisk(id) { out.append(i) }
    return out
}

/// The `r` NodeIDs closest to `id` by XOR among `ids`: where placement should put it.
func trueClosest(to id: ContentID, among ids: [NodeID], count: Int) -> Set<NodeID> {
    Set(ids.sorted { ($0 ^ id) < ($1 ^ id) }.prefix(count))
}

// MARK: - HTTP API

/// A node's HTTP API running on a free loopback port inside a `ServiceGroup`.
final class RunningAPI: Sendable {
    let address: PeerAddress
    private let group: ServiceGroup
    private let task: Task<Void, Error>

    private init(address: PeerAddress, group: ServiceGroup, task: Task<Void, Error>) {
        self.address = address
        self.group = group
        self.task = task
    }

    static func start(
        node: ShoalNode, token: String?, limits: HTTPAPI.Limits, logger: Logger
    ) async throws -> RunningAPI {
        let (bound, continuation) = AsyncStream.makeStream(of: PeerAddress.self)
        let app = try HTTPAPI.makeApplication(
            node: node, address: PeerAddress(host: "127.0.0.1", port: 0), token: token,
            limits: limits, logger: logger
        ) { address in
            continuation.yield(address)
            continuation.finish()
        }
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let task = Task {
            defer { continuation.finish() }
            try await group.run()
        }
        var iterator = bound.makeAsyncIterator()
        guard let address = await iterator.next() else {
            _ = try await task.value
            throw TestFailure("the HTTP API stopped before it listened")
        }
        return RunningAPI(address: address, group: group, task: task)
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }

    var baseURL: String { "http://\(address)" }

    /// One request; the body collected (at most 64 MiB).
    func request(
        _ method: HTTPMethod, _ path: String, headers: [(String, String)] = [],
        body: [UInt8]? = nil
    ) async throws -> HTTPResult {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let collected = try await response.body.collect(upTo: 64 << 20)
        return HTTPResult(
            status: Int(response.status.code), headers: response.headers, body: Array(collected.readableBytesView))
    }
}

struct HTTPResult {
    var status: Int
    var headers: HTTPHeaders
    var body: [UInt8]

    func header(_ name: String) -> String? { headers.first(name: name) }

    /// The `code` of a JSON error body.
    var errorCode: String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return nil }
        return object["code"] as? String
    }
}

/// Collects lines from `@Sendable` callbacks.
final class LineCollector: Sendable {
    private let box = NIOLockedValueBox<[String]>([])
    func append(_ line: String) { box.withLockedValue { $0.append(line) } }
    var lines: [String] { box.withLockedValue { $0 } }
}

/// Hex of a digest.
func hex(_ digest: some Sequence<UInt8>) -> String { digest.map { String(format: "%02x", $0) }.joined() }
