import AsyncHTTPClient
import Foundation
import NIOCore
import ShoalNode

/// The parts of a node's HTTP API the cluster tests observe, each call with a short timeout so
/// that a polling loop never hangs on one node.
struct NodeAPI: Sendable {
    /// `host:port` of the API.
    let address: String
    /// The API token, for an API off loopback (sent as `Authorization: Bearer`).
    var token: String? = nil

    var baseURL: String { "http://\(address)" }

    /// `/v1/status`.
    func status() async throws -> NodeStatus {
        try await getJSON("/v1/status", timeout: .seconds(10))
    }

    /// `/v1/members`: every member this node knows of (itself excluded), tombstones included.
    func members() async throws -> [MemberView] {
        try await getJSON("/v1/members", timeout: .seconds(5))
    }

    /// `/v1/files/{address}/stat`: the objects of a file and which of their closest nodes hold them.
    func stat(_ file: String) async throws -> FileReport {
        try await getJSON("/v1/files/\(file)/stat", timeout: .seconds(60))
    }

    /// Uploads `bytes` as a private file.
    func put(_ bytes: [UInt8]) async throws -> PutResult {
        var request = HTTPClientRequest(url: baseURL + "/v1/files")
        authorize(&request)
        request.method = .POST
        request.body = .bytes(ByteBuffer(bytes: bytes))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status.code == 201 || response.status.code == 200 else {
            throw NodeAPIError(path: "POST /v1/files", status: Int(response.status.code), body: String(buffer: body))
        }
        return try JSONDecoder().decode(PutResult.self, from: Data(body.readableBytesView))
    }

    /// Downloads a whole file.
    func get(_ file: String) async throws -> [UInt8] {
        var request = HTTPClientRequest(url: baseURL + "/v1/files/\(file)")
        authorize(&request)
        request.method = .GET
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 64 << 20)
        guard response.status.code == 200 else {
            throw NodeAPIError(
                path: "GET /v1/files/\(file.prefix(12))…", status: Int(response.status.code), body: String(buffer: body)
            )
        }
        return Array(body.readableBytesView)
    }

    /// Deletes a file this node owns (`shoal rm`), returning what the holders did.
    func delete(_ file: String) async throws -> DeleteReport {
        var request = HTTPClientRequest(url: baseURL + "/v1/files/\(file)")
        authorize(&request)
        request.method = .DELETE
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status.code == 200 else {
            throw NodeAPIError(
                path: "DELETE /v1/files/\(file.prefix(12))…", status: Int(response.status.code),
                body: String(buffer: body))
        }
        return try JSONDecoder().decode(DeleteReport.self, from: Data(body.readableBytesView))
    }

    private func authorize(_ request: inout HTTPClientRequest) {
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
    }

    private func getJSON<T: Decodable>(_ path: String, timeout: TimeAmount) async throws -> T {
        var request = HTTPClientRequest(url: baseURL + path)
        authorize(&request)
        request.method = .GET
        let response = try await HTTPClient.shared.execute(request, timeout: timeout)
        let body = try await response.body.collect(upTo: 16 << 20)
        guard response.status.code == 200 else {
            throw NodeAPIError(path: "GET \(path)", status: Int(response.status.code), body: String(buffer: body))
        }
        return try JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
    }
}

/// A node answered an API call with an error status.
struct NodeAPIError: Error, CustomStringConvertible {
    var path: String
    var status: Int
    var body: String

    var description: String { "\(path) answered HTTP \(status): \(body.prefix(400))" }
}
