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
    public static func makeApplication(
        node: ShoalNode, address: PeerAddress, token: String?, limits: Limits = Limits(),
        logger: Logger,
        onRunning: @escaping @Sendable (PeerAddress) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        if token == nil && !isLoopback(address.host) {
            throw APIConfigurationError(
                message: "the API on \(address) is reachable from other hosts: set --api-token, or bind it to 127.0.0.1"
            )
        }
        let router = Router()
        // Per-route request counts and latency, recorded through the global metrics system (the
        // executable points it at the node's registry, so they appear at /metrics).
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: APIErrorMiddleware())
        router.add(middleware: APIGuard(boundHost: address.host))
        if let token { router.add(middleware: TokenMiddleware(token: token)) }
        APIRoutes(node: node).add(to: router)
        let limiter = APIConnectionLimiter(
            maximumConnections: limits.maximumConnections,
            headTimeout: .nanoseconds(limits.headTimeout.nanosecondsClamped))
        node.apiLimiter.withLockedValue { $0 = limiter }
        return Application(
            router: router,
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
    /// Prometheus text for `/metrics`: brings the totals kept by the shells and the state gauges up
    /// to date in the node's registry, then renders the registry.
    func metricsText() async -> String {
        let status = await status()
        let (deaths, suspicions) = await (membership.deaths, membership.suspicions)
        let repairMetrics = status.repair.metrics
        let (pushed, dropped) = (status.repair.pushed, status.repair.dropped)
        let view = await membership.view
        let t = status.resources.transport
        var byState: [String: Int] = ["alive": 0, "suspect": 0, "dead": 0, "left": 0]
        for member in view { byState[member.status, default: 0] += 1 }
        var gauges: [(String, [(String, String)], Double)] = [
            ("shoal_connections_handshaking", [], Double(t.handshaking)),
            ("shoal_requests_in_flight", [], Double(t.requestsInFlight)),
            ("shoal_inbound_buffer_bytes", [], Double(t.inboundBytes)),
            ("shoal_outbound_buffer_bytes", [], Double(t.outboundBytes)),
            ("shoal_api_connections", [], Double(status.resources.api?.connections ?? 0)),
            ("shoal_peers", [], Double(status.peers)),
            ("shoal_routing_table_size", [], Double(status.routingTableSize)),
            ("shoal_members", [], Double(status.members)),
            ("shoal_bytes_stored", [], Double(status.bytesStored)),
            ("shoal_objects_stored", [], Double(status.objectsStored)),
            ("shoal_cache_bytes", [], Double(status.cachedBytes)),
            ("shoal_repair_backlog", [], Double(status.repairBacklog)),
        ]
        for (state, count) in byState.sorted(by: { $0.key < $1.key }) {
            gauges.append(("shoal_members_by_state", [("state", state)], Double(count)))
        }
        metrics.refresh(
            totals: [
                ("shoal_members_declared_dead_total", Int64(deaths)),
                ("shoal_members_suspected_total", Int64(suspicions)),
                ("shoal_repair_pushes_total", Int64(pushed)),
                ("shoal_repair_drops_total", Int64(dropped)),
                ("shoal_connections_evicted_idle_total", Int64(t.evictedIdle)),
                ("shoal_connections_trimmed_total", Int64(t.trimmed)),
                ("shoal_connections_evicted_half_open_total", Int64(t.evictedHalfOpen)),
                ("shoal_connections_refused_total", Int64(t.refusedConnections)),
                ("shoal_requests_overloaded_total", Int64(t.overloadedRequests)),
                ("shoal_frame_timeouts_total", Int64(t.frameTimeouts)),
                ("shoal_idle_connections_closed_total", Int64(t.idleClosed)),
                ("shoal_stalled_readers_total", Int64(t.stalledReaders)),
                ("shoal_dials_refused_total", Int64(t.refusedDials)),
            ] + repairMetrics.totals, gauges: gauges + repairMetrics.gauges)
        return metrics.exposition()
    }
}
