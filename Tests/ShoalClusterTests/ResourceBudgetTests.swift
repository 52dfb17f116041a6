import AsyncHTTPClient
import Foundation
import NIOCore
import ShoalCore
import ShoalNode
import ShoalTransport
import ShoalWire
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Attacks on one real `shoal node` process, each done as a hostile peer or careless client
/// would: the node stays up, its memory stays within its budget (256 MiB by default) and falls
/// back afterwards, and a legitimate get and a new node's join both succeed meanwhile.
final class ResourceBudgetTests: ClusterTestCase, @unchecked Sendable {
    static let memoryBudget: UInt64 = 256 << 20

    /// A node holding one file, with `arguments`; returns it, the file and its chunk IDs.
    private func nodeWithFile(
        _ name: String, size: Int, arguments: [String]
    ) async throws
        -> (node: ClusterNode, file: TrackedFile, chunks: [ContentID])
    {
        let node = try await cluster.launch(name, arguments: arguments)
        var generator = ContentGenerator(seed: 0xBAD)
        let bytes = generator.bytes(size)
        let put = try await node.api.put(bytes)
        let stat = try await node.api.stat(put.address)
        let chunks = stat.objects.filter { $0.kind == "chunk" }.compactMap { Key256(hex: $0.id) }
        return (node, TrackedFile(address: put.address, bytes: bytes, objects: stat.objects.map(\.id)), chunks)
    }

    /// While `attack` runs, samples the node's RSS, and checks that a legitimate client reads the
    /// file and that a new node joins through it.
    private func underAttack(
        _ node: ClusterNode, file: TrackedFile, attack: @escaping @Sendable () async throws -> Void
    ) async throws {
        let before = node.process.memory?.resident ?? 0
        let attackTask = Task { try await attack() }
        defer { attackTask.cancel() }
        try await Task.sleep(for: .seconds(2))
        let read = try await node.api.get(file.address)
        XCTAssertTrue(read == file.bytes, "a legitimate get during the attack")
        let joiner = try await cluster.launch("joiner-\(UUID().uuidString.prefix(4))", bootstrap: [node.listenAddress])
        _ = try await poll("the joiner to see \(node.name) alive", every: .milliseconds(200), within: .seconds(60)) {
            () -> Bool? in
            let members = (try? await joiner.api.members()) ?? []
            return members.contains { $0.nodeID == node.nodeID && $0.status == "alive" } ? true : nil
        }
        _ = try? await attackTask.value
        let peak = node.process.memory?.peak ?? 0
        log("\(node.name): RSS \(before >> 20) MiB before, peak \(peak >> 20) MiB during the attack")
        XCTAssertLessThanOrEqual(peak, Self.memoryBudget, "peak RSS under the attack")
        XCTAssertTrue(node.process.isRunning, "the node survived")
    }

    private func waitForMemoryToFall(_ node: ClusterNode, below limit: UInt64) async throws {
        _ = try await poll(
            "\(node.name)'s RSS to fall below \(limit >> 20) MiB", every: .milliseconds(500), within: .seconds(60)
        ) { () -> Bool? in
            (node.process.memory?.resident ?? .max) < limit ? true : nil
        }
        log("\(node.name): RSS back to \((node.process.memory?.resident ?? 0) >> 20) MiB")
    }

    func testPeersThatDoNotReadTheirResponsesAreCutOffAndMemoryStaysBounded() async throws {
        let (node, file, chunks) = try await nodeWithFile(
            "reader", size: 48 << 20,
            arguments: ["--chunk-size", "8M", "--stalled-reader-timeout", "3"])
        let port = node.listenPort
        let peers = try await withThrowingTaskGroup(of: HostilePeer.self) { group in
            for _ in 0..<4 { group.addTask { try await HostilePeer.connect(port: port) } }
            return try await group.reduce(into: [HostilePeer]()) { $0.append($1) }
        }
        try await underAttack(node, file: file) {
            for (n, peer) in peers.enumerated() {
                try await peer.stopReading()
                for i in 0..<(n == 0 ? 300 : 64) {
                    try await peer.send(WireFrame(id: UInt64(i + 1), .getChunk(GetChunk(id: chunks[i % chunks.count]))))
                }
            }
        }
        // (Peers that read nothing do not notice the close themselves: ask the node.)
        let status = try await poll(
            "the node to disconnect the four peers that do not read", every: .milliseconds(250),
            within: .seconds(60)
        ) { () -> NodeStatus? in
            guard let status = try? await node.api.status(), status.resources.transport.stalledReaders >= 4 else {
                return nil
            }
            return status
        }
        XCTAssertLessThanOrEqual(status.resources.transport.outboundBytesPeak, 96 << 20 + 4 * (9 << 20))
        try await waitForMemoryToFall(node, below: 160 << 20)
    }

    func testUnfinishedFramesAreBoundedAndTimedOut() async throws {
        let (node, file, _) = try await nodeWithFile("partial", size: 4 << 20, arguments: ["--frame-timeout", "4"])
        let port = node.listenPort
        try await underAttack(node, file: file) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<30 {
                    group.addTask {
                        let peer = try await HostilePeer.connect(port: port)
                        var prefix = ByteBuffer()
                        let length = WireLimits.maximumFrameSize
                        var v = UInt64(length)
                        while v >= 0x80 {
                            prefix.writeInteger(UInt8(truncatingIfNeeded: v) | 0x80)
                            v >>= 7
                        }
                        prefix.writeInteger(UInt8(v))
                        try await peer.send(prefix)
                        // 9 MiB − 1 byte of the body, never the last byte.
                        var sent = 0
                        while sent < length - 1, peer.isActive {
                            let piece = min(1 << 20, length - 1 - sent)
                            try? await peer.send(ByteBuffer(repeating: 0x55, count: piece))
                            sent += piece
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        let status = try await node.api.status()
        XCTAssertGreaterThan(status.resources.transport.frameTimeouts, 0, "unfinished frames are timed out")
        XCTAssertLessThanOrEqual(status.resources.transport.inboundBytesPeak, (64 << 20) + (9 << 20))
        try await waitForMemoryToFall(node, below: 160 << 20)
    }

    func testIdleAndHalfOpenConnectionsDoNotKeepRealPeersOut() async throws {
        let (node, file, _) = try await nodeWithFile(
            "crowded", size: 1 << 20,
            arguments: ["--max-connections", "48", "--max-handshaking", "8"])
        let port = node.listenPort
        // Fill every slot with handshaken connections that then say nothing.
        var idle: [HostilePeer] = []
        for _ in 0..<48 {
            if let peer = try? await HostilePeer.connect(port: port) { idle.append(peer) }
        }
        XCTAssertGreaterThan(idle.count, 40)
        try await Task.sleep(for: .seconds(2))
        let idlePeers = idle
        try await underAttack(node, file: file) {
            // Half-open connections, renewed as they are dropped.
            var open: [FileHandle] = []
            for round in 0..<40 {
                for _ in 0..<10 { if let raw = try? RawSocket.connect(port: port) { open.append(raw) } }
                if open.count > 60 {
                    for handle in open.prefix(20) { try? handle.close() }
                    open.removeFirst(20)
                }
                if round % 10 == 0 { try await Task.sleep(for: .milliseconds(100)) }
            }
            for handle in open { try? handle.close() }
        }
        let status = try await node.api.status()
        XCTAssertLessThanOrEqual(status.resources.transport.connections, 48)
        XCTAssertGreaterThan(status.resources.transport.evictedIdle, 0, "idle connections made room")
        XCTAssertGreaterThan(status.resources.transport.evictedHalfOpen, 0, "half-open connections made room")
        for peer in idlePeers { await peer.close() }
    }

    func testAListenAddressSomeoneElseClaimsIsNotDialledOverAndOver() async throws {
        let node = try await cluster.launch("target")
        // The third party: a plain TCP listener that counts who connects.
        let victim = try CountingListener()
        defer { victim.close() }
        let claimed = PeerAddress(host: "127.0.0.1", port: victim.port)
        var liars: [HostilePeer] = []
        for _ in 0..<20 { liars.append(try await HostilePeer.connect(port: node.listenPort, listenAddress: claimed)) }
        for liar in liars { await liar.close() }
        try await Task.sleep(for: .seconds(10))
        log("the node dialled the claimed address \(victim.accepted) times in 10 s for 20 claims")
        XCTAssertLessThanOrEqual(
            victim.accepted, 3, "a claimed address is dialled within a budget, and not again once it failed")
        XCTAssertTrue(node.process.isRunning)
    }

    func testIdleAPIConnectionsCannotUseUpTheDescriptors() async throws {
        let (node, file, _) = try await nodeWithFile("api", size: 300_000, arguments: [])
        try await cluster.stop(node, within: .seconds(30)).map { XCTAssertEqual($0, 0) }
        let limited = try await cluster.launch(
            "api-limited", dataDirectory: node.dataDirectory, arguments: [], descriptorLimit: 256)
        let apiPort = Int(limited.api.address.split(separator: ":").last!)!
        var handles: [FileHandle] = []
        for _ in 0..<300 { if let handle = try? RawSocket.connect(port: apiPort) { handles.append(handle) } }
        defer { for handle in handles { try? handle.close() } }
        let read = try await limited.api.get(file.address)
        XCTAssertTrue(read == file.bytes, "a legitimate get with 300 idle API connections open")
        let descriptors = limited.process.openFileDescriptors ?? 0
        log("300 idle API connections: the node holds \(descriptors) descriptors under 'ulimit -n 256'")
        XCTAssertLessThan(descriptors, 256)
    }

    func testAbortedUploadsLeaveTheNodeStoringNormallyAndTheirObjectsAreWithdrawn() async throws {
        let node = try await cluster.launch("aborted")
        let apiPort = Int(node.api.address.split(separator: ":").last!)!
        for _ in 0..<4 {
            let handle = try RawSocket.connect(port: apiPort)
            let head = "POST /v1/files HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(40 << 20)\r\n\r\n"
            try handle.write(contentsOf: Data(head.utf8))
            for _ in 0..<20 { try handle.write(contentsOf: Data(repeating: 7, count: 1 << 20)) }
            try handle.close()
        }
        // Twenty puts and twenty gets at once, all fine.
        var generator = ContentGenerator(seed: 77)
        let files = (0..<20).map { _ in generator.bytes(100_000) }
        let addresses = try await withThrowingTaskGroup(of: String.self) { group in
            for bytes in files { group.addTask { try await node.api.put(bytes).address } }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for address in addresses { group.addTask { _ = try await node.api.get(address) } }
            try await group.waitForAll()
        }
        // What the aborted uploads stored is withdrawn: only the twenty files' objects remain.
        _ = try await poll(
            "the aborted uploads' objects to be withdrawn", every: .milliseconds(250), within: .seconds(60)
        ) { () -> Bool? in
            let status = try? await node.api.status()
            return status?.objectsStored == 40 ? true : nil
        }
    }

    func testTheStorageLimitHoldsWithinOneObject() async throws {
        let node = try await cluster.launch("small", arguments: ["--max-storage", "1M"])
        var generator = ContentGenerator(seed: 8)
        var stored = 0
        var refused = 0
        for _ in 0..<600 {
            do {
                _ = try await node.api.put(generator.bytes(8))
                stored += 1
            } catch let error as NodeAPIError where [503, 507].contains(error.status) {
                refused += 1
                if refused >= 5 { break }
            }
        }
        XCTAssertGreaterThan(refused, 0, "the limit refuses further files")
        let used =
            try diskUsage(of: node.dataDirectory.appendingPathComponent("chunks").path)
            + (try diskUsage(of: node.dataDirectory.path, matching: "metadata.sqlite"))
        log("--max-storage 1M: \(stored) tiny files stored, \(used) bytes on disk")
        XCTAssertLessThanOrEqual(
            used, (1 << 20) + 3 * 4096, "what the node keeps stays within the limit and one object")
        // A node refusing for capacity still serves and deletes.
        let status = try await node.api.status()
        XCTAssertGreaterThan(status.objectsStored, 0)
    }

    private func diskUsage(of path: String, matching prefix: String? = nil) throws -> UInt64 {
        var total: UInt64 = 0
        let names: [String]
        if let prefix {
            names = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasPrefix(prefix) }
        } else {
            names = (FileManager.default.enumerator(atPath: path)?.allObjects as? [String]) ?? []
        }
        for name in names {
            var info = stat()
            if lstat(path + "/" + name, &info) == 0 { total += UInt64(info.st_blocks) * 512 }
        }
        return total
    }
}

/// A plain TCP connection to a loopback port that sends nothing unless told to.
enum RawSocket {
    static func connect(port: Int) throws -> FileHandle {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ClusterError("socket() failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            Glibc.close(fd)
            throw ClusterError("connect() to 127.0.0.1:\(port) failed")
        }
        return FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }
}

/// A TCP listener on loopback that accepts and counts connections (and closes them).
final class CountingListener: @unchecked Sendable {
    let port: Int
    private let fd: Int32
    private let lock = NSLock()
    private var count = 0
    private var thread: Thread?
    private var closed = false

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound, listen(fd, 64) == 0 else {
            Glibc.close(fd)
            throw ClusterError("cannot listen on loopback")
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
        self.thread = thread
    }

    private func acceptLoop() {
        while true {
            let client = accept(fd, nil, nil)
            if client < 0 { return }
            lock.withLock { count += 1 }
            Glibc.close(client)
        }
    }

    var accepted: Int { lock.withLock { count } }

    func close() {
        lock.withLock {
            guard !closed else { return }
            closed = true
            shutdown(fd, Int32(SHUT_RDWR))
            Glibc.close(fd)
        }
    }
}
