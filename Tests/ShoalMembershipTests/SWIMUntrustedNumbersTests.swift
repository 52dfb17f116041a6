import ShoalCore
import ShoalMembership
import ShoalTestKit
import XCTest

/// Numbers in gossip come from peers; none of them may trap the instance.
final class SWIMUntrustedNumbersTests: XCTestCase {
    func testSuspicionOfMyselfAtTheLargestIncarnationIsIgnored() {
        var rng = SeededRandom(seed: 1)
        var swim = makeInstance(memberCount: 3, rng: &rng)
        let lie = MemberUpdate(member: testContact(0), status: .suspect, incarnation: .max)
        let directives = swim.onProbe(from: testContact(1), updates: [lie], now: seconds(1), using: &rng)
        XCTAssertEqual(directives.replies.count, 1, "the probe is still answered")
        XCTAssertEqual(swim.incarnation, 0, "an incarnation beyond the maximum is not believed")
    }

    func testRefutingAtTheMaximumIncarnationDoesNotOverflow() {
        var rng = SeededRandom(seed: 2)
        var swim = makeInstance(memberCount: 3, rng: &rng)
        let atMaximum = MemberUpdate(
            member: testContact(0), status: .dead, incarnation: MemberUpdate.maximumIncarnation)
        _ = swim.onProbe(from: testContact(1), updates: [atMaximum], now: seconds(1), using: &rng)
        XCTAssertEqual(swim.incarnation, MemberUpdate.maximumIncarnation + 1)
        let alive = MemberUpdate(member: testContact(0), status: .alive, incarnation: MemberUpdate.maximumIncarnation)
        _ = swim.onProbe(from: testContact(2), updates: [atMaximum, alive], now: seconds(2), using: &rng)
        XCTAssertEqual(swim.incarnation, MemberUpdate.maximumIncarnation + 1)
    }

    func testUpdatesAboutOthersBeyondTheMaximumAreIgnored() {
        var rng = SeededRandom(seed: 3)
        var swim = makeInstance(memberCount: 3, rng: &rng)
        let lies = [
            MemberUpdate(member: testContact(1), status: .dead, incarnation: .max),
            MemberUpdate(member: testContact(9), status: .alive, incarnation: MemberUpdate.maximumIncarnation + 1),
        ]
        let directives = swim.onProbe(from: testContact(2), updates: lies, now: seconds(1), using: &rng)
        XCTAssertTrue(directives.changes.isEmpty, "\(directives.changes)")
        XCTAssertEqual(swim.status(of: testContact(1).id), .alive)
        XCTAssertNil(swim.status(of: testContact(9).id))
    }

    func testTimestampArithmeticSaturates() {
        XCTAssertEqual((Timestamp(nanoseconds: .max - 5) + .seconds(1)).nanoseconds, .max)
        XCTAssertEqual((Timestamp(nanoseconds: .min + 5) - .seconds(1)).nanoseconds, .min)
        XCTAssertEqual(Timestamp(nanoseconds: .max) - Timestamp(nanoseconds: .min), .nanoseconds(Int64.max))
        XCTAssertEqual((Timestamp.zero + .seconds(Int64.max)).nanoseconds, .max)
    }
}
