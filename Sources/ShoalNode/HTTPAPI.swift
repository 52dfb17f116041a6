import Foundation
import Hummingbird
import Logging
import NIOCore
import ShoalCore
import ShoalFile
import ShoalStore
import ShoalWire

/// The node's HTTP API (see README.md, "HTTP API"): streaming upload and download with `Range`,
/// delete, stat, peers, status and Prometheus metrics. Loopback by default; anywhere else it requires
/// a bearer token on every request.
public enum HTTPAPI {
    /// Builds the API application for `node`.
    /// - Parameters:
    ///   - address: where to listen.
    ///   - token: the bearer token every request must carry; required unless `address` is loopback.
    ///   - onRunning: told the bound address once the server listens.
    /// - Throws: ``APIConfigurationError`` when a non-loopback address has no token.
    public static func makeApplication(node: ShoalNode, address: PeerAddress, token: String?, logger: Logger,
                                       onRunning: @escaping @Sendable (PeerAddress) async -> Void = { _ in }) throws -> some ApplicationProtocol {
        if token == nil && !isLoopback(address.host) {
            throw APIConfigurationError(message: "the API on \(address) is reachable from other hosts: set --api-token, or bind it to 127.0.0.1")
        }
        let router = Router()
        if let token { router.add(middleware: TokenMiddleware(token: token)) }
        addRoutes(to: router, node: node)
        return Application(router: router, configuration: .init(address: .hostname(address.host, port: address.port), serverName: "shoal"),
                           onServerRunning: { channel in
                               await onRunning(PeerAddress(host: address.host, port: channel.localAddress?.port ?? address.port))
                           }, logger: logger)
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    private static func addRoutes(to router: Router<BasicRequestContext>, node: ShoalNode) {
        router.post("/v1/files") { request, _ -> Response in
            let query = request.uri.queryParameters
            let isPublic = ["1", "true", "yes"].contains(query.get("public")?.lowercased() ?? "")
            let name = query.get("name") ?? ""
            do {
                let result = try await node.files.put(request.body, isPublic: isPublic, name: name)
                return try json(.created, PutResponse(address: result.address.description, size: result.size, chunks: result.chunkCount,
                                                      isPublic: result.address.isPublic))
            } catch {
                return errorResponse(error)
            }
        }
        router.get("/v1/files") { _, _ -> Response in
            do {
                let entries = try await node.files.keyring().map(KeyringResponse.init)
                return try json(.ok, entries)
            } catch {
                return errorResponse(error)
            }
        }
        router.get("/v1/files/:address") { request, context -> Response in
            await download(request, context: context, node: node, includeBody: true)
        }
        router.head("/v1/files/:address") { request, context -> Response in
            await download(request, context: context, node: node, includeBody: false)
        }
        router.delete("/v1/files/:address") { _, context -> Response in
            do {
                let address = try FileAddress(parsing: context.parameters.get("address") ?? "")
                return try json(.ok, try await node.files.delete(address))
            } catch {
                return errorResponse(error)
            }
        }
        router.get("/v1/files/:address/stat") { _, context -> Response in
            do {
                let address = try FileAddress(parsing: context.parameters.get("address") ?? "")
                return try json(.ok, try await node.files.stat(address))
            } catch {
                return errorResponse(error)
            }
        }
        router.get("/v1/peers") { _, _ -> Response in
            let peers = node.connectedPeers.map {
                PeerResponse(nodeID: $0.nodeID.hex, address: $0.listenAddress?.description, remote: $0.remoteAddress,
                             inbound: $0.inbound, agent: $0.agent)
            }
            do { return try json(.ok, peers.sorted { $0.nodeID < $1.nodeID }) } catch { return errorResponse(error) }
        }
        router.get("/v1/members") { _, _ -> Response in
            do { return try json(.ok, await node.membership.view) } catch { return errorResponse(error) }
        }
        router.get("/v1/status") { _, _ -> Response in
            do { return try json(.ok, await node.status()) } catch { return errorResponse(error) }
        }
        router.get("/metrics") { _, _ -> Response in
            let text = await node.metricsText()
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                            body: .init(byteBuffer: ByteBuffer(string: text)))
        }
    }

    private static func download(_ request: Request, context: BasicRequestContext, node: ShoalNode, includeBody: Bool) async -> Response {
        let file: OpenFile
        do {
            file = try await node.files.open(try FileAddress(parsing: context.parameters.get("address") ?? ""))
        } catch {
            return errorResponse(error)
        }
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
                var h: HTTPFields = [.contentRange: "bytes */\(size)"]
                h[.contentType] = "application/json"
                return Response(status: .rangeNotSatisfiable, headers: h,
                                body: .init(byteBuffer: ByteBuffer(string: #"{"error":"range not satisfiable","code":"range"}"#)))
            case .none:
                break // malformed or multi-range: serve the whole file, as RFC 9110 allows
            }
        }
        headers[.contentLength] = "\(length)"
        guard includeBody, length > 0 else { return Response(status: status, headers: headers) }
        let files = node.files
        let logger = node.logger
        let (start, count) = (offset, length)
        return Response(status: status, headers: headers, body: ResponseBody(contentLength: Int(length)) { writer in
            do {
                try await files.read(file, offset: start, length: count) { try await writer.write($0) }
            } catch {
                // Headers are gone; all that can be done is to cut the response short.
                logger.warning("download failed midway", metadata: ["file.root": "\(file.address.root.short)", "error": "\(error)"])
                throw error
            }
            try await writer.finish(nil)
        })
    }

    static func json<T: Encodable>(_ status: HTTPResponse.Status, _ value: T) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(value)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Maps an error to a status code and a JSON body `{"error": message, "code": code}`.
    static func errorResponse(_ error: Error) -> Response {
        let (status, code): (HTTPResponse.Status, String)
        switch error {
        case is AddressError: (status, code) = (.badRequest, "bad_address")
        case let e as WireError where e.code == .forbidden: (status, code) = (.forbidden, "forbidden")
        case let e as WireError where e.code == .gone: (status, code) = (.gone, "gone")
        case let e as WireError where e.code == .notFound: (status, code) = (.notFound, "not_found")
        case is FetchError: (status, code) = (.notFound, "not_found")
        case is LocalObjectsError: (status, code) = (.gone, "gone")
        case let e as FileReaderError where e.code == .rangeNotSatisfiable: (status, code) = (.rangeNotSatisfiable, "range")
        case is FileReaderError, is SealError, is ManifestError: (status, code) = (.unprocessableContent, "unreadable")
        case is PlacementError: (status, code) = (.serviceUnavailable, "insufficient_replicas")
        default: (status, code) = (.internalServerError, "internal")
        }
        let body = (try? JSONEncoder().encode(ErrorResponse(error: "\(error)", code: code))) ?? Data()
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

struct TokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.headers[.authorization] == "Bearer \(token)" else {
            let body = #"{"error":"missing or wrong API token: send 'Authorization: Bearer <token>' (shoal --api-token)","code":"unauthorized"}"#
            return Response(status: .unauthorized, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        return try await next(request, context)
    }
}

public struct APIConfigurationError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

struct PutResponse: Codable {
    var address: String
    var size: UInt64
    var chunks: UInt64
    var isPublic: Bool
}

/// One file of the keyring, as `GET /v1/files` lists it.
struct KeyringResponse: Codable {
    var address: String
    var root: String
    var name: String
    var size: UInt64
    var isPublic: Bool
    /// ISO 8601.
    var createdAt: String

    init(_ entry: KeyringEntry) {
        address = entry.address.description
        root = entry.root.hex
        name = entry.name
        size = entry.size
        isPublic = entry.isPublic
        let date = Date(timeIntervalSince1970: Double(entry.createdAt.nanoseconds) / 1e9)
        createdAt = ISO8601DateFormatter().string(from: date)
    }
}

struct PeerResponse: Codable {
    var nodeID: String
    var address: String?
    var remote: String
    var inbound: Bool
    var agent: String
}

struct ErrorResponse: Codable {
    var error: String
    var code: String
}

extension ShoalNode {
    /// Prometheus text for `/metrics`.
    func metricsText() async -> String {
        let status = await status()
        let (deaths, suspicions) = await (membership.deaths, membership.suspicions)
        let (pushed, dropped) = await (repair.pushed, repair.dropped)
        return metrics.render(counters: [
            ("shoal_members_declared_dead_total", "Members this node saw declared dead.", Double(deaths)),
            ("shoal_members_suspected_total", "Members this node saw suspected.", Double(suspicions)),
            ("shoal_repair_pushes_total", "Objects pushed to nodes that lacked them.", Double(pushed)),
            ("shoal_repair_drops_total", "Local copies dropped after a confirmed hand-off.", Double(dropped)),
        ], gauges: [
            ("shoal_peers", "Open peer connections.", Double(status.peers)),
            ("shoal_routing_table_size", "Contacts in the routing table.", Double(status.routingTableSize)),
            ("shoal_members", "Alive or suspect members, this node included.", Double(status.members)),
            ("shoal_bytes_stored", "Bytes of objects on disk.", Double(status.bytesStored)),
            ("shoal_objects_stored", "Objects on disk.", Double(status.objectsStored)),
            ("shoal_cache_bytes", "Bytes of cached objects.", Double(status.cachedBytes)),
            ("shoal_repair_backlog", "Objects waiting for repair.", Double(status.repairBacklog)),
        ])
    }
}
