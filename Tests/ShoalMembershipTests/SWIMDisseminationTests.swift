import ShoalCore
import ShoalMembership
import ShoalTestKit
import XCTest

final class SWIMDisseminationTests: XCTestCase {
    /// News about known members: each is suspected (by a version-1 relayer, naming no accuser).
    private func suspicions(_ range: ClosedRange<Int>) -> [MemberUpdate] {
        range.map { MemberUpdate(member: testContact($0), status: .suspect, incarnation: 0) }
    }

    /// Answers probes until nothing is pending.
    private func drain(_ swim: inout SWIMInstance, rng: inout SeededRandom) {
        for _ in 0..<1000 where swim.pendingUpdateCount > 0 {
            _ = swim.onProbe(from: testContact(1), updates: [], now: .zero, using: &rng)
        }
        XCTAssertEqual(swim.pendingUpdateCount, 0)
    }

    func testMessagesCarryAtMostTheConfiguredNumberOfUpdates() {
        for (cap, expected) in [(32, 32), (5, 5), (100, 32)] {
            var rng = SeededRandom(seed: 30)
            var settings = SWIMSettings()
            settings.maximumUpdatesPerMessage = cap
            var swim = makeInstance(memberCount: 70, settings: settings, rng: &rng)
            drain(&swim, rng: &rng)
            _ = swim.onProbe(from: testContact(1), updates: suspicions(10...41), now: .zero, using: &rng)
            let d = swim.onProbe(from: testContact(2), updates: suspicions(42...70), now: .zero, using: &rng)
            XCTAssertEqual(swim.pendingUpdateCount, 61)
            XCTAssertEqual(d.replies[0].message.updates.count, expected, "cap \(cap)")
        }
    }

    func testOnlyTheWireLimitOfIncomingUpdatesIsRead() {
        var rng = SeededRandom(seed: 31)
        var swim = makeInstance(memberCount: 50, rng: &rng)
        _ = swim.onProbe(from: testContact(1), updates: suspicions(2...41), now: .zero, using: &rng)
        XCTAssertEqual((2...41).filter { swim.member(testContact($0).id)?.status == .suspect }.count, 32)
        XCTAssertEqual(swim.member(testContact(34).id)?.status, .alive, "update 33 onwards is not read")
    }

    func testEachUpdateIsRetransmittedLambdaLogNTimes() {
        var rng = SeededRandom(seed: 32)
        var settings = SWIMSettings()
        settings.antiEntropyUpdatesPerMessage = 0
        var swim = makeInstance(memberCount: 99, settings: settings, rng: &rng)
        drain(&swim, rng: &rng)
        // n = 100: 3 · ceil(log10(101)) = 9. The news: member 50 is suspected.
        let news = MemberUpdate(
            member: testContact(50), status: .suspect, incarnation: 0, accuser: testContact(1).id)
        var carried = 0
        var updates = [news]
        for i in 0..<30 {
            let ack = swim.onProbe(from: testContact(1 + i % 9), updates: updates, now: .zero, using: &rng)
            updates = []
            if ack.replies[0].message.updates.contains(news) { carried += 1 }
        }
        XCTAssertEqual(swim.transmissionLimit, 9)
        XCTAssertEqual(carried, 9)

        settings.retransmitMultiplier = 1
        var small = makeInstance(memberCount: 99, settings: settings, rng: &rng)
        XCTAssertEqual(small.transmissionLimit, 3)
        drain(&small, rng: &rng)
    }

    func testLeastTransmittedUpdatesGoFirst() {
        var rng = SeededRandom(seed: 33)
        var settings = SWIMSettings()
        settings.antiEntropyUpdatesPerMessage = 0
        settings.maximumUpdatesPerMessage = 1
        var swim = makeInstance(memberCount: 20, settings: settings, rng: &rng)
        drain(&swim, rng: &rng)
        let a = suspicions(5...5).map {
            MemberUpdate(member: $0.member, status: .suspect, incarnation: 0, accuser: testContact(1).id)
        }
        let b = suspicions(6...6).map {
            MemberUpdate(member: $0.member, status: .suspect, incarnation: 0, accuser: testContact(1).id)
        }
        func ack(_ updates: [MemberUpdate]) -> [MemberUpdate] {
            swim.onProbe(from: testContact(1), updates: updates, now: .zero, using: &rng).replies[0].message.updates
        }
        XCTAssertEqual(ack(a), a)
        XCTAssertEqual(ack([]), a)
        XCTAssertEqual(ack(b), b)
        XCTAssertEqual(ack([]), b)
        // Both sent twice: the newer one first.
        XCTAssertEqual(ack([]), b)
        XCTAssertEqual(ack([]), a)
    }

    func testSpareRoomCarriesRandomMembersForAntiEntropy() {
        var rng = SeededRandom(seed: 34)
        var swim = makeInstance(memberCount: 10, rng: &rng)
        drain(&swim, rng: &rng)
        let ack = swim.onProbe(from: testContact(1), updates: [], now: .zero, using: &rng).replies[0].message
        XCTAssertEqual(ack.updates.count, 2)
        XCTAssertTrue(ack.updates.allSatisfy { $0.status == .alive && (1...10).map(testContact).contains($0.member) })
    }

    func testANewAddressIsAdoptedOnlyOnceVerified() {
        var rng = SeededRandom(seed: 35)
        var swim = makeInstance(memberCount: 3, rng: &rng)
        var moved = testContact(2)
        moved.address = PeerAddress(host: "127.9.9.9", port: 9)
        let update = MemberUpdate(member: moved, status: .alive, incarnation: 1)
        let d = swim.onProbe(from: testContact(1), updates: [update], now: .zero, using: &rng)
        XCTAssertTrue(d.changes.isEmpty, "the address is only claimed")
        XCTAssertEqual(swim.member(moved.id)?.incarnation, 1, "the incarnation is news about the member itself")
        XCTAssertEqual(swim.member(moved.id)?.contact.address, testContact(2).address)
        XCTAssertEqual(swim.unverifiedMember(moved.id)?.reason, .newAddress)
        XCTAssertEqual(d.verifications.map(\.contact), [moved])

        let verified = swim.onMemberVerified(moved, now: seconds(0.1), using: &rng)
        XCTAssertEqual(verified.changes.map(\.new.member), [moved])
        XCTAssertEqual(verified.changes.first?.old?.member, testContact(2))
        XCTAssertEqual(swim.member(moved.id)?.contact.address, moved.address)
        XCTAssertNil(swim.unverifiedMember(moved.id))
    }
}
