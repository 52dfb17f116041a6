import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ShoalCore
import ShoalWire
import XCTest

@testable import ShoalTransport

/// Answers Ping with Pong and FindNode with no contacts.
struct EchoHandler: PeerRequestHandler {
    func handle(_ request: WireMessage, from peer: PeerInfo) async -> WireMessage {
        switch request {
        case .ping(let payload): return .pong(payload: payload)
        case .findNode: return .nodes([])
        default: return .error(WireError(.badRequest, "unsupported"))
        }
    }
}

final class TransportTests: XCTestCase {
    private var transports: [Transport] = []

    override func tearDown() async throws {
        for t in transports { await t.shutdown() }
        transports = []
    }

    private func makeNode(
        _ configure: (inout TransportConfiguration) -> Void = { _ in }
    ) async throws -> (Transport, Contact) {
        var config = TransportConfiguration()
        configure(&config)
        let transport = try Transport(
            identity: try .ephemeral(), configuration: config, handler: EchoHandler(),
            logger: Logger(label: "test"))
        Task { await transport.run() }
        let bound = try await transport.listen(on: PeerAddress(host: "127.0.0.1", port: 0))
        transports.append(transport)
        return (transport, Contact(id: transport.nodeID, address: bound))
    }

    func testPingOverMutualTLS() async throws {
        let (a, _) = try await makeNode()
        let (b, bContact) = try await makeNode()
        let response = try await a.request(.ping(payload: Data("hello".utf8)), to: bContact)
        XCTAssertEqual(response, .pong(payload: Data("hello".utf8)))
        // Both sides know who the other is, from the certificate.
        let connection = try await a.connection(to: bContact)
        XCTAssertEqual(connection.peer.nodeID, b.nodeID)
        try await waitUntil { b.connectedPeers.contains { $0.nodeID == a.nodeID } }
    }

    func testTenThousandConcurrentPingsOnOneConnection() async throws {
        let (a, _) = try await makeNode()
        let (_, bContact) = try await makeNode()
        let connection = try await a.connection(to: bContact)
        let answered = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<10_000 {
                group.addTask {
                    let payload = Data(withUnsafeBytes(of: UInt32(i).bigEndian) { Array($0) })
                    let response = try await connection.request(.ping(payload: payload), timeout: .seconds(60))
                    return response == .pong(payload: payload)
                }
            }
            var count = 0
            for try await ok in group where ok { count += 1 }
            return count
        }
        XCTAssertEqual(answered, 10_000)
        // Still the one connection.
        let again = try await a.connection(to: bContact)
        XCTAssertTrue(again === connection)
    }

    func testDiallingAContactWhoseKeyDoesNotMatchIsRefused() async throws {
        let (a, _) = try await makeNode()
        let (_, bContact) = try await makeNode()
        var rng = SystemRandomNumberGenerator()
        let impostor = Contact(id: Key256.random(using: &rng), address: bContact.address)
        do {
            _ = try await a.request(.ping(payload: Data()), to: impostor)
            XCTFail("a peer whose certificate does not hash to the dialled ID must be refused")
        } catch {}
    }

    func testHelloClaimingAnotherIDIsRefused() async throws {
        let (_, bContact) = try await makeNode()
        let client = try await RawClient.connect(to: bContact.address, tls: try .ephemeral())
        var rng = SystemRandomNumberGenerator()
        try await client.send(WireFrame(id: 0, .hello(Hello(nodeID: Key256.random(using: &rng), listenAddress: nil))))
        var sawError: WireError?
        while let frame = try await client.nextFrame(timeout: .seconds(5)) {
            if case .error(let e) = frame.message {
                sawError = e
                break
            }
        }
        XCTAssertEqual(sawError?.code, .identityMismatch)
        let closed = await client.waitForClose()
        XCTAssertTrue(closed)
    }

    func testIncompatibleVersionGetsErrorAndClose() async throws {
        let (_, bContact) = try await makeNode()
        let identity = try NodeIdentity.ephemeral()
        let client = try await RawClient.connect(to: bContact.address, tls: identity)
        try await client.send(
            WireFrame(id: 0, .hello(Hello(protocolVersion: 99, nodeID: identity.nodeID, listenAddress: nil))))
        var sawError: WireError?
        while let frame = try await client.nextFrame(timeout: .seconds(5)) {
            if case .error(let e) = frame.message {
                sawError = e
                break
            }
        }
        XCTAssertEqual(sawError?.code, .unsupportedVersion)
        let closed = await client.waitForClose()
        XCTAssertTrue(closed)
    }

    func testPlaintextClientIsClosedAndOthersUnaffected() async throws {
        let (a, _) = try await makeNode()
        let (_, bContact) = try await makeNode()
        let healthy = try await a.connection(to: bContact)
        let client = try await RawClient.connect(to: bContact.address, tls: nil)
        try await client.send(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        let closed = await client.waitForClose()
        XCTAssertTrue(closed, "a client that does not speak TLS must be closed")
        let response = try await healthy.request(.ping(payload: Data("still".utf8)), timeout: .seconds(10))
        XCTAssertEqual(response, .pong(payload: Data("still".utf8)))
    }

    func testGarbageAfterHandshakeClosesOnlyThatConnection() async throws {
        let (a, _) = try await makeNode()
        let (_, bContact) = try await makeNode()
        let healthy = try await a.connection(to: bContact)
        let identity = try NodeIdentity.ephemeral()
        let client = try await RawClient.connect(to: bContact.address, tls: identity)
        try await client.send(WireFrame(id: 0, .hello(Hello(nodeID: identity.nodeID, listenAddress: nil))))
        // A valid request first, answered.
        try await client.send(WireFrame(id: 1, .ping(payload: Data("x".utf8))))
        var gotPong = false
        while let frame = try await client.nextFrame(timeout: .seconds(5)) {
            if frame.id == 1, case .pong = frame.message {
                gotPong = true
                break
            }
        }
        XCTAssertTrue(gotPong)
        // Then garbage: a length prefix followed by bytes that are not a Frame.
        try await client.send([0x06, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
        var sawError: WireError?
        while let frame = try await client.nextFrame(timeout: .seconds(5)) {
            if case .error(let e) = frame.message {
                sawError = e
                break
            }
        }
        XCTAssertEqual(sawError?.code, .protocolViolation)
        let closed = await client.waitForClose()
        XCTAssertTrue(closed)
        let response = try await healthy.request(.ping(payload: Data("ok".utf8)), timeout: .seconds(10))
        XCTAssertEqual(response, .pong(payload: Data("ok".utf8)))
    }

    func testOversizeFrameIsRefused() async throws {
        let (_, bContact) = try await makeNode()
        let identity = try NodeIdentity.ephemeral()
        let client = try await RawClient.connect(to: bContact.address, tls: identity)
        try await client.send(WireFrame(id: 0, .hello(Hello(nodeID: identity.nodeID, listenAddress: nil))))
        try await client.send([0x80, 0x80, 0x80, 0x10])  // 32 MiB
        var sawError: WireError?
        while let frame = try await client.nextFrame(timeout: .seconds(5)) {
            if case .error(let e) = frame.message {
                sawError = e
                break
            }
        }
        XCTAssertEqual(sawError?.code, .frameTooLarge)
        let closed = await client.waitForClose()
        XCTAssertTrue(closed)
    }

    func testSilentClientIsDroppedAfterHandshakeTimeout() async throws {
        let (_, bContact) = try await makeNode { $0.handshakeTimeout = .milliseconds(300) }
        let tcp = try await RawClient.connect(to: bContact.address, tls: nil)
        let tlsButNoHello = try await RawClient.connect(to: bContact.address, tls: try .ephemeral())
        let tcpClosed = await tcp.waitForClose(timeout: .seconds(10))
        let tlsClosed = await tlsButNoHello.waitForClose(timeout: .seconds(10))
        XCTAssertTrue(tcpClosed)
        XCTAssertTrue(tlsClosed)
    }

    func testConnectionCap() async throws {
        let (_, bContact) = try await makeNode { $0.maximumConnections = 2 }
        let first = try await RawClient.connect(to: bContact.address, tls: nil)
        let second = try await RawClient.connect(to: bContact.address, tls: nil)
        try await Task.sleep(for: .milliseconds(200))
        let third = try await RawClient.connect(to: bContact.address, tls: nil)
        let thirdClosed = await third.waitForClose(timeout: .seconds(5))
        XCTAssertTrue(thirdClosed, "the connection over the cap must be closed")
        XCTAssertTrue(first.channel.isActive)
        XCTAssertTrue(second.channel.isActive)
        await first.close()
        await second.close()
    }

    func testRequestTimesOut() async throws {
        struct Sleepy: PeerRequestHandler {
            func handle(_ request: WireMessage, from peer: PeerInfo) async -> WireMessage {
                try? await Task.sleep(for: .seconds(2))
                return .pong(payload: Data())
            }
        }
        let (a, _) = try await makeNode()
        let sleepy = try Transport(identity: try .ephemeral(), handler: Sleepy(), logger: Logger(label: "test"))
        Task { await sleepy.run() }
        transports.append(sleepy)
        let address = try await sleepy.listen(on: PeerAddress(host: "127.0.0.1", port: 0))
        do {
            _ = try await a.request(
                .ping(payload: Data()), to: Contact(id: sleepy.nodeID, address: address), timeout: .milliseconds(200))
            XCTFail("expected a timeout")
        } catch let error as TransportError {
            guard case .timeout = error else { return XCTFail("\(error)") }
        }
    }

    func testIdleConnectionsAboveTheHighWatermarkAreTrimmedAndDialledAgainWhenNeeded() async throws {
        let (b, bContact) = try await makeNode {
            $0.connectionsHighWater = 4
            $0.connectionsLowWater = 2
            $0.trimGrace = .zero
        }
        var peers: [Transport] = []
        for _ in 0..<8 {
            let (peer, _) = try await makeNode()
            _ = try await peer.request(.ping(payload: Data()), to: bContact)
            peers.append(peer)
            XCTAssertLessThanOrEqual(b.usage.connections, 5, "never more than one over the high watermark")
        }
        try await waitUntil { b.usage.connections <= 4 }
        XCTAssertGreaterThanOrEqual(b.usage.trimmed, 4, "idle connections were closed as new ones came")
        // A trimmed peer simply dials again.
        for peer in peers {
            let answer = try await peer.request(.ping(payload: Data("again".utf8)), to: bContact)
            XCTAssertEqual(answer, .pong(payload: Data("again".utf8)))
        }
    }

    func testEachPeersConnectionEventsArriveInTheOrderTheyHappened() async throws {
        /// Records connection events; takes its time over each connection, so that a
        /// disconnection handled concurrently with its connection would overtake it.
        final class Recorder: PeerRequestHandler, @unchecked Sendable {
            let events = NIOLockedValueBox<[(NodeID, Bool)]>([])
            func handle(_ request: WireMessage, from peer: PeerInfo) async -> WireMessage {
                request == .ping(payload: Data()) ? .pong(payload: Data()) : .error(WireError(.badRequest, "no"))
            }
            func peerConnected(_ peer: PeerInfo) async {
                try? await Task.sleep(for: .milliseconds(20))
                events.withLockedValue { $0.append((peer.nodeID, true)) }
            }
            func peerDisconnected(_ peer: PeerInfo) async {
                events.withLockedValue { $0.append((peer.nodeID, false)) }
            }
        }
        let recorder = Recorder()
        let b = try Transport(identity: try .ephemeral(), handler: recorder, logger: Logger(label: "test"))
        Task { await b.run() }
        transports.append(b)
        let bContact = Contact(id: b.nodeID, address: try await b.listen(on: PeerAddress(host: "127.0.0.1", port: 0)))
        let (a, _) = try await makeNode()
        let rounds = 30
        for _ in 0..<rounds {
            let connection = try await a.connection(to: bContact)
            _ = try await connection.request(.ping(payload: Data()), timeout: .seconds(30))
            connection.close()
            try await waitUntil { !connection.isActive }
        }
        try await waitUntil { recorder.events.withLockedValue { $0.count } >= 2 * rounds }
        let seen = recorder.events.withLockedValue { $0 }.filter { $0.0 == a.nodeID }.map(\.1)
        XCTAssertEqual(seen.count, 2 * rounds)
        XCTAssertEqual(
            seen, Array(repeating: [true, false], count: rounds).flatMap { $0 },
            "connected, then disconnected, each time")
    }

    private func waitUntil(_ condition: () -> Bool) async throws {
        for _ in 0..<500 {
            if condition() { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        XCTFail("condition not met within 5 s")
    }
}

final class NodeIdentityTests: XCTestCase {
    func testSameDataDirGivesSameNodeIDAndKeyIsPrivate() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("shoal-id-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let first = try NodeIdentity.loadOrCreate(in: dir)
        let second = try NodeIdentity.loadOrCreate(in: dir)
        XCTAssertEqual(first.nodeID, second.nodeID)
        let attributes = try FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent("node.key").path)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
    }

    func testKeyReadableByOthersIsRefused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("shoal-id-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try NodeIdentity.loadOrCreate(in: dir)
        let path = dir.appendingPathComponent("node.key").path
        chmod(path, 0o644)
        XCTAssertThrowsError(try NodeIdentity.loadOrCreate(in: dir)) { error in
            guard case .insecurePermissions = error as? IdentityError else { return XCTFail("\(error)") }
            XCTAssertTrue("\(error)".contains("chmod 600"))
        }
    }
}
