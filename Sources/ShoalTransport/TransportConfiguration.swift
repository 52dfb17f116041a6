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
    /// Requests from one peer processed at once; a request beyond this is answered `OVERLOADED`
    /// (and the connection stops reading until one finishes).
    public var maximumInFlightPerConnection = 256
    /// Requests from all peers processed at once; beyond this requests are answered `OVERLOADED`.
    public var maximumInFlight = 2048
    /// Connections open at once. At the limit a new connection evicts the least useful idle one
    /// (one that only ever sent requests and has been quiet longest); with none idle, it is closed.
    public var maximumConnections = 1024
    /// Connections still in their TLS or Hello handshake at once; beyond this the oldest is closed,
    /// so that half-open connections cannot keep real peers out.
    public var maximumHandshaking = 128
    /// Connections kept open when idle, after libp2p's connection manager: once more than
    /// ``connectionsHighWater`` are open, the least useful idle ones (nothing in flight, quiet for
    /// ``trimGrace``; those this node never used first) are closed down to ``connectionsLowWater``,
    /// and dialled again when needed. So a node holds connections to the peers it is using (its
    /// probes, lookups, repair and transfers), not to every member of a large cluster.
    public var connectionsLowWater = 96
    public var connectionsHighWater = 128
    /// How long a connection must have been quiet before trimming may close it.
    public var trimGrace: Duration = .seconds(10)
    /// A connection with no frame either way and nothing pending for this long is closed.
    public var idleTimeout: Duration = .seconds(60)
    /// A frame must finish arriving within this of its first byte, or the connection is closed.
    public var frameTimeout: Duration = .seconds(30)
    /// Bytes of large frames (over ``unreservedFrameSize``) buffered from all peers at once; a
    /// connection whose next frame does not fit waits (reads nothing) until room frees up.
    /// Responses to this node's own requests do not count. Default 64 MiB.
    public var maximumInboundBytes = 64 << 20
    /// Frames up to this size are read without reserving inbound room.
    public var unreservedFrameSize = 64 << 10
    /// Response bytes queued to one peer and not yet taken by it; beyond this the connection
    /// stops reading requests. Default 16 MiB.
    public var maximumOutboundBytesPerConnection = 16 << 20
    /// Response bytes queued to all peers; beyond this no connection reads requests. Default 96 MiB.
    public var maximumOutboundBytes = 96 << 20
    /// A peer that takes none of its queued responses for this long is disconnected.
    public var stalledReaderTimeout: Duration = .seconds(20)
    /// Dials of addresses not yet proven (learned from a Hello or from gossip): a burst and a
    /// steady rate per second. Bootstrap addresses do not count.
    public var dialBurst = 32
    public var dialsPerSecond = 8
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
    /// Takes part in anti-entropy: answers `AntiEntropyRequest`, `ShareRecords` and `GetDelete`,
    /// and reads `StoreChunk.tombstones`.
    public static let antiEntropy = "anti-entropy"

    /// Everything this build supports.
    public static let all = [store, gossip, badCopy, claims, antiEntropy]
}
