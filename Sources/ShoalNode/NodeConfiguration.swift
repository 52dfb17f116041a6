import Foundation
import Prometheus
import ShoalCore
import ShoalTransport

/// Everything a node needs to start. The defaults are those documented in README.md.
public struct NodeConfiguration: Sendable {
    /// Where to accept peer connections (TLS).
    public var listen: PeerAddress
    /// Data directory: identity key, chunks, metadata database.
    public var dataDirectory: URL
    /// Peers to join through; empty starts a new network.
    public var bootstrap: [PeerAddress] = []
    /// Replication factor r.
    public var replicas = 3
    /// Bytes of chunks fetched for readers kept in the local LRU cache.
    public var cacheSize: UInt64 = 1 << 30
    /// Most bytes of objects this node stores; `nil` for no limit.
    public var maxStorage: UInt64?
    /// Chunk size for files put through this node.
    public var chunkSize = ObjectSize.defaultChunk
    /// Objects in flight per put, and chunks fetched in parallel per get.
    public var transferWindow = 8
    /// Peer transport limits and timeouts.
    public var transport = TransportConfiguration()
    /// SWIM protocol period.
    public var protocolPeriod: Duration = .seconds(1)
    /// How often bootstrap peers are contacted again (heals partitions), and join retried.
    public var bootstrapInterval: Duration = .seconds(30)
    /// Repair planner period.
    public var repairInterval: Duration = .seconds(30)
    /// Bytes per second repair may push.
    public var repairBandwidth: UInt64 = 64 << 20
    /// How long tombstones are kept after their Delete: the longest a node may be away and rejoin
    /// with its objects served at once (see `TombstonePolicy`). The same on every node of a
    /// cluster. Default 10 days.
    public var tombstoneGrace: Duration = .seconds(10 * 24 * 3600)
    /// How often routing-table buckets are checked for refresh.
    public var refreshCheckInterval: Duration = .seconds(60)
    /// The clocks every part of the node reads (tests inject their own).
    public var clock: NodeClock = .system()
    /// The registry the node records its metrics in and exposes at `/metrics`. Each configuration
    /// gets a fresh one; the `shoal` executable passes the registry it bootstrapped the global
    /// metrics system with, so that library metrics (HTTP routes) appear beside the node's.
    public var metrics = PrometheusCollectorRegistry()

    public init(listen: PeerAddress, dataDirectory: URL) {
        self.listen = listen
        self.dataDirectory = dataDirectory
    }
}
