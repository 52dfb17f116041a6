import Foundation
import ShoalCore
import ShoalMembership
import ShoalTestKit
import XCTest

@testable import ShoalNode

extension NodeClock {
    /// A node clock driven by `clock`: monotonic time is the manual clock's, wall time is the
    /// real wall time when this was made plus the manual clock's time, and every wait is on it.
    static func manual(_ clock: ManualClock) -> NodeClock {
        let epoch = NodeClock.system().wallNow
        return NodeClock(
            monotonic: { clock.now }, wall: { epoch + (clock.now - .zero) },
            sleep: { try await clock.sleep(for: $0) })
    }
}

/// The shells' timers run on the node's injected clock: on a `ManualClock` nothing that waits for
/// time happens until the test moves it, and what follows a timer happens at the time it says.
final class ManualClockTests: NodeTestCase, @unchecked Sendable {
    /// Moves `clock` to its earliest parked deadline (at most `limit` ahead), so each timer fires
    /// exactly when it asked to, then gives the work it woke a chance to park again (bounded; the
    /// assertions never depend on it, they only become weaker if it is cut short).
    private func step(_ clock: ManualClock, limit: Duration) async throws {
        let parked = clock.sleepers
        let now = clock.now
        clock.advance(to: min(clock.nextDeadline ?? now + limit, now + limit))
        for _ in 0..<500 where clock.sleepers < parked {
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    func testASuspectIsDeclaredDeadOnlyOnceTheManualClockPassesTheSuspicionTimeout() async throws {
        let clock = ManualClock()
        let period: Duration = .seconds(1)
        let nodes = try await startNodes(
            3,
            configure: { _, config in
                config.clock = .manual(clock)
                config.protocolPeriod = period
            })
        // Gossip spreads only as probe rounds run, that is as the test moves the clock.
        var converged = false
        for _ in 0..<2_000 where clock.now < .zero + .seconds(120) {
            var counts: [Int] = []
            for node in nodes { counts.append(await node.membership.aliveCount) }
            if counts.allSatisfy({ $0 == 3 }) {
                converged = true
                break
            }
            try await step(clock, limit: period)
        }
        XCTAssertTrue(converged, "three nodes should see each other within 120 s of manual time")

        let (observer, victim) = (nodes[0], nodes[2])
        await victim.stop(handOff: false)
        // The probes of the stopped node fail at once (nothing listens); the suspicion is stamped
        // with the manual time of the probe round that raised it.
        var before = clock.now
        var suspectedNoEarlierThan: Timestamp?
        for _ in 0..<2_000 where clock.now < before + .seconds(60) {
            let status: MemberStatus? = await observer.membership.status(of: victim.identity.nodeID)
            if status == .suspect || status == .dead {
                XCTAssertEqual(status, MemberStatus.suspect, "a crashed member is suspected before it is declared dead")
                suspectedNoEarlierThan = before
                break
            }
            before = clock.now
            try await step(clock, limit: period)
        }
        let suspectedAt = try XCTUnwrap(suspectedNoEarlierThan, "the stopped node should be suspected")

        // Lifeguard's shortest suspicion timeout here: α · max(1, log10 3) periods (local health
        // only stretches it). Until the clock passes it, the suspect stays a suspect.
        var swim = SWIMSettings()
        swim.probeInterval = period
        let earliestDeath = suspectedAt + SuspicionTimeout(memberCount: 3, settings: swim).minimum
        var deadAt: Timestamp?
        for _ in 0..<5_000 where clock.now < suspectedAt + .seconds(600) {
            let status: MemberStatus? = await observer.membership.status(of: victim.identity.nodeID)
            if status == .dead || status == nil {
                deadAt = clock.now
                break
            }
            XCTAssertEqual(status, MemberStatus.suspect)
            try await step(clock, limit: period)
        }
        let declared = try XCTUnwrap(deadAt, "the suspect should be declared dead within 600 s of manual time")
        print(
            "[manual clock] suspected at \(suspectedAt) or later, declared dead at \(declared),"
                + " shortest suspicion timeout \(earliestDeath - suspectedAt)")
        XCTAssertGreaterThanOrEqual(
            declared, earliestDeath, "declared dead \(declared - suspectedAt) after the suspicion, before its timeout")
        try await waitUntil("the dead member to leave the routing table", seconds: 30) {
            await !observer.dht.allContacts().contains { $0.id == victim.identity.nodeID }
        }
    }

    func testRepairRoundsRunWhenTheManualClockReachesTheirInterval() async throws {
        let clock = ManualClock()
        let node = try await startNode { config in
            config.clock = .manual(clock)
            config.repairInterval = .seconds(10)
        }
        // The first round runs at start, then the loop waits for the interval.
        try await waitUntil("the first repair round", seconds: 30) { await node.repair.statistics.rounds == 1 }
        for _ in 0..<200 where clock.now < .zero + .milliseconds(9_900) {
            try await step(clock, limit: .milliseconds(9_900) - (clock.now - .zero))
            let rounds = await node.repair.statistics.rounds
            XCTAssertEqual(rounds, 1, "no round before the interval has passed (at \(clock.now))")
        }
        // The interval, then the short pause that lets a burst of changes settle into one round.
        for _ in 0..<200 where clock.now < .zero + .seconds(20) {
            if await node.repair.statistics.rounds >= 2 { break }
            try await step(clock, limit: .milliseconds(100))
        }
        try await waitUntil("the second repair round", seconds: 30) { await node.repair.statistics.rounds >= 2 }
        XCTAssertGreaterThanOrEqual(clock.now, .zero + .seconds(10))
        XCTAssertLessThan(clock.now, .zero + .seconds(20))
    }
}
