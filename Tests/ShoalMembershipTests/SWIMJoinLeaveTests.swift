import ShoalCore
import ShoalMembership
import ShoalTestKit
import XCTest

final class SWIMJoinLeaveTests: XCTestCase {
    func testJoinerAnnouncesItselfToItsSeedWhichGossipsIt() {
        var rng = SeededRandom(seed: 40)
        var joiner = SWIMInstance(myself: testContact(100), members: [testContact(1)], using: &rng)
        var seed = SWIMInstance(myself: testContact(1), members: [testContact(2), testContact(3)], using: &rng)

        let probe = joiner.onTick(now: .zero, using: &rng).probes[0]
        XCTAssertEqual(probe.to, testContact(1))
        let joined = seed.onProbe(from: testContact(100), updates: probe.updates, now: .zero, using: &rng)
        // The joiner's listen address is only claimed: the seed verifies it before it counts.
        XCTAssertTrue(joined.changes.isEmpty)
        XCTAssertNil(seed.member(testContact(100).id))
        XCTAssertEqual(joined.verifications.map(\.contact), [testContact(100)])
        let verified = seed.onMemberVerified(testContact(100), now: seconds(0.005), using: &rng)
        XCTAssertEqual(verified.changes.count, 1)
        XCTAssertNil(verified.changes[0].old)
        XCTAssertEqual(verified.changes[0].new, MemberUpdate(member: testContact(100), status: .alive, incarnation: 0))
        XCTAssertEqual(seed.member(testContact(100).id)?.status, .alive)

        // The ack teaches the joiner about the seed's other members, which it verifies in turn…
        let ack = joined.replies[0].message
        let learned = joiner.onProbeAck(from: testContact(1), updates: ack.updates, now: seconds(0.01), using: &rng)
        XCTAssertTrue(learned.changes.isEmpty)
        XCTAssertEqual(Set(learned.verifications.map(\.contact)), [testContact(2), testContact(3)])
        for contact in [testContact(2), testContact(3)] {
            XCTAssertEqual(
                joiner.onMemberVerified(contact, now: seconds(0.02), using: &rng).changes.map(\.new.member), [contact])
        }
        XCTAssertEqual(joiner.memberCount, 4)
        // …and the seed's next probe spreads the join.
        let next = seed.onTick(now: seconds(1), using: &rng).probes[0]
        XCTAssertTrue(next.updates.contains(MemberUpdate(member: testContact(100), status: .alive, incarnation: 0)))
    }

    func testANewcomersAckIsFilledWithMembers() {
        var rng = SeededRandom(seed: 46)
        var swim = makeInstance(memberCount: 40, rng: &rng)
        for _ in 0..<100 where swim.pendingUpdateCount > 0 {
            _ = swim.onProbe(from: testContact(1), updates: [], now: .zero, using: &rng)
        }
        let known = swim.onProbe(from: testContact(2), updates: [], now: .zero, using: &rng).replies[0].message
        XCTAssertEqual(known.updates.count, 2, "a known prober gets the usual anti-entropy share")
        let d = swim.onProbe(from: testContact(77), updates: [], now: .zero, using: &rng)
        let updates = d.replies[0].message.updates
        XCTAssertEqual(updates.count, 32)
        XCTAssertEqual(Set(updates.map(\.member.id)).count, 32)
    }

    func testAnUnknownSenderIsVerifiedBeforeItCounts() {
        var rng = SeededRandom(seed: 41)
        var swim = makeInstance(memberCount: 2, rng: &rng)
        let d = swim.onProbe(from: testContact(7), updates: [], now: .zero, using: &rng)
        XCTAssertTrue(d.changes.isEmpty)
        XCTAssertEqual(d.replies.count, 1, "the probe is answered all the same")
        XCTAssertEqual(d.verifications.map(\.contact), [testContact(7)])
        XCTAssertEqual(swim.memberCount, 3, "an unverified sender does not count towards n")
        XCTAssertEqual(swim.unverifiedMember(testContact(7).id)?.introducedItself, true)
        let verified = swim.onMemberVerified(testContact(7), now: seconds(0.1), using: &rng)
        XCTAssertEqual(
            verified.changes.map(\.new), [MemberUpdate(member: testContact(7), status: .alive, incarnation: 0)])
        XCTAssertEqual(swim.memberCount, 4)
        XCTAssertEqual(swim.unverifiedCount, 0)
    }

    func testDiscoveredMembersAreVerifiedThenProbedAndGossiped() {
        var rng = SeededRandom(seed: 42)
        var swim = SWIMInstance(myself: testContact(0), using: &rng)
        let d = swim.onMemberDiscovered(testContact(5), now: .zero, using: &rng)
        XCTAssertTrue(d.changes.isEmpty)
        XCTAssertEqual(d.verifications.map(\.contact), [testContact(5)])
        XCTAssertTrue(swim.onMemberDiscovered(testContact(5), now: .zero, using: &rng).verifications.isEmpty)
        XCTAssertTrue(swim.onMemberDiscovered(testContact(0), now: .zero, using: &rng).verifications.isEmpty)
        XCTAssertTrue(swim.onTick(now: .zero, using: &rng).probes.isEmpty, "an unverified peer is not probed")
        let verified = swim.onMemberVerified(testContact(5), now: seconds(0.1), using: &rng)
        XCTAssertEqual(
            verified.changes.map(\.new), [MemberUpdate(member: testContact(5), status: .alive, incarnation: 0)])
        let next = swim.onTick(now: seconds(1), using: &rng).probes
        XCTAssertEqual(next.map(\.to), [testContact(5)])
        XCTAssertTrue(
            next[0].updates.contains(MemberUpdate(member: testContact(5), status: .alive, incarnation: 0)),
            "a verified member is gossiped")
    }

    func testAVerifiedContactNeverHeardOfBecomesAMember() {
        var rng = SeededRandom(seed: 47)
        var swim = makeInstance(memberCount: 2, rng: &rng)
        let d = swim.onMemberVerified(testContact(9), now: .zero, using: &rng)
        XCTAssertEqual(d.changes.map(\.new), [MemberUpdate(member: testContact(9), status: .alive, incarnation: 0)])
        XCTAssertTrue(d.verifications.isEmpty)
        XCTAssertEqual(swim.memberCount, 4)
    }

    func testAloneThereIsNothingToProbe() {
        var rng = SeededRandom(seed: 43)
        var swim = SWIMInstance(myself: testContact(0), using: &rng)
        let d = swim.onTick(now: .zero, using: &rng)
        XCTAssertTrue(d.probes.isEmpty)
        XCTAssertEqual(d.ticks, [seconds(1)])
    }

    func testLeaveTellsSomeMembersAndStopsProbing() {
        var rng = SeededRandom(seed: 44)
        var swim = makeInstance(memberCount: 8, rng: &rng)
        _ = swim.onTick(now: .zero, using: &rng)
        let d = swim.leave(now: seconds(0.5), using: &rng)
        let left = MemberUpdate(member: testContact(0), status: .left, incarnation: 0)
        XCTAssertEqual(d.leaves.count, 5)
        XCTAssertEqual(Set(d.leaves.map(\.to)).count, 5)
        XCTAssertTrue(d.leaves.allSatisfy { $0.updates.first == left })
        XCTAssertTrue(swim.leave(now: seconds(0.6), using: &rng).isEmpty, "leaving twice does nothing")
        XCTAssertEqual(swim.status(of: testContact(0).id), .left)

        XCTAssertTrue(swim.onTick(now: seconds(5), using: &rng).isEmpty, "no more probes, no more ticks")
        // It still answers, carrying the notice, and does not refute.
        let ack = swim.onProbe(
            from: testContact(1), updates: [MemberUpdate(member: testContact(0), status: .suspect, incarnation: 0)],
            now: seconds(6), using: &rng)
        XCTAssertEqual(ack.replies.first?.message.updates.first, left)
        XCTAssertEqual(swim.incarnation, 0)
    }

    func testLeftMembersAreRemovedWithoutSuspicion() {
        var rng = SeededRandom(seed: 45)
        var swim = makeInstance(memberCount: 2, rng: &rng)
        let leaver = testContact(2)
        let d = swim.onLeave(
            from: leaver, updates: [MemberUpdate(member: leaver, status: .left, incarnation: 0)], now: .zero,
            using: &rng)
        XCTAssertEqual(d.changes.count, 1)
        XCTAssertEqual(d.changes[0].old?.status, .alive)
        XCTAssertEqual(d.changes[0].new.status, .left)
        XCTAssertNil(swim.member(leaver.id))
        XCTAssertEqual(swim.status(of: leaver.id), .left)
        var now = Timestamp.zero
        for _ in 0..<4 {
            let probes = swim.onTick(now: now, using: &rng).probes
            XCTAssertEqual(probes.map(\.to), [testContact(1)])
            _ = swim.onProbeAck(from: testContact(1), updates: [], now: now + .milliseconds(5), using: &rng)
            now = now + .seconds(1)
        }
        // A later notice from the leaver about itself does not re-add it.
        XCTAssertTrue(swim.onLeave(from: leaver, updates: [], now: now, using: &rng).changes.isEmpty)
    }
}
