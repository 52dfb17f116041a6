import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A client of a node's HTTP API, used by the `shoal` commands.
public struct APIClient: Sendable {
    public let baseURL: String
    public let token: String?
    private let http: HTTPClient

    /// A client that fails fast when nothing listens (no connection retries, 5 s connect timeout),
    /// so a command pointed at a stopped node says so at once. Lives as long as the process.
    public static let sharedHTTP: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout = .init(connect: .seconds(5))
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    /// - Parameters:
    ///   - address: the API's `host:port`.
    ///   - token: the bearer token, if the API requires one.
    public init(address: String, token: String? = nil, http: HTTPClient = APIClient.sharedHTTP) {
        self.baseURL = address.hasPrefix("http") ? address : "http://\(address)"
        self.token = token
        self.http = http
    }

    /// Uploads a stream of bytes.
    /// - Returns: the node's answer: address, size, chunk count.
    public func put<Body: AsyncSequence & Sendable>(
        _ body: Body, length: Int64?, isPublic: Bool, name: String
    ) async throws -> PutResult
    where Body.Element == ByteBuffer {
        var query = isPublic ? "?public=1" : "?public=0"
        if !name.isEmpty, let encoded = name.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) {
            query += "&name=\(encoded)"
        }
        var request = makeRequest("/v1/files" + query, method: .POST)
        request.body = .stream(body, length: length.map { .known($0) } ?? .unknown)
        let response = try await execute(request, timeout: .hours(24))
        return try await decode(response, as: PutResult.self)
    }

    /// Downloads a file (or a byte range of it), handing each buffer to `write`.
    /// - Returns: the file's total size as the node reported it.
    @discardableResult
    public func get(
        _ address: String, range: ClosedRange<UInt64>? = nil, write: (ByteBuffer, _ total: UInt64?) async throws -> Void
    ) async throws -> UInt64? {
        var request = makeRequest("/v1/files/\(address)", method: .GET)
        if let range { request.headers.add(name: "Range", value: "bytes=\(range.lowerBound)-\(range.upperBound)") }
        let response = try await execute(request, timeout: .hours(24))
        guard response.status == .ok || response.status == .partialContent else {
            throw try await apiError(response)
        }
        let total = response.headers.first(name: "Content-Length").flatMap(UInt64.init)
        for try await buffer in response.body { try await write(buffer, total) }
        return total
    }

    public func delete(_ address: String) async throws -> DeleteReport {
        try await decode(
            try await execute(makeRequest("/v1/files/\(address)", method: .DELETE), timeout: .minutes(10)),
            as: DeleteReport.self)
    }

    public func stat(_ address: String) async throws -> FileReport {
        try await decode(
            try await execute(makeRequest("/v1/files/\(address)/stat", method: .GET), timeout: .minutes(10)),
            as: FileReport.self)
    }

    public func status() async throws -> NodeStatus {
        try await decode(
            try await execute(makeRequest("/v1/status", method: .GET), timeout: .seconds(30)), as: NodeStatus.self)
    }

    public func peers() async throws -> [PeerSummary] {
        try await decode(
            try await execute(makeRequest("/v1/peers", method: .GET), timeout: .seconds(30)), as: [PeerSummary].self)
    }

    /// The raw JSON of a GET endpoint, for `--json`.
    public func rawJSON(_ path: String) async throws -> String {
        let response = try await execute(makeRequest(path, method: .GET), timeout: .minutes(10))
        guard response.status.code < 300 else { throw try await apiError(response) }
        let body = try await response.body.collect(upTo: 64 << 20)
        return String(buffer: body)
    }

    private func makeRequest(_ path: String, method: HTTPMethod) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        return request
    }

    private func execute(_ request: HTTPClientRequest, timeout: TimeAmount) async throws -> HTTPClientResponse {
        do {
            return try await http.execute(request, timeout: timeout)
        } catch let error as HTTPClientError where error == .connectTimeout || error == .remoteConnectionClosed {
            throw APIClientError.noNode(baseURL, "\(error)")
        } catch let error as HTTPClientError {
            throw APIClientError.transport("\(error)")
        } catch {
            let text = "\(error)"
            if text.contains("connection refused") || text.contains("Connection refused")
                || text.contains("connectTimeout")
            {
                throw APIClientError.noNode(baseURL, text)
            }
            throw error
        }
    }

    private func decode<T: Decodable>(_ response: HTTPClientResponse, as type: T.Type) async throws -> T {
        guard response.status.code < 300 else { throw try await apiError(response) }
        let body = try await response.body.collect(upTo: 64 << 20)
        return try JSONDecoder().decode(T.self, from: Data(buffer: body))
    }

    private func apiError(_ response: HTTPClientResponse) async throws -> APIClientError {
        let body = (try? await response.body.collect(upTo: 1 << 20)).map { Data(buffer: $0) } ?? Data()
        let decoded = try? JSONDecoder().decode(ErrorResponse.self, from: body)
        return .api(
            status: Int(response.status.code), code: decoded?.code ?? "http_\(response.status.code)",
            message: decoded?.error ?? String(decoding: body, as: UTF8.self))
    }
}

extension Data {
    init(buffer: ByteBuffer) { self.init(buffer.readableBytesView) }
}

public struct PutResult: Codable, Sendable {
    public var address: String
    public var size: UInt64
    public var chunks: UInt64
    public var isPublic: Bool
}

public struct PeerSummary: Codable, Sendable {
    public var nodeID: String
    public var address: String?
    public var remote: String
    public var inbound: Bool
    public var agent: String
}

/// What went wrong talking to a node's API.
public enum APIClientError: Error, CustomStringConvertible {
    /// Nothing answers at the API address.
    case noNode(String, String)
    /// The node answered with an error status.
    case api(status: Int, code: String, message: String)
    case transport(String)

    public var description: String {
        switch self {
        case .noNode(let url, _):
            return
                "no Shoal node answers at \(url): start one with 'shoal node --data DIR', or point to it with --api HOST:PORT or SHOAL_API"
        case .api(let status, _, let message): return "\(message) (HTTP \(status))"
        case .transport(let why): return "talking to the node failed: \(why)"
        }
    }
}
