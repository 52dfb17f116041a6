import Foundation
import ShoalCore
import ShoalWire
import XCTest

/// A hostile peer completes TLS and Hello with one node of three and gossips 100,000 made-up
/// members "alive" at 127.x.y.z:1, 32 per frame: no node's member count moves from the true size.
final class HostileGossipTests: ClusterTestCase, @unchecked Sendable {
    func testAHundredThousandMadeUpMembersLeaveTheMemberCountAtTheTrueSize() async throws {
        let nodes = try await startCluster(size: 3)
        let target = nodes[0]
        let liar = try await HostilePeer.connect(
            port: target.listenPort, listenAddress: PeerAddress(host: "127.0.0.1", port: 1))
        let madeUp = 100_000
        var sent = 0
        var frames = 0
        let started = ContinuousClock.now
        while sent < madeUp {
            var updates: [MemberUpdate] = []
            while updates.count < GossipMessage.maximumUpdates, sent < madeUp {
                let fake = Contact(
                    id: Key256.sha256(of: Array("made-up-\(sent)".utf8)),
                    address: PeerAddress(host: "127.\(sent % 200 + 1).\(sent / 200 % 250).\(sent % 7 + 1)", port: 1))
                updates.append(MemberUpdate(member: fake, status: .alive, incarnation: 0))
                sent += 1
            }
            frames += 1
            do {
                try await liar.send(
                    WireFrame(id: UInt64(frames), .gossip(GossipMessage(kind: .probe, updates: updates))))
            } catch {
                break  // the node closed the connection: it may, and the claims still must not count
            }
        }
        log(
            "hostile peer sent \(frames) Gossip frames (\(sent) made-up members) in \(fmt(ContinuousClock.now - started)) s"
        )
        await liar.close()
        try await Task.sleep(for: .seconds(5))
        for node in nodes {
            let status = try await node.api.status()
            log("\(node.name): \(status.members) members, \(status.membership?.unverified ?? -1) unverified")
            XCTAssertEqual(status.members, nodes.count, "\(node.name)'s member count stays at the true size")
        }
        let timed = ContinuousClock.now
        _ = try await target.api.status()
        log("/v1/status answered in \(fmt(ContinuousClock.now - timed)) s")
        XCTAssertTrue(target.process.isRunning)
    }
}
