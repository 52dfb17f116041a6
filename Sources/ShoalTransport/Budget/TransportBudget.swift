import NIOConcurrencyHelpers
import ShoalCore

/// The node-wide resource budget of a transport, in the spirit of libp2p's resource manager:
/// every connection draws on it, so no peer (or many) can make the node buffer, queue or work on
/// more than the configured bounds.
///
/// | resource | per connection | node-wide |
/// | --- | --- | --- |
/// | connections | — | ``TransportConfiguration/maximumConnections`` (idle ones evicted); idle ones trimmed above ``TransportConfiguration/connectionsHighWater`` |
/// | half-open handshakes | — | ``TransportConfiguration/maximumHandshaking`` (oldest evicted) |
/// | buffered inbound frame bytes | one frame, finished within ``TransportConfiguration/frameTimeout`` | ``TransportConfiguration/maximumInboundBytes`` |
/// | queued response bytes | ``TransportConfiguration/maximumOutboundBytesPerConnection`` | ``TransportConfiguration/maximumOutboundBytes`` |
/// | requests in flight | ``TransportConfiguration/maximumInFlightPerConnection`` | ``TransportConfiguration/maximumInFlight`` |
/// | dials of unproven addresses | — | ``TransportConfiguration/dialBurst``, ``TransportConfiguration/dialsPerSecond`` |
final class TransportBudget: Sendable {
    let configuration: TransportConfiguration
    let inbound: ByteBudget
    let outbound: ByteBudget
    let connections: ConnectionRegistry
    let dials: DialPolicy
    private let counters = NIOLockedValueBox(Counters())

    struct Counters: Sendable {
        var inFlight = 0
        var overloaded = 0
        var frameTimeouts = 0
        var idleClosed = 0
        var stalledReaders = 0
    }

    init(configuration: TransportConfiguration) {
        self.configuration = configuration
        self.inbound = ByteBudget(limit: configuration.maximumInboundBytes)
        self.outbound = ByteBudget(limit: configuration.maximumOutboundBytes)
        self.connections = ConnectionRegistry(
            maximumConnections: configuration.maximumConnections,
            maximumHandshaking: configuration.maximumHandshaking,
            lowWater: configuration.connectionsLowWater, highWater: configuration.connectionsHighWater,
            trimGrace: configuration.trimGrace.timeAmount)
        self.dials = DialPolicy(burst: configuration.dialBurst, perSecond: configuration.dialsPerSecond)
    }

    /// Takes a node-wide request slot. - Returns: `false` when every slot is taken.
    func startRequest() -> Bool {
        counters.withLockedValue { c in
            guard c.inFlight < configuration.maximumInFlight else {
                c.overloaded += 1
                return false
            }
            c.inFlight += 1
            return true
        }
    }

    func finishRequest() {
        counters.withLockedValue { $0.inFlight = max(0, $0.inFlight - 1) }
    }

    func count(_ event: WritableKeyPath<Counters, Int>) {
        counters.withLockedValue { $0[keyPath: event] += 1 }
    }

    var snapshot: TransportUsage {
        let c = counters.withLockedValue { $0 }
        let r = connections.statistics
        return TransportUsage(
            connections: r.open, handshaking: r.handshaking, requestsInFlight: c.inFlight,
            inboundBytes: inbound.used, inboundBytesPeak: inbound.peak,
            outboundBytes: outbound.used, outboundBytesPeak: outbound.peak,
            evictedIdle: r.evictedIdle, evictedHalfOpen: r.evictedHalfOpen, refusedConnections: r.refused,
            trimmed: r.trimmed,
            overloadedRequests: c.overloaded, frameTimeouts: c.frameTimeouts, idleClosed: c.idleClosed,
            stalledReaders: c.stalledReaders, refusedDials: dials.refusals)
    }
}

/// What a transport's budget is using now, and what it had to refuse (for `/v1/status` and `/metrics`).
public struct TransportUsage: Codable, Sendable, Hashable {
    public var connections: Int
    public var handshaking: Int
    public var requestsInFlight: Int
    public var inboundBytes: Int
    public var inboundBytesPeak: Int
    public var outboundBytes: Int
    public var outboundBytesPeak: Int
    public var evictedIdle: Int
    public var evictedHalfOpen: Int
    public var refusedConnections: Int
    /// Idle connections closed because more than the high watermark were open.
    public var trimmed: Int
    public var overloadedRequests: Int
    public var frameTimeouts: Int
    public var idleClosed: Int
    public var stalledReaders: Int
    public var refusedDials: Int
}
