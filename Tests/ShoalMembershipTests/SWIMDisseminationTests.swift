import ShoalCore
import ShoalMembership
import ShoalTestKit
import XCTest

final class SWIMDisseminationTests: XCTestCase {
    private func joins(_ range: ClosedRange<Int>) -> [MemberUpdate] {
        range.map { MemberUpdate(member: testContact($0), status: .alive, incarnation: 0) }
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
            var swim = makeInstance(memberCount: 40, settings: settings, rng: &rng)
            _ = swim.onProbe(from: testContact(1), updates: joins(100...131), now: .zero, using: &rng)
            let d = swim.onProbe(from: testContact(2), updates: joins(132...160), now: .zero, using: &rng)
            XCTAssertEqual(d.changes.count, 29)
            XCTAssertEqual(d.replies[0].message.updates.count, expected, "cap \(cap)")
        }
    }

    func testOnlyTheWireLimitOfIncomingUpdatesIsRead() {
        var rng = SeededRandom(seed: 31)
        var swim = makeInstance(memberCount: 1, rng: &rng)
        let d = swim.onProbe(from: testContact(1), updates: joins(100...139), now: .zero, using: &rng)
        XCTAssertEqual(d.changes.count, 32)
    }

    func testEachUpdateIsRetransmittedLambdaLogNTimes() {
        var rng = SeededRandom(seed: 32)
        var settings = SWIMSettings()
        settings.antiEntropyUpdatesPerMessage = 0
        var swim = makeInstance(memberCount: 99, settings: settings, rng: &rng)
        drain(&swim, rng: &rng)
        // n = 101 once the newcomer is in: 3 · ceil(log10(102)) = 9.
        let newcomer = MemberUpdate(member: testContact(500), status: .alive, incarnation: 0)
        var carried = 0
        var updates = [newcomer]
        for i in 0..<30 {
            let ack = swim.onProbe(from: testContact(1 + i % 9), updates: updates, now: .zero, using: &rng)
            updates = []
            if ack.replies[0].message.updates.contains(newcomer) { carried += 1 }
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
        let a = joins(100...100)
        let b = joins(101...101)
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

    func testAnUpdateCarriesTheMembersNewAddress() {
        var rng = SeededRandom(seed: 35)
        var swim = makeInstance(memberCount: 3, rng: &rng)
        var moved = testContact(2)
        moved.address = PeerAddress(host: "127.9.9.9", port: 9)
        let update = MemberUpdate(member: moved, status: .alive, incarnation: 1)
        let d = swim.onProbe(from: testContact(1), updates: [update], now: .zero, using: &rng)
        XCTAssertEqual(d.changes.map(\.new), [update])
        XCTAssertEqual(swim.member(moved.id)?.contact.address, moved.address)
    }
}
