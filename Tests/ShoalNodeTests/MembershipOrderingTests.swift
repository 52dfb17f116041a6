import Foundation
import NIOConcurrencyHelpers
import ShoalCore
import ShoalTransport
import ShoalWire
import XCTest

@testable import ShoalNode

/// What follows a membership change (the routing table, observers such as repair) happens in the
/// order the changes happened, so a member that died and came back is removed before it is admitted
/// again, never after.
final class MembershipOrderingTests: NodeTestCase, @unchecked Sendable {
    func testAMemberThatDiesAndComesBackEndsAliveInTheRoutingTableAndObserversSeeEachChangeInOrder()
        async throws
    {
        let nodes = try await startNodes(3)
        let (observer, subject, informer) = (nodes[0], nodes[1], nodes[2])
        let subjectID = subject.identity.nodeID
        try await waitUntil("three members at every node", seconds: 60) {
            for node in nodes where await node.membership.aliveCount < 3 { return false }
            return true
        }
        let seen = NIOLockedValueBox<[MemberStatus]>([])
        await observer.membership.observe { update in
            if update.member.id == subjectID { seen.withLockedValue { $0.append(update.status) } }
        }
        let from = PeerInfo(
            nodeID: informer.identity.nodeID, listenAddress: informer.contact.address, remoteAddress: "127.0.0.1",
            agent: "test", capabilities: [], inbound: true)
        func gossip(_ status: MemberStatus, _ incarnation: UInt64) async {
            let update = MemberUpdate(member: subject.contact, status: status, incarnation: incarnation)
            _ = await observer.membership.handle(GossipMessage(kind: .probe, updates: [update]), from: from)
        }
        func incarnation() async -> UInt64 {
            await observer.membership.view.first { $0.nodeID == subjectID.hex }?.incarnation ?? 0
        }

        // Back-to-back deaths and returns, each return right behind its death.
        let flips = 20
        var died = 0
        for _ in 0..<(flips * 3) where died < flips {
            let current = await incarnation()
            await gossip(.dead, current)
            guard await observer.membership.status(of: subjectID) == .dead else { continue }
            died += 1
            await gossip(.alive, current + 1)
            try await waitUntil("the subject alive again") {
                await observer.membership.status(of: subjectID) == .alive
            }
        }
        XCTAssertEqual(died, flips)
        try await waitUntil("the subject back in the routing table") {
            await observer.dht.allContacts().contains { $0.id == subjectID }
        }
        // Observers saw every death and every return, in turn (a refutation may add an alive).
        try await waitUntil("every change observed") {
            seen.withLockedValue { $0 }.filter { $0 == .dead }.count == flips
        }
        var turns: [MemberStatus] = []
        for status in seen.withLockedValue({ $0 }) where turns.last != status { turns.append(status) }
        XCTAssertEqual(turns, Array(repeating: [MemberStatus.dead, .alive], count: flips).flatMap { $0 })
    }
}
