import Foundation
import NIOCore
import NIOHTTP1
import ShoalCore
import XCTest

@testable import ShoalNode

/// The HTTP API's statuses and error codes, and its token rule.
final class APIErrorTests: NodeTestCase, @unchecked Sendable {
    func testErrorStatuses() async throws {
        let nodes = try await startNodes(2)
        try await waitForRoutingTables(nodes, minimum: 1)
        let (a, b) = (nodes[0], nodes[1])
        let apiA = try await startAPI(for: a)
        let apiB = try await startAPI(for: b)
        let bytes = testBytes(count: 5000, seed: 3)
        let stored = try await a.put(bytes, isPublic: false)
        let path = "/v1/files/\(stored.address)"

        // Malformed addresses: 400 bad_address, on every route that takes one.
        let root = stored.address.root.hex
        for bad in [
            "not-an-address", String(repeating: "z", count: 64), String(root.dropLast()), "\(root).not*base64",
            "\(root).AAAA",
        ] {
            for (method, suffix) in [(HTTPMethod.GET, ""), (.GET, "/stat"), (.DELETE, "")] {
                let r = try await apiB.request(method, "/v1/files/\(bad)\(suffix)")
                XCTAssertEqual(r.status, 400, "\(method) \(bad)\(suffix)")
                XCTAssertEqual(r.errorCode, "bad_address", "\(method) \(bad)\(suffix)")
            }
        }

        // An address nobody holds: 404 not_found.
        let unknown = Key256.sha256(of: Array("nothing is stored under this".utf8)).hex
        for (method, suffix) in [(HTTPMethod.GET, ""), (.HEAD, ""), (.GET, "/stat"), (.DELETE, "")] {
            let r = try await apiB.request(method, "/v1/files/\(unknown)\(suffix)")
            XCTAssertEqual(r.status, 404, "\(method) unknown\(suffix)")
            if method != .HEAD { XCTAssertEqual(r.errorCode, "not_found", "\(method) unknown\(suffix)") }
        }

        // A range past the end: 416.
        let unsatisfiable = try await apiB.request(.GET, path, headers: [("Range", "bytes=5000-")])
        XCTAssertEqual(unsatisfiable.status, 416)
        XCTAssertEqual(unsatisfiable.header("Content-Range"), "bytes */5000")

        // A delete through a node that does not own the file: 403 forbidden, and nothing removed.
        let refused = try await apiB.request(.DELETE, path)
        XCTAssertEqual(refused.status, 403)
        XCTAssertEqual(refused.errorCode, "forbidden")
        let stillThere = try await apiB.request(.GET, path)
        XCTAssertEqual(stillThere.status, 200)
        XCTAssertTrue(stillThere.body == bytes)

        // The owner's delete: 200 with a report; afterwards 404 everywhere.
        let deleted = try await apiA.request(.DELETE, path)
        XCTAssertEqual(deleted.status, 200)
        let report = try JSONDecoder().decode(DeleteReport.self, from: Data(deleted.body))
        XCTAssertEqual(report.address, root)
        for api in [apiA, apiB] {
            let gone = try await api.request(.GET, path)
            XCTAssertEqual(gone.status, 404)
            XCTAssertEqual(gone.errorCode, "not_found")
        }
    }

    func testUploadStatusPeersAndMetrics() async throws {
        let nodes = try await startNodes(2)
        try await waitForRoutingTables(nodes, minimum: 1)
        let api = try await startAPI(for: nodes[1])
        let bytes = testBytes(count: 70_000, seed: 70)

        let created = try await api.request(.POST, "/v1/files?public=1&name=x.bin", body: bytes)
        XCTAssertEqual(created.status, 201)
        let put = try JSONDecoder().decode(PutResult.self, from: Data(created.body))
        XCTAssertTrue(put.isPublic)
        XCTAssertEqual(put.size, 70_000)
        XCTAssertEqual(put.address, Key256(hex: put.address)?.hex, "a public address is the root hash alone")
        let fetched = try await nodes[0].readAll(try FileAddress(parsing: put.address))
        XCTAssertTrue(fetched == bytes)

        let client = APIClient(address: api.address.description)
        let status = try await client.status()
        XCTAssertEqual(status.nodeID, nodes[1].nodeID.hex)
        XCTAssertEqual(status.replicas, 3)
        let peers = try await client.peers()
        XCTAssertTrue(peers.contains { $0.nodeID == nodes[0].nodeID.hex })
        let metrics = try await api.request(.GET, "/metrics")
        XCTAssertEqual(metrics.status, 200)
        let text = String(decoding: metrics.body, as: UTF8.self)
        XCTAssertTrue(text.contains("shoal_routing_table_size"))
        for counter in [
            "shoal_requests_total", "shoal_fetch_failures_total", "shoal_corrupt_chunks_total",
            "shoal_members_declared_dead_total", "shoal_repair_pushes_total", "shoal_repair_drops_total",
        ] {
            XCTAssertTrue(text.contains("# TYPE \(counter) counter"), "\(counter) missing from /metrics")
        }
        for histogram in ["shoal_request_duration_seconds", "shoal_lookup_duration_seconds", "shoal_lookup_hops"] {
            XCTAssertTrue(text.contains("# TYPE \(histogram) histogram"), "\(histogram) missing from /metrics")
        }
        XCTAssertTrue(
            text.contains("shoal_request_duration_seconds_bucket{type=\"Ping\""),
            "no latency of Pings in:\n\(text.prefix(3000))")
        XCTAssertTrue(text.contains("shoal_members_by_state{state=\"alive\"}"), text)
    }

    func testAPIOffLoopbackNeedsATokenAndRequestsWithoutItGet401() async throws {
        let node = try await startNode()
        let logger = Self.testLogger("shoal.api")
        XCTAssertThrowsError(
            try HTTPAPI.makeApplication(
                node: node, address: PeerAddress(host: "0.0.0.0", port: 0), token: nil, logger: logger)
        ) {
            XCTAssertTrue($0 is APIConfigurationError, "\($0)")
            XCTAssertTrue("\($0)".contains("--api-token"), "the error should say how to fix it: \($0)")
        }
        XCTAssertNoThrow(
            try HTTPAPI.makeApplication(
                node: node, address: PeerAddress(host: "0.0.0.0", port: 0), token: "t", logger: logger))

        let api = try await startAPI(for: node, token: "s3cret")
        for headers in [[], [("Authorization", "Bearer wrong")], [("Authorization", "s3cret")]] {
            let r = try await api.request(.GET, "/v1/status", headers: headers)
            XCTAssertEqual(r.status, 401, "\(headers)")
            XCTAssertEqual(r.errorCode, "unauthorized", "\(headers)")
        }
        let upload = try await api.request(.POST, "/v1/files?public=1", body: [1, 2, 3])
        XCTAssertEqual(upload.status, 401, "an upload without the token must be refused")
        let objects = node.chunks.objectCount
        XCTAssertEqual(objects, 0, "a refused upload stored something")

        let ok = try await api.request(.GET, "/v1/status", headers: [("Authorization", "Bearer s3cret")])
        XCTAssertEqual(ok.status, 200)
        let status = try await APIClient(address: api.address.description, token: "s3cret").status()
        XCTAssertEqual(status.nodeID, node.nodeID.hex)
        do {
            _ = try await APIClient(address: api.address.description).status()
            XCTFail("a client without the token was served")
        } catch let error as APIClientError {
            guard case .api(let code, _, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(code, 401)
        }
    }
}
