import ArgumentParser
import Foundation
import ShoalNode
import ShoalTransport

#if canImport(Glibc)
import Glibc
#endif

/// The node's resource budget on the command line (README.md, "Resource limits").
struct ResourceOptions: ParsableArguments {
    @Option(help: "Peer connections open at most; at the limit the least useful idle one is evicted for a new one.")
    var maxConnections = 1024

    @Option(help: "Peer connections kept when idle: above --connections-high, idle ones are closed down to this.")
    var connectionsLow = 96

    @Option(
        help: "Peer connections open before idle ones are trimmed to --connections-low (at most --max-connections).")
    var connectionsHigh = 128

    @Option(help: "Peer connections still in their handshake at most; beyond it the oldest is closed.")
    var maxHandshaking = 128

    @Option(help: "Bytes of large inbound frames buffered from all peers at once (a size).")
    var maxInboundBuffer = ByteSize(bytes: 64 << 20)

    @Option(help: "Bytes of responses queued to all peers at once (a size).")
    var maxOutboundBuffer = ByteSize(bytes: 96 << 20)

    @Option(help: "Seconds a frame may take to arrive once begun.")
    var frameTimeout = 30

    @Option(help: "Seconds a peer connection may stay idle before it is closed.")
    var idleTimeout = 60

    @Option(help: "Seconds a peer over its queued-response bound may take none of it before it is disconnected.")
    var stalledReaderTimeout = 20

    @Option(help: "HTTP API connections open at most; at the limit the longest-idle one is evicted.")
    var apiMaxConnections = 128

    func validate() throws {
        guard (1...1_000_000).contains(maxConnections), (1...1_000_000).contains(apiMaxConnections) else {
            throw ValidationError("--max-connections and --api-max-connections must be from 1 to 1000000")
        }
        guard (1...1_000_000).contains(connectionsHigh), (1...connectionsHigh).contains(connectionsLow) else {
            throw ValidationError("--connections-low must be from 1 to --connections-high (at most 1000000)")
        }
        guard (1...maxConnections).contains(maxHandshaking) else {
            throw ValidationError("--max-handshaking must be from 1 to --max-connections")
        }
        guard (1...3600).contains(frameTimeout), (1...86_400).contains(idleTimeout),
            (1...3600).contains(stalledReaderTimeout)
        else {
            throw ValidationError(
                "--frame-timeout and --stalled-reader-timeout must be from 1 to 3600 seconds and --idle-timeout from 1 to 86400"
            )
        }
        guard maxInboundBuffer.bytes >= 10 << 20, maxOutboundBuffer.bytes >= 10 << 20 else {
            throw ValidationError(
                "--max-inbound-buffer and --max-outbound-buffer must be at least 10M (room for one largest frame)")
        }
    }

    /// Applies the options, fitted to the descriptors this process may open.
    func apply(to config: inout NodeConfiguration, api limits: inout HTTPAPI.Limits) -> String? {
        let (peers, apiConnections, note) = DescriptorBudget.fit(peers: maxConnections, api: apiMaxConnections)
        config.transport.maximumConnections = peers
        config.transport.maximumHandshaking = min(maxHandshaking, peers)
        // Watermarks above the (fitted) connection limit scale down with it.
        let high = min(connectionsHigh, peers)
        config.transport.connectionsHighWater = high
        config.transport.connectionsLowWater =
            high < connectionsHigh ? min(connectionsLow, max(1, high * 3 / 4)) : connectionsLow
        config.transport.maximumInboundBytes = Int(maxInboundBuffer.bytes)
        config.transport.maximumOutboundBytes = Int(maxOutboundBuffer.bytes)
        config.transport.frameTimeout = .seconds(frameTimeout)
        config.transport.idleTimeout = .seconds(idleTimeout)
        config.transport.stalledReaderTimeout = .seconds(stalledReaderTimeout)
        limits.maximumConnections = apiConnections
        return note
    }
}

/// Keeps connections within the process's descriptor limit, with a reserve for files, the
/// database and logs, so that neither peers nor API clients can use up the descriptors the other
/// (or the store) needs.
enum DescriptorBudget {
    /// Descriptors kept for everything but connections.
    static let reserve = 96

    /// Raises the soft descriptor limit to the hard one, then shares what is left after the
    /// reserve: the API gets at most a quarter when both do not fit.
    /// - Returns: the connection limits to use, and a note when they had to shrink.
    static func fit(peers: Int, api: Int) -> (peers: Int, api: Int, note: String?) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return (peers, api, nil) }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        let available = Int(min(limit.rlim_cur, 1 << 30)) - reserve
        guard available < peers + api else { return (peers, api, nil) }
        let apiShare = max(8, min(api, available / 4))
        let peerShare = max(16, min(peers, available - apiShare))
        return (
            peerShare, apiShare,
            "the descriptor limit is \(limit.rlim_cur): at most \(peerShare) peer and \(apiShare) API connections (raise 'ulimit -n' for more)"
        )
    }
}
