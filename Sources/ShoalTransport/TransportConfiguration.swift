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
    public var capabilities: [String] = PeerCapability.all
    /// `false` for a client-only peer: Hello carries no listen address.
    public var announcesListenAddress = true

    public init() {}
}

extension Duration {
    var timeAmount: TimeAmount { .nanoseconds(nanosecondsClamped) }
}

/// The capabilities a node announces in its Hello (Protocol/README.md §5). A node sends a message
/// added after version 1 only to peers that announced the capability it belongs to.
public enum PeerCapability {
    /// Stores and serves objects.
    public static let store = "store"
    /// Takes part in SWIM gossip.
    public static let gossip = "gossip"
    /// Understands `BadCopy` notices.
    public static let badCopy = "bad-copy"
    /// Understands `StoreChunk.claims` and `DeleteAck.retained`.
    public static let claims = "claims"

    /// Everything this build supports.
    public static let all = [store, gossip, badCopy, claims]
}
