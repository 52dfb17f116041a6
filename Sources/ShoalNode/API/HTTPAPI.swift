import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ShoalCore
import ShoalFile
import ShoalStore
import ShoalWire

/// The node's HTTP API (see README.md, "HTTP API"): the web UI at `/`, streaming upload and
/// download with `Range`, delete, stat, the keyring, peers, members, status and Prometheus
/// metrics. Loopback by default, guarded against web pages (``APIGuard``); anywhere else it requires
/// a bearer token on every request. Connections are bounded and idle ones evicted
/// (``APIConnectionLimiter``).
public enum HTTPAPI {
    /// Limits of the API server.
    public struct Limits: Sendable {
        /// Open connections at most; beyond it the longest-idle one is evicted. Default 128.
        public var maximumConnections = 128
        /// A connection must send a request head within this after opening or after its previous
        /// request. Default 15 s.
        public var headTimeout: Duration = .seconds(15)

        public init() {}
    }

    /// Builds the API application for `node`.
    /// - Parameters:
    ///   - address: where to listen.
    ///   - token: the bearer token every request must carry; required unless `address` is loopback.
    ///   - limits: connection bounds.
    ///   - onRunning: told the bound address once the server listens.
    /// - Throws: ``APIConfigurationError`` when a non-loopback address has no token.
    public static func makeApplication(node: ShoalNode, address: PeerAddress, token: String?, limits: Limits = Limits(),
                                       logger: Logger,
                                       onRunning: @escaping @Sendable (PeerAddress) async -> Void = { _ in }) throws -> some ApplicationProtocol {
        if token == nil && !isLoopback(address.host) {
            throw APIConfigurationError(message: "the API on \(address) is reachable from other hosts: set --api-token, or bind it to 127.0.0.1")
        }
        let router = Router()
        router.add(middleware: APIErrorMiddleware())
        router.add(middleware: APIGuard(boundHost: address.host))
        if let token { router.add(middleware: TokenMiddleware(token: token)) }
        APIRoutes(node: node).add(to: router)
        let limiter = APIConnectionLimiter(maximumConnections: limits.maximumConnections,
                                           headTimeout: .nanoseconds(limits.headTimeout.nanosecondsClamped))
        node.apiLimiter.withLockedValue { $0 = limiter }
        return Application(router: router,
                           server: .http1(configuration: .init(additionalChannelHandlers: [limiter.makeHandler()])),
                           configuration: .init(address: .hostname(address.host, port: address.port), serverName: "shoal"),
                           onServerRunning: { channel in
                               await onRunning(PeerAddress(host: address.host, port: channel.localAddress?.port ?? address.port))
                           }, logger: logger)
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
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
        let repairMetrics = status.repair.metrics
        let (pushed, dropped) = (status.repair.pushed, status.repair.dropped)
        let t = status.resources.transport
        return metrics.render(counters: repairMetrics.counters + [
            ("shoal_members_declared_dead_total", "Members this node saw declared dead.", Double(deaths)),
            ("shoal_members_suspected_total", "Members this node saw suspected.", Double(suspicions)),
            ("shoal_repair_pushes_total", "Objects pushed to nodes that lacked them.", Double(pushed)),
            ("shoal_repair_drops_total", "Local copies dropped after a confirmed hand-off.", Double(dropped)),
            ("shoal_connections_evicted_idle_total", "Idle peer connections closed to admit new ones.", Double(t.evictedIdle)),
            ("shoal_connections_evicted_half_open_total", "Half-open peer connections closed to admit new ones.", Double(t.evictedHalfOpen)),
            ("shoal_connections_refused_total", "Peer connections refused at the limit.", Double(t.refusedConnections)),
            ("shoal_requests_overloaded_total", "Peer requests answered OVERLOADED.", Double(t.overloadedRequests)),
            ("shoal_frame_timeouts_total", "Connections closed because a frame took too long.", Double(t.frameTimeouts)),
            ("shoal_idle_connections_closed_total", "Peer connections closed as idle.", Double(t.idleClosed)),
            ("shoal_stalled_readers_total", "Peers disconnected for not reading their responses.", Double(t.stalledReaders)),
            ("shoal_dials_refused_total", "Dials of unproven addresses refused by the dial budget.", Double(t.refusedDials)),
        ], gauges: [
            ("shoal_connections_handshaking", "Peer connections in their handshake.", Double(t.handshaking)),
            ("shoal_requests_in_flight", "Peer requests being handled.", Double(t.requestsInFlight)),
            ("shoal_inbound_buffer_bytes", "Bytes of large inbound frames buffered.", Double(t.inboundBytes)),
            ("shoal_outbound_buffer_bytes", "Bytes of responses queued to peers.", Double(t.outboundBytes)),
            ("shoal_api_connections", "Open HTTP API connections.", Double(status.resources.api?.connections ?? 0)),
            ("shoal_peers", "Open peer connections.", Double(status.peers)),
            ("shoal_routing_table_size", "Contacts in the routing table.", Double(status.routingTableSize)),
            ("shoal_members", "Alive or suspect members, this node included.", Double(status.members)),
            ("shoal_bytes_stored", "Bytes of objects on disk.", Double(status.bytesStored)),
            ("shoal_objects_stored", "Objects on disk.", Double(status.objectsStored)),
            ("shoal_cache_bytes", "Bytes of cached objects.", Double(status.cachedBytes)),
            ("shoal_repair_backlog", "Objects waiting for repair.", Double(status.repairBacklog)),
        ] + repairMetrics.gauges)
    }
}
