import Foundation
import ShoalCore
import XCTest

@testable import ShoalNode

final class JoinTests: NodeTestCase, @unchecked Sendable {
    /// A node whose bootstrap peer is down runs alone, retries with backoff, and joins once the
    /// peer appears.
    func testBootstrapPeerDownAtStartIsJoinedWhenItAppears() async throws {
        // Find an address that is free now: start a node, note its port and data dir, stop it.
        let dir = try makeTemporaryDirectory("shoal-seed")
        var seedConfig = NodeConfiguration(listen: PeerAddress(host: "127.0.0.1", port: 0), dataDirectory: dir)
        let first = try await ShoalNode.start(configuration: seedConfig, logger: Self.testLogger())
        let address = first.contact.address
        let seedID = first.nodeID
        await first.stop(handOff: false)

        let joiner = try await startNode { $0.bootstrap = [address] }
        // Alone meanwhile, but alive and serving: a local put works (r is capped by the network size).
        try await Task.sleep(for: .seconds(1))
        let size = await joiner.dht.size
        XCTAssertEqual(size, 0)
        let alone = try await joiner.put(testBytes(count: 1000, seed: 1), isPublic: true)
        let readAlone = try await joiner.readAll(alone.address)
        XCTAssertEqual(readAlone.count, 1000)

        // The bootstrap peer comes up on the same address and data dir (so with the same identity).
        seedConfig.listen = address
        let seed = try await launch(seedConfig)
        XCTAssertEqual(seed.nodeID, seedID)
        try await waitUntil("the joiner to admit the bootstrap peer", seconds: 30) {
            await joiner.dht.contains(seedID)
        }
        try await waitUntil("the bootstrap peer to admit the joiner", seconds: 30) {
            await seed.dht.contains(joiner.nodeID)
        }
        // And the joiner's file is now reachable from the seed.
        let readFromSeed = try await seed.readAll(alone.address)
        XCTAssertEqual(readFromSeed.count, 1000)
    }
}
