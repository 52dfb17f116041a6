import ShoalCore
import ShoalMembership
import ShoalTestKit
import XCTest

final class SWIMTombstoneTests: XCTestCase {
    func testStaleUpdatesCannotReviveADeadMember() {
        var rng = SeededRandom(seed: 20)
        var swim = makeInstance(memberCount: 5, rng: &rng)
        let member = testContact(3)
        let death = swim.onProbe(
            from: testContact(1), updates: [MemberUpdate(member: member, status: .dead, incarnation: 2)],
            now: .zero, using: &rng)
        XCTAssertEqual(death.changes.map(\.new.status), [.dead])
        XCTAssertNil(swim.member(member.id))
        XCTAssertEqual(swim.tombstone(member.id)?.incarnation, 2)

        for stale in [
            MemberUpdate(member: member, status: .alive, incarnation: 0),
            MemberUpdate(member: member, status: .alive, incarnation: 2),
            MemberUpdate(member: member, status: .suspect, incarnation: 2),
        ] {
            let d = swim.onProbe(from: testContact(2), updates: [stale], now: seconds(1), using: &rng)
            XCTAssertTrue(d.changes.isEmpty, "\(stale) must not revive the member")
            XCTAssertEqual(swim.status(of: member.id), .dead)
        }
        // Discovery through the DHT does not revive it either.
        XCTAssertTrue(swim.onMemberDiscovered(member, now: seconds(1), using: &rng).changes.isEmpty)
        // Messages from the dead member itself do not revive it, but tell it that it is dead.
        let ack = swim.onProbe(from: member, updates: [], now: seconds(1), using: &rng).replies[0].message
        XCTAssertEqual(ack.updates.first, MemberUpdate(member: member, status: .dead, incarnation: 2))
        XCTAssertEqual(swim.status(of: member.id), .dead)

        // The node itself refuting with a higher incarnation from the address it was verified at
        // rejoins at once.
        let rejoin = MemberUpdate(member: member, status: .alive, incarnation: 3)
        let back = swim.onProbe(from: member, updates: [rejoin], now: seconds(2), using: &rng)
        XCTAssertEqual(back.changes.count, 1)
        XCTAssertEqual(back.changes.first?.old?.status, .dead)
        XCTAssertEqual(back.changes.first?.new, rejoin)
        XCTAssertEqual(swim.member(member.id)?.status, .alive)
        XCTAssertNil(swim.tombstone(member.id))
    }

    func testTombstonesExpireAfterTheirLifetime() {
        var rng = SeededRandom(seed: 21)
        var settings = SWIMSettings()
        settings.tombstoneLifetime = .seconds(7200)
        var swim = makeInstance(memberCount: 5, settings: settings, rng: &rng)
        _ = swim.onTick(now: .zero, using: &rng)
        let member = testContact(4)
        _ = swim.onProbe(
            from: testContact(1), updates: [MemberUpdate(member: member, status: .dead, incarnation: 0)],
            now: seconds(10), using: &rng)
        XCTAssertEqual(swim.tombstone(member.id)?.expiresAt, seconds(7210))
        _ = swim.onTick(now: seconds(7209), using: &rng)
        XCTAssertNotNil(swim.tombstone(member.id))
        _ = swim.onTick(now: seconds(7210), using: &rng)
        XCTAssertNil(swim.tombstone(member.id))
        XCTAssertNil(swim.status(of: member.id))
    }

    func testTombstoneLifetimeIsNeverShorterThanGossipCanLinger() {
        var rng = SeededRandom(seed: 22)
        var settings = SWIMSettings()
        settings.tombstoneLifetime = .seconds(1)
        var swim = makeInstance(memberCount: 5, settings: settings, rng: &rng)
        // n = 5 after the departure: max suspicion 30 s, stretched up to 9 times by local health;
        // limit 3 · ceil(log10 6) = 3, slowest period 9 s: 270 + 9 · 6 = 324 s.
        let member = testContact(4)
        _ = swim.onProbe(
            from: testContact(1), updates: [MemberUpdate(member: member, status: .left, incarnation: 0)],
            now: .zero, using: &rng)
        XCTAssertEqual(swim.minimumTombstoneLifetime, .seconds(324))
        XCTAssertEqual(swim.tombstone(member.id)?.expiresAt, seconds(324))
        XCTAssertEqual(swim.tombstone(member.id)?.status, .left)
    }

    func testUnknownDeadMemberIsRememberedSoItCannotBeAddedByStaleGossip() {
        var rng = SeededRandom(seed: 23)
        var swim = makeInstance(memberCount: 2, rng: &rng)
        let stranger = testContact(40)
        let d = swim.onProbe(
            from: testContact(1), updates: [MemberUpdate(member: stranger, status: .dead, incarnation: 1)],
            now: .zero, using: &rng)
        XCTAssertTrue(d.changes.isEmpty)
        XCTAssertEqual(swim.status(of: stranger.id), .dead)
        let stale = swim.onProbe(
            from: testContact(2), updates: [MemberUpdate(member: stranger, status: .alive, incarnation: 1)],
            now: .zero, using: &rng)
        XCTAssertTrue(stale.changes.isEmpty)
    }

    func testARevivalAtAnotherAddressWaitsForVerification() {
        var rng = SeededRandom(seed: 24)
        var swim = makeInstance(memberCount: 5, rng: &rng)
        let member = testContact(3)
        _ = swim.onProbe(
            from: testContact(1), updates: [MemberUpdate(member: member, status: .dead, incarnation: 2)],
            now: .zero, using: &rng)
        let moved = Contact(id: member.id, address: PeerAddress(host: "127.0.9.9", port: 7000))
        let rejoin = MemberUpdate(member: moved, status: .alive, incarnation: 3)
        let claimed = swim.onProbe(from: testContact(2), updates: [rejoin], now: seconds(1), using: &rng)
        XCTAssertTrue(claimed.changes.isEmpty)
        XCTAssertEqual(swim.unverifiedMember(member.id)?.reason, .revival)
        XCTAssertEqual(swim.status(of: member.id), .dead)
        let back = swim.onMemberVerified(moved, now: seconds(1.1), using: &rng)
        XCTAssertEqual(back.changes.map(\.new), [rejoin])
        XCTAssertEqual(swim.member(member.id)?.contact, moved)
    }
}
