import ShoalCore
import ShoalMembership
import ShoalTestKit
import XCTest

final class SWIMProbeTests: XCTestCase {
    func testFirstTickProbesOneMemberAndSchedulesTheNextPeriod() {
        var rng = SeededRandom(seed: 1)
        var swim = makeInstance(memberCount: 3, rng: &rng)
        let directives = swim.onTick(now: .zero, using: &rng)
        XCTAssertEqual(directives.probes.count, 1)
        XCTAssertEqual(directives.probes[0].timeout, .milliseconds(500))
        XCTAssertTrue((1...3).map(testContact).contains(directives.probes[0].to))
        XCTAssertEqual(directives.ticks, [seconds(1)])
        // The first probe announces this node.
        let announcement = MemberUpdate(member: testContact(0), status: .alive, incarnation: 0)
        XCTAssertTrue(directives.probes[0].updates.contains(announcement))
    }

    func testEachRoundProbesEveryMemberOnceInAShuffledOrder() {
        var rng = SeededRandom(seed: 2)
        var swim = makeInstance(memberCount: 8, rng: &rng)
        var rounds: [[Contact]] = []
        var now = Timestamp.zero
        for _ in 0..<3 {
            var round: [Contact] = []
            for _ in 0..<8 {
                let probe = swim.onTick(now: now, using: &rng).probes
                XCTAssertEqual(probe.count, 1)
                round.append(probe[0].to)
                _ = swim.onProbeAck(from: probe[0].to, updates: [], now: now + .milliseconds(10), using: &rng)
                now = now + .seconds(1)
            }
            XCTAssertEqual(Set(round), Set((1...8).map(testContact)), "every member probed exactly once per round")
            rounds.append(round)
        }
        XCTAssertTrue(rounds[0] != rounds[1] || rounds[1] != rounds[2], "the order is reshuffled between rounds")
        XCTAssertTrue(swim.members.allSatisfy { $0.status == .alive })
    }

    func testAnEarlyTickDoesNotStartAnotherPeriod() {
        var rng = SeededRandom(seed: 3)
        var swim = makeInstance(memberCount: 3, rng: &rng)
        _ = swim.onTick(now: .zero, using: &rng)
        let early = swim.onTick(now: seconds(0.5), using: &rng)
        XCTAssertTrue(early.probes.isEmpty)
    }

    func testProbeTimeoutAsksThreeOtherMembersToProbeIndirectly() {
        var rng = SeededRandom(seed: 4)
        var swim = makeInstance(memberCount: 6, rng: &rng)
        let target = swim.onTick(now: .zero, using: &rng).probes[0].to
        let requests = swim.onProbeTimeout(target: target, now: seconds(0.5), using: &rng).probeRequests
        XCTAssertEqual(requests.count, 3)
        XCTAssertEqual(Set(requests.map(\.to)).count, 3, "three distinct helpers")
        XCTAssertFalse(requests.map(\.to).contains(target))
        XCTAssertTrue(requests.allSatisfy { $0.target == target && $0.timeout == .milliseconds(500) })
        // A second timeout report for the same period does not ask again.
        XCTAssertTrue(swim.onProbeTimeout(target: target, now: seconds(0.6), using: &rng).probeRequests.isEmpty)
    }

    func testIndirectAckKeepsTheTargetAlive() {
        var rng = SeededRandom(seed: 5)
        var swim = makeInstance(memberCount: 6, rng: &rng)
        let target = swim.onTick(now: .zero, using: &rng).probes[0].to
        let requests = swim.onProbeTimeout(target: target, now: seconds(0.5), using: &rng).probeRequests
        _ = swim.onProbeRequestNack(from: requests[0].to, target: target, updates: [], now: seconds(0.9), using: &rng)
        _ = swim.onProbeRequestAck(from: requests[1].to, target: target, updates: [], now: seconds(0.9), using: &rng)
        let next = swim.onTick(now: seconds(1), using: &rng)
        XCTAssertTrue(next.changes.isEmpty)
        XCTAssertEqual(swim.member(target.id)?.status, .alive)
        XCTAssertEqual(swim.localHealthMultiplier, 0)
    }

    func testHelperProbesOnBehalfOfTheRequesterAndAnswers() {
        var rng = SeededRandom(seed: 6)
        var swim = makeInstance(memberCount: 3, rng: &rng)
        let origin = testContact(1)
        let target = testContact(2)
        let probe = swim.onProbeRequest(from: origin, target: target, updates: [], now: .zero, using: &rng)
        XCTAssertEqual(probe.indirectProbes.count, 1)
        XCTAssertEqual(probe.indirectProbes[0].to, target)
        XCTAssertEqual(probe.indirectProbes[0].origin, origin)
        XCTAssertEqual(probe.indirectProbes[0].timeout, .milliseconds(400))
        XCTAssertTrue(probe.replies.isEmpty, "the answer waits for the indirect probe")

        let acked = swim.onIndirectProbeAck(from: target, origin: origin, updates: [], now: seconds(0.1), using: &rng)
        XCTAssertEqual(acked.replies.count, 1)
        XCTAssertEqual(acked.replies[0].to, origin)
        guard case .ack = acked.replies[0].message else { return XCTFail("expected an ack") }

        _ = swim.onProbeRequest(from: origin, target: target, updates: [], now: seconds(1), using: &rng)
        let nacked = swim.onIndirectProbeTimeout(target: target, origin: origin, now: seconds(1.4), using: &rng)
        XCTAssertEqual(nacked.replies.count, 1)
        guard case .nack = nacked.replies[0].message else { return XCTFail("expected a nack") }
    }

    func testAProbeRequestAboutThisNodeIsAckedAtOnce() {
        var rng = SeededRandom(seed: 7)
        var swim = makeInstance(memberCount: 2, rng: &rng)
        let d = swim.onProbeRequest(from: testContact(1), target: testContact(0), updates: [], now: .zero, using: &rng)
        XCTAssertTrue(d.indirectProbes.isEmpty)
        XCTAssertEqual(d.replies.count, 1)
        guard case .ack = d.replies[0].message else { return XCTFail("expected an ack") }
    }

    func testProbeIsAnsweredWithAnAck() {
        var rng = SeededRandom(seed: 8)
        var swim = makeInstance(memberCount: 2, rng: &rng)
        let d = swim.onProbe(from: testContact(1), updates: [], now: .zero, using: &rng)
        XCTAssertEqual(d.replies.count, 1)
        XCTAssertEqual(d.replies[0].to, testContact(1))
        guard case .ack(let updates) = d.replies[0].message else { return XCTFail("expected an ack") }
        XCTAssertTrue(updates.contains(MemberUpdate(member: testContact(0), status: .alive, incarnation: 0)))
    }

    func testLocalHealthStretchesTimeoutsAfterFailedProbesAndRecovers() {
        var rng = SeededRandom(seed: 9)
        var settings = SWIMSettings()
        settings.indirectProbeCount = 0
        settings.maximumLocalHealthMultiplier = 2
        var swim = makeInstance(memberCount: 4, settings: settings, rng: &rng)
        var now = Timestamp.zero
        var probe = swim.onTick(now: now, using: &rng).probes[0]
        // Three unanswered periods: the multiplier saturates at 2, periods and timeouts triple.
        var timeouts: [Duration] = []
        for _ in 0..<3 {
            now = now + swim.localHealthScaled(.seconds(1))
            probe = swim.onTick(now: now, using: &rng).probes[0]
            timeouts.append(probe.timeout)
        }
        XCTAssertEqual(timeouts, [.seconds(1), .milliseconds(1500), .milliseconds(1500)])
        XCTAssertEqual(swim.localHealthMultiplier, 2)
        _ = swim.onProbeAck(from: probe.to, updates: [], now: now + .milliseconds(10), using: &rng)
        XCTAssertEqual(swim.localHealthMultiplier, 1)
    }
}

extension SWIMInstance {
    /// `duration` scaled by the current local health multiplier, as the instance scales periods.
    func localHealthScaled(_ duration: Duration) -> Duration { duration * (localHealthMultiplier + 1) }
}
