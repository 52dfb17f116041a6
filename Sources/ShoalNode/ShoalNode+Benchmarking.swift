import Foundation
import ShoalCore
import ShoalDHT
import ShoalWire

extension ShoalNode {
    /// Runs one iterative node lookup of `target` over the network, exactly as placement does, and
    /// reports what it cost. For benchmarks (`shoal-bench lookup`); it updates the routing table
    /// like any lookup.
    /// - Parameters:
    ///   - target: the key to look up.
    ///   - wanted: how many of the closest nodes are needed (`nil`: all K, as a lookup that proves a
    ///     neighbourhood for placement does).
    public func lookupForMeasurement(_ target: Key256, wanted: Int? = nil) async -> LookupMeasurement {
        let (result, timing) = await dht.timedLookup(target, wanted: wanted)
        return LookupMeasurement(
            closest: result.closest, hops: result.stats.hops, messages: result.stats.messagesSent,
            total: timing.total, waiting: timing.waiting, roundTrips: timing.roundTrips)
    }

    /// Sends one Ping to `contact` (dialling first if no connection is open) and times the round
    /// trip from sending the request to receiving the Pong. For benchmarks.
    /// - Parameter contact: the peer to ping.
    /// - Returns: the round-trip time.
    /// - Throws: the transport's error when the peer cannot be reached or does not answer in 5 s.
    public func pingForMeasurement(_ contact: Contact) async throws -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        _ = try await transport.request(.ping(payload: .init()), to: contact, timeout: .seconds(5))
        return clock.now - start
    }
}

/// What one lookup found and cost, for `shoal-bench lookup`.
public struct LookupMeasurement: Sendable {
    /// Up to K nodes that answered, closest first (the asking node excluded).
    public var closest: [Contact]
    /// The longest chain of answers.
    public var hops: Int
    /// Requests sent.
    public var messages: Int
    /// From the first request to the result.
    public var total: Duration
    /// Time spent waiting for answers with nothing else to do; the rest is the asking node's own
    /// work (the state machine, the routing table, starting requests).
    public var waiting: Duration
    /// Each request's round trip as the asking node saw it.
    public var roundTrips: [Duration]
}
