import Foundation
import NIOHTTP1
import ShoalCore
import XCTest

@testable import ShoalNode

/// A web page the user visits must not be able to use the local API: forged `Host` (DNS
/// rebinding) and foreign `Origin` (cross-site POST) are refused; the UI itself is served.
final class APIGuardTests: NodeTestCase, @unchecked Sendable {
    func testForgedHostAndForeignOriginAreRefused() async throws {
        let node = try await startNode()
        let api = try await startAPI(for: node)
        let port = api.address.port

        for host in ["evil.example:\(port)", "attacker.test", "127.0.0.1.evil.example:\(port)", "0.0.0.0:\(port)"] {
            let r = try await api.request(.GET, "/v1/status", headers: [("Host", host)])
            XCTAssertEqual(r.status, 421, "Host \(host)")
            XCTAssertEqual(r.errorCode, "foreign_host", "Host \(host)")
        }
        for host in ["localhost:\(port)", "127.0.0.1:\(port)", "127.1.2.3", "[::1]:\(port)", "LOCALHOST"] {
            let r = try await api.request(.GET, "/v1/status", headers: [("Host", host)])
            XCTAssertEqual(r.status, 200, "Host \(host)")
        }

        // A text/plain POST from another site (no preflight) is refused and stores nothing.
        for origin in ["http://evil.example", "null", "https://localhost.evil.example:\(port)", "file://"] {
            let upload = try await api.request(
                .POST, "/v1/files?public=1", headers: [("Origin", origin), ("Content-Type", "text/plain")],
                body: Array("hello".utf8))
            XCTAssertEqual(upload.status, 403, "Origin \(origin)")
            XCTAssertEqual(upload.errorCode, "foreign_origin", "Origin \(origin)")
            XCTAssertNil(upload.header("Access-Control-Allow-Origin"), "no CORS headers")
        }
        XCTAssertEqual(node.chunks.objectCount, 0, "a refused upload stored something")
        let stored = try await api.request(
            .POST, "/v1/files?public=1", headers: [("Origin", "http://127.0.0.1:\(port)")],
            body: Array("hello".utf8))
        XCTAssertEqual(stored.status, 201, "the API's own page may upload")
        let address =
            try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(stored.body)) as? [String: Any])["address"]
            as? String
        let delete = try await api.request(
            .DELETE, "/v1/files/\(address ?? "")", headers: [("Origin", "http://evil.example")])
        XCTAssertEqual(delete.status, 403)
        // Reading is same-origin policy's job: no CORS header lets another origin read the answer.
        let read = try await api.request(
            .GET, "/v1/files/\(address ?? "")", headers: [("Origin", "http://evil.example")])
        XCTAssertEqual(read.status, 200)
        XCTAssertNil(read.header("Access-Control-Allow-Origin"))
    }

    func testTheWebUIIsServedSelfContained() async throws {
        let node = try await startNode()
        let api = try await startAPI(for: node)
        let page = try await api.request(.GET, "/")
        XCTAssertEqual(page.status, 200)
        XCTAssertEqual(page.header("Content-Type"), "text/html; charset=utf-8")
        XCTAssertTrue(page.header("Content-Security-Policy")?.contains("default-src 'none'") ?? false)
        let html = String(decoding: page.body, as: UTF8.self)
        XCTAssertTrue(html.contains("<html"))
        XCTAssertFalse(html.contains("src=\"http"), "the page loads nothing from elsewhere")
        let files = try await api.request(.GET, "/v1/files")
        XCTAssertEqual(files.status, 200)
        XCTAssertEqual(String(decoding: files.body, as: UTF8.self), "[]")
    }

    func testIdleConnectionsAreEvictedSoANewClientGetsThrough() async throws {
        let node = try await startNode()
        var limits = HTTPAPI.Limits()
        limits.maximumConnections = 8
        let api = try await startAPI(for: node, limits: limits)
        // Twenty connections that never send a request hold nothing for long: each new one evicts
        // the longest idle, and a real request still gets an answer.
        var idle: [FileHandle] = []
        for _ in 0..<20 { idle.append(try RawTCP.connect(port: api.address.port)) }
        defer { for handle in idle { try? handle.close() } }
        let status = try await api.request(.GET, "/v1/status")
        XCTAssertEqual(status.status, 200)
        // The server accepts the idle connections in its own time: wait (bounded) until it has
        // taken in all of them, evicting as it went.
        try await waitUntil("the idle connections to be accepted and evicted", seconds: 10) {
            (node.apiLimiter.withLockedValue { $0 }?.statistics.evicted ?? 0) >= 12
        }
        let statistics = try XCTUnwrap(node.apiLimiter.withLockedValue { $0 }?.statistics)
        XCTAssertLessThanOrEqual(statistics.open, 8)
        XCTAssertGreaterThanOrEqual(statistics.evicted, 12)
    }
}

/// A plain TCP connection to a loopback port, as a client that connects and sends nothing.
enum RawTCP {
    static func connect(port: Int) throws -> FileHandle {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket() failed") }
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
            close(fd)
            throw TestFailure("connect() to 127.0.0.1:\(port) failed")
        }
        return FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }
}
