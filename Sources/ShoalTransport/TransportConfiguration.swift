import NIOCore
import ShoalCore
import ShoalWire

/// Limits and timeouts of the peer transport. The defaults are those of `Protocol/README.md`.
public struct TransportConfiguration: Sendable {
    /// TCP connect + TLS + Hello must complete within this, or the connection is dropped.
    public var handshakeTimeout: Duration = .seconds(10)
    /// Default timeout of one request.
    public var requestTimeout: Duration = .seconds(10)
    /// TCP connect timeout when dialling.
    public var connectTimeout: Duration = .seconds(5)
    /// Requests from one peer processed at once; beyond this the connection stops reading.
    public var maximumInFlightPerConnection = 256
    /// Connections accepted at once; beyond this new ones are closed immediately.
    public var maximumConnections = 1024
    /// Largest frame read or written.
    public var maximumFrameSize = WireLimits.maximumFrameSize
    /// The address put in Hello; defaults to the bound address.
    public var advertisedAddress: PeerAddress?
    /// Capabilities announced in Hello.
    public var capabilities: [String] = ["store", "gossip"]
    /// `false` for a client-only peer: Hello carries no listen address.
    public var announcesListenAddress = true

    public init() {}
}

extension Duration {
    var timeAmount: TimeAmount { .nanoseconds(nanosecondsClamped) }
}
