import Foundation
import ShoalCore
import ShoalDHT
import ShoalWire

extension ShoalNode {
    /// Runs one iterative node lookup of `target` over the network, exactly as placement does, and
    /// reports what it cost. For benchmarks (`shoal-bench lookup`); it updates the routing table
    /// like any lookup.
    /// - Parameter target: the key to look up.
    /// - Returns: up to K nodes that answered, closest first (this node excluded); the lookup's hop
    ///   count (longest chain of answers); and the requests it sent.
    public func lookupForMeasurement(_ target: Key256) async -> (closest: [Contact], hops: Int, messages: Int) {
        let result = await dht.lookup(target)
        return (result.closest, result.stats.hops, result.stats.messagesSent)
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
