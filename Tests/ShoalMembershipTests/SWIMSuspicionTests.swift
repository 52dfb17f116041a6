import ShoalCore
import ShoalMembership
import ShoalTestKit
import XCTest

final class SWIMSuspicionTests: XCTestCase {
    /// Runs one period in which `swim`'s probe target answers neither directly nor indirectly
    /// (helpers nack). Returns the target and the directives of the tick ending the period.
    private func failOnePeriod(
        _ swim: inout SWIMInstance, at start: Timestamp, rng: inout SeededRandom
    )
        -> (target: Contact, end: [SWIMDirective])
    {
        let target = swim.onTick(now: start, using: &rng).probes[0].to
        let requests = swim.onProbeTimeout(target: target, now: start + .milliseconds(500), using: &rng).probeRequests
        for request in requests {
            _ = swim.onProbeRequestNack(
                from: request.to, target: target, updates: [], now: start + .milliseconds(900), using: &rng)
        }
        return (target, swim.onTick(now: start + .seconds(1), using: &rng))
    }

    func testUnansweredTargetBecomesSuspectThenDead() {
        var rng = SeededRandom(seed: 10)
        var swim = makeInstance(memberCount: 9, rng: &rng)
        let (target, end) = failOnePeriod(&swim, at: .zero, rng: &rng)
        let suspicion = MemberUpdate(member: target, status: .suspect, incarnation: 0, accuser: testContact(0).id)
        XCTAssertEqual(end.changes.count, 1)
        XCTAssertEqual(end.changes[0].old, MemberUpdate(member: target, status: .alive, incarnation: 0))
        XCTAssertEqual(end.changes[0].new, suspicion, "this node is the accuser")
        XCTAssertEqual(swim.member(target.id)?.status, .suspect)
        XCTAssertEqual(swim.localHealthMultiplier, 0, "every helper nacked, so this node is healthy")

        // n = 10: min = 5 · log10(10) · 1 s = 5 s, max = 30 s; no confirmation yet.
        let deadline = swim.suspicionDeadline(of: target.id)
        XCTAssertEqual(deadline, seconds(1) + .seconds(30))
        XCTAssertTrue(end.ticks.contains(seconds(2)), "the next period comes first")

        // The suspicion rides on the next message.
        let ack = swim.onProbe(from: testContact(5), updates: [], now: seconds(1.1), using: &rng).replies[0].message
        XCTAssertTrue(ack.updates.contains(suspicion))

        // Not dead just before the deadline (ticking on time, every period); dead at it.
        let before = tickEveryPeriod(&swim, from: seconds(2), through: seconds(30), silent: target, rng: &rng)
        XCTAssertFalse(before.changes.contains { $0.new.member == target })
        XCTAssertTrue(swim.onTick(now: seconds(30.9), using: &rng).changes.filter { $0.new.member == target }.isEmpty)
        let death = swim.onTick(now: seconds(31), using: &rng).changes.filter { $0.new.member == target }
        XCTAssertEqual(death.count, 1)
        XCTAssertEqual(death.first?.new.status, .dead)
        XCTAssertNil(swim.member(target.id))
        XCTAssertEqual(swim.status(of: target.id), .dead)
    }

    func testMissedNacksRaiseLocalHealth() {
        var rng = SeededRandom(seed: 11)
        var swim = makeInstance(memberCount: 9, rng: &rng)
        let target = swim.onTick(now: .zero, using: &rng).probes[0].to
        let requests = swim.onProbeTimeout(target: target, now: seconds(0.5), using: &rng).probeRequests
        XCTAssertEqual(requests.count, 3)
        _ = swim.onProbeRequestNack(from: requests[0].to, target: target, updates: [], now: seconds(0.9), using: &rng)
        _ = swim.onProbeRequestTimeout(helper: requests[1].to, target: target, now: seconds(1), using: &rng)
        let next = swim.onTick(now: seconds(1), using: &rng)
        XCTAssertEqual(swim.localHealthMultiplier, 2, "two helpers sent neither ack nor nack")
        XCTAssertEqual(next.probes.first?.timeout, .milliseconds(1500))
        XCTAssertEqual(next.ticks.min(), seconds(4))
    }

    func testSuspectTargetIsToldOfItsSuspicionWhenProbed() {
        var rng = SeededRandom(seed: 12)
        var swim = makeInstance(memberCount: 2, rng: &rng)
        let suspect = MemberUpdate(member: testContact(1), status: .suspect, incarnation: 0)
        _ = swim.onProbe(from: testContact(2), updates: [suspect], now: .zero, using: &rng)
        var now = Timestamp.zero
        var told = false
        for _ in 0..<2 where !told {
            let probes = swim.onTick(now: now, using: &rng).probes
            if let probe = probes.first, probe.to == testContact(1) {
                // Relayed by a version-1 peer (no accuser named): the relayer counts as the accuser.
                told =
                    probe.updates.first
                    == MemberUpdate(
                        member: testContact(1), status: .suspect, incarnation: 0, accuser: testContact(2).id)
            }
            now = now + .seconds(1)
        }
        XCTAssertTrue(told, "a probe to a suspect carries its suspicion first")
    }

    func testSuspectedNodeRefutesByRaisingItsIncarnation() {
        var rng = SeededRandom(seed: 13)
        var swim = makeInstance(memberCount: 3, rng: &rng)
        let rumor = MemberUpdate(member: testContact(0), status: .suspect, incarnation: 0)
        let d = swim.onProbe(from: testContact(1), updates: [rumor], now: .zero, using: &rng)
        XCTAssertEqual(swim.incarnation, 1)
        let refutation = MemberUpdate(member: testContact(0), status: .alive, incarnation: 1)
        XCTAssertEqual(d.replies.first?.message.updates.first, refutation, "the ack carries the refutation first")
        XCTAssertEqual(swim.localHealthMultiplier, 1, "having to refute is a sign of poor local health")
        // A stale rumor at a lower incarnation is ignored.
        _ = swim.onProbe(from: testContact(2), updates: [rumor], now: seconds(0.1), using: &rng)
        XCTAssertEqual(swim.incarnation, 1)
        // Being declared dead is refuted the same way (a restarted node rejoins like this).
        _ = swim.onProbe(
            from: testContact(2), updates: [MemberUpdate(member: testContact(0), status: .dead, incarnation: 4)],
            now: seconds(0.2), using: &rng)
        XCTAssertEqual(swim.incarnation, 5)
    }

    func testRefutationClearsTheSuspicion() {
        var rng = SeededRandom(seed: 14)
        var swim = makeInstance(memberCount: 9, rng: &rng)
        let (target, _) = failOnePeriod(&swim, at: .zero, rng: &rng)
        XCTAssertEqual(swim.member(target.id)?.status, .suspect)
        // An alive update at the same incarnation does not override the suspicion…
        let same = swim.onProbe(
            from: testContact(9), updates: [MemberUpdate(member: target, status: .alive, incarnation: 0)],
            now: seconds(1.5), using: &rng)
        XCTAssertTrue(same.changes.isEmpty)
        XCTAssertEqual(swim.member(target.id)?.status, .suspect)
        // …a higher one does.
        let refuted = swim.onProbe(
            from: testContact(9), updates: [MemberUpdate(member: target, status: .alive, incarnation: 1)],
            now: seconds(1.6), using: &rng)
        XCTAssertEqual(refuted.changes.map(\.new), [MemberUpdate(member: target, status: .alive, incarnation: 1)])
        XCTAssertNil(swim.suspicionDeadline(of: target.id))
        let later = swim.onTick(now: seconds(100), using: &rng).changes
        XCTAssertFalse(later.contains { $0.new.member == target && $0.new.status == .dead })
        XCTAssertEqual(swim.member(target.id)?.status, .alive)
    }

    func testSuspicionTimeoutFormula() {
        let bounds = SuspicionTimeout(memberCount: 1000, settings: SWIMSettings())
        XCTAssertEqual(bounds.minimum, .seconds(15))
        XCTAssertEqual(bounds.maximum, .seconds(90))
        XCTAssertEqual(bounds.expectedConfirmations, 3)
        XCTAssertEqual(bounds.timeout(confirmations: 0), .seconds(90))
        // 90 − 75 · log 2 / log 4 = 52.5 s
        XCTAssertEqual(bounds.timeout(confirmations: 1), .milliseconds(52_500))
        XCTAssertLessThan(bounds.timeout(confirmations: 2), .milliseconds(52_500))
        XCTAssertEqual(bounds.timeout(confirmations: 3), .seconds(15))
        XCTAssertEqual(bounds.timeout(confirmations: 10), .seconds(15))
        // log10(n) is at least 1, and K is capped at n − 2.
        let small = SuspicionTimeout(memberCount: 3, settings: SWIMSettings())
        XCTAssertEqual(small.minimum, .seconds(5))
        XCTAssertEqual(small.expectedConfirmations, 1)
    }

    func testIndependentConfirmationsShortenTheSuspicion() {
        var rng = SeededRandom(seed: 15)
        var swim = makeInstance(memberCount: 99, rng: &rng)  // n = 100: min 10 s, max 60 s
        let target = testContact(50)
        // This node accuses the target itself (its probe went unanswered): its timer runs.
        let accusedAt = accuse(&swim, target, from: .zero, rng: &rng)
        XCTAssertEqual(swim.suspicionDeadline(of: target.id), accusedAt + .seconds(60))
        // Version-1 relayers name no accuser: each relayer counts as one.
        let suspect = MemberUpdate(member: target, status: .suspect, incarnation: 0)
        var deadlines: [Timestamp] = []
        for reporter in [2, 2, 3, 4, 5] {
            _ = swim.onProbe(from: testContact(reporter), updates: [suspect], now: accusedAt + .seconds(1), using: &rng)
            deadlines.append(swim.suspicionDeadline(of: target.id)!)
        }
        XCTAssertLessThan(deadlines[0], accusedAt + .seconds(60))
        XCTAssertEqual(deadlines[0], deadlines[1], "a repeated reporter is not an independent confirmation")
        XCTAssertLessThan(deadlines[2], deadlines[1])
        XCTAssertEqual(deadlines[3], accusedAt + .seconds(10), "K = 3 confirmations reach the minimum")
        XCTAssertEqual(deadlines[4], accusedAt + .seconds(10))
        let before = tickEveryPeriod(
            &swim, from: accusedAt + .seconds(1), through: accusedAt + .seconds(9), silent: target, rng: &rng)
        XCTAssertFalse(before.changes.contains { $0.new.member == target && $0.new.status == .dead })
        let d = swim.onTick(now: accusedAt + .seconds(10), using: &rng)
        XCTAssertEqual(d.changes.filter { $0.new.member == target }.map(\.new.status), [.dead])
    }
}
