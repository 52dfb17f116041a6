import Foundation
import Hummingbird
import NIOCore
import ShoalCore
import ShoalFile

/// The routes of the HTTP API. Handlers throw; ``APIErrorMiddleware`` turns errors into the JSON
/// error answers README.md documents.
struct APIRoutes {
    let node: ShoalNode

    func add(to router: Router<BasicRequestContext>) {
        let node = self.node
        router.get("/") { _, _ -> Response in
            Response(
                status: .ok, headers: Self.pageHeaders, body: .init(byteBuffer: ByteBuffer(string: WebUIPage.html)))
        }
        router.post("/v1/files") { request, _ -> Response in
            let query = request.uri.queryParameters
            let isPublic = ["1", "true", "yes"].contains(query.get("public")?.lowercased() ?? "")
            let name = String((query.get("name") ?? "").prefix(1024))
            let result = try await node.files.put(request.body, isPublic: isPublic, name: name)
            return try Self.json(
                .created,
                PutResponse(
                    address: result.address.description, size: result.size,
                    chunks: result.chunkCount, isPublic: result.address.isPublic))
        }
        router.get("/v1/files") { _, _ -> Response in
            try Self.json(.ok, try await node.files.keyring().map(KeyringResponse.init))
        }
        router.get("/v1/files/:address") { request, context -> Response in
            try await Self.download(request, context: context, node: node, includeBody: true)
        }
        router.head("/v1/files/:address") { request, context -> Response in
            try await Self.download(request, context: context, node: node, includeBody: false)
        }
        router.delete("/v1/files/:address") { _, context -> Response in
            try Self.json(.ok, try await node.files.delete(try Self.address(context)))
        }
        router.get("/v1/files/:address/stat") { _, context -> Response in
            try Self.json(.ok, try await node.files.stat(try Self.address(context)))
        }
        router.get("/v1/peers") { _, _ -> Response in
            let peers = node.connectedPeers.map {
                PeerResponse(
                    nodeID: $0.nodeID.hex, address: $0.listenAddress?.description, remote: $0.remoteAddress,
                    inbound: $0.inbound, agent: $0.agent)
            }
            return try Self.json(.ok, peers.sorted { $0.nodeID < $1.nodeID })
        }
        router.get("/v1/members") { _, _ -> Response in
            try Self.json(.ok, await node.membership.view)
        }
        router.get("/v1/status") { _, _ -> Response in
            try Self.json(.ok, await node.status())
        }
        router.get("/metrics") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(string: await node.metricsText())))
        }
    }

    /// The page may load nothing from elsewhere and talk only to this API.
    static let pageHeaders: HTTPFields = [
        .contentType: "text/html; charset=utf-8",
        .contentSecurityPolicy:
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'; media-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        .init("X-Content-Type-Options")!: "nosniff",
        .cacheControl: "no-cache",
        .init("Referrer-Policy")!: "no-referrer",
    ]

    private static func address(_ context: BasicRequestContext) throws -> FileAddress {
        try FileAddress(parsing: context.parameters.get("address") ?? "")
    }

    private static func download(
        _ request: Request, context: BasicRequestContext, node: ShoalNode,
        includeBody: Bool
    ) async throws -> Response {
        let file = try await node.files.open(try address(context))
        let size = file.size
        var status: HTTPResponse.Status = .ok
        var offset: UInt64 = 0
        var length = size
        var headers: HTTPFields = [.contentType: "application/octet-stream", .acceptRanges: "bytes"]
        if let rangeHeader = request.headers[.range] {
            switch ByteRange.parse(rangeHeader, size: size) {
            case .some(.satisfiable(let range)):
                status = .partialContent
                offset = range.lowerBound
                length = UInt64(range.count)
                headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound - 1)/\(size)"
            case .some(.unsatisfiable):
                var error = APIError(status: .rangeNotSatisfiable, code: "range", message: "range not satisfiable")
                error.headers[.contentRange] = "bytes */\(size)"
                throw error
            case .none:
                break  // malformed or multi-range: serve the whole file, as RFC 9110 allows
            }
        }
        headers[.contentLength] = "\(length)"
        guard includeBody, length > 0 else { return Response(status: status, headers: headers) }
        let files = node.files
        let logger = node.logger
        let (start, count) = (offset, length)
        return Response(
            status: status, headers: headers,
            body: ResponseBody(contentLength: Int(length)) { writer in
                do {
                    try await files.read(file, offset: start, length: count) { try await writer.write($0) }
                } catch {
                    // Headers are gone; all that can be done is to cut the response short.
                    logger.warning(
                        "download failed midway",
                        metadata: ["file.root": "\(file.address.root.short)", "error": "\(error)"])
                    throw error
                }
                try await writer.finish(nil)
            })
    }

    static func json<T: Encodable>(_ status: HTTPResponse.Status, _ value: T) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(value)
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
