import ShoalCore
import ShoalDHT
import ShoalTestKit
import XCTest

final class RoutingTableTests: XCTestCase {
    private var rng = SeededRandom(seed: 7)
    private let local = Key256(words: (0x0123_4567_89AB_CDEF, 1, 2, 3))

    private func smallTable(k: Int = 4) -> RoutingTable {
        RoutingTable(localID: local, configuration: .init(bucketSize: k))
    }

    /// `count` loopback contacts that all fall into bucket `bucket`.
    private func contacts(inBucket bucket: Int, count: Int, of table: RoutingTable) -> [Contact] {
        (0..<count).map { i in makeContact(table.randomKey(inBucket: bucket, using: &rng), host: loopbackHost(i + 1)) }
    }

    // MARK: Admission

    func testOnlyPeersThatAnsweredAreAdmitted() {
        var table = smallTable()
        let c = contacts(inBucket: 0, count: 1, of: table)[0]

        XCTAssertEqual(table.onHeardOf(c, now: .seconds(1)), [.verify(c)])
        XCTAssertFalse(table.contains(c.id), "a contact merely heard of must not be admitted")
        XCTAssertEqual(table.replacements(inBucket: 0), [c])
        XCTAssertEqual(table.onHeardOf(c, now: .seconds(2)), [], "verification is asked once per interval")

        XCTAssertEqual(table.onPingResult(c, alive: true, now: .seconds(3)), [])
        XCTAssertTrue(table.contains(c.id))
        XCTAssertEqual(table.count, 1)
        XCTAssertEqual(table.replacements(inBucket: 0), [])
        XCTAssertEqual(table.entry(for: c.id)?.lastSeen, .seconds(3))
    }

    func testHeardOfContactThatFailsVerificationIsForgotten() {
        var table = smallTable()
        let c = contacts(inBucket: 3, count: 1, of: table)[0]
        _ = table.onHeardOf(c, now: .zero)
        XCTAssertEqual(table.onPingResult(c, alive: false, now: .seconds(1)), [])
        XCTAssertFalse(table.contains(c.id))
        XCTAssertEqual(table.replacements(inBucket: 3), [])
    }

    func testLocalNodeIsNeverAdmitted() {
        var table = smallTable()
        XCTAssertEqual(table.onResponded(makeContact(local), now: .zero), [])
        XCTAssertEqual(table.onHeardOf(makeContact(local), now: .zero), [])
        XCTAssertEqual(table.count, 0)
        XCTAssertNil(table.bucketIndex(for: local))
    }

    func testBucketIndexIsLeadingZerosOfDistance() {
        let table = smallTable()
        for bucket in [0, 1, 17, 63, 64, 130, 255] {
            let key = table.randomKey(inBucket: bucket, using: &rng)
            XCTAssertEqual(table.bucketIndex(for: key), bucket)
            XCTAssertEqual((key ^ local).leadingZeroBitCount, bucket)
        }
    }

    // MARK: LRU and eviction

    func testBucketKeepsLeastRecentlySeenOrder() {
        var table = smallTable()
        let c = contacts(inBucket: 0, count: 3, of: table)
        for (i, contact) in c.enumerated() { _ = table.onResponded(contact, now: .seconds(Int64(i))) }
        XCTAssertEqual(table.contacts(inBucket: 0), [c[2], c[1], c[0]], "most recently seen first")

        _ = table.onResponded(c[0], now: .seconds(10))
        XCTAssertEqual(table.contacts(inBucket: 0), [c[0], c[2], c[1]])
        XCTAssertEqual(table.entries(inBucket: 0).map(\.lastSeen), [.seconds(10), .seconds(2), .seconds(1)])
    }

    func testFullBucketAsksToPingItsLeastRecentlySeenEntry() {
        var table = smallTable(k: 4)
        let c = contacts(inBucket: 0, count: 6, of: table)
        for i in 0..<4 { XCTAssertEqual(table.onResponded(c[i], now: .seconds(Int64(i))), []) }

        XCTAssertEqual(table.onResponded(c[4], now: .seconds(10)), [.pingToEvict(old: c[0], candidate: c[4])])
        XCTAssertFalse(table.contains(c[4].id), "the candidate waits until the old entry is found dead")
        XCTAssertEqual(table.replacements(inBucket: 0), [c[4]])

        XCTAssertEqual(table.onResponded(c[5], now: .seconds(11)), [], "one eviction ping per bucket at a time")
        XCTAssertEqual(table.replacements(inBucket: 0), [c[5], c[4]])
        XCTAssertEqual(
            table.onResponded(c[5], now: .seconds(41)), [.pingToEvict(old: c[0], candidate: c[5])],
            "an unanswered eviction ping is repeated after the timeout")
    }

    func testLiveOldEntryIsKeptAndMovedToTheFront() {
        var table = smallTable(k: 4)
        let c = contacts(inBucket: 0, count: 5, of: table)
        for i in 0..<4 { _ = table.onResponded(c[i], now: .seconds(Int64(i))) }
        _ = table.onResponded(c[4], now: .seconds(10))

        XCTAssertEqual(table.onPingResult(c[0], alive: true, now: .seconds(11)), [])
        XCTAssertEqual(table.contacts(inBucket: 0), [c[0], c[3], c[2], c[1]])
        XCTAssertFalse(table.contains(c[4].id))
        XCTAssertEqual(table.replacements(inBucket: 0), [c[4]], "the candidate stays in the replacement cache")
        // The next newcomer targets the new least recently seen entry.
        XCTAssertEqual(table.onResponded(c[4], now: .seconds(12)), [.pingToEvict(old: c[1], candidate: c[4])])
    }

    func testDeadOldEntryIsEvictedForTheCandidate() {
        var table = smallTable(k: 4)
        let c = contacts(inBucket: 0, count: 5, of: table)
        for i in 0..<4 { _ = table.onResponded(c[i], now: .seconds(Int64(i))) }
        _ = table.onResponded(c[4], now: .seconds(10))

        XCTAssertEqual(table.onPingResult(c[0], alive: false, now: .seconds(11)), [])
        XCTAssertFalse(table.contains(c[0].id))
        XCTAssertTrue(table.contains(c[4].id))
        XCTAssertEqual(table.count, 4)
        XCTAssertEqual(table.replacements(inBucket: 0), [])
        XCTAssertEqual(table.contacts(inBucket: 0).first, c[4], "the candidate answered last")
    }

    func testFailureEvictsAtOnceWhenAReplacementWaits() {
        var table = smallTable(k: 4)
        let c = contacts(inBucket: 0, count: 5, of: table)
        for i in 0..<4 { _ = table.onResponded(c[i], now: .seconds(Int64(i))) }
        _ = table.onResponded(c[4], now: .seconds(10))

        XCTAssertEqual(table.onFailure(c[2].id, now: .seconds(11)), [])
        XCTAssertFalse(table.contains(c[2].id))
        XCTAssertTrue(table.contains(c[4].id))
        XCTAssertEqual(table.count, 4)
    }

    func testFailuresWithoutReplacementNeedSeveralInARow() {
        var table = smallTable(k: 4)
        let c = contacts(inBucket: 5, count: 2, of: table)
        _ = table.onResponded(c[0], now: .zero)
        _ = table.onResponded(c[1], now: .zero)

        _ = table.onFailure(c[0].id, now: .seconds(1))
        _ = table.onFailure(c[0].id, now: .seconds(2))
        XCTAssertEqual(table.entry(for: c[0].id)?.failures, 2)
        _ = table.onResponded(c[0], now: .seconds(3))
        XCTAssertEqual(table.entry(for: c[0].id)?.failures, 0, "an answer resets the failure count")
        for t in 4...6 { _ = table.onFailure(c[0].id, now: .seconds(Int64(t))) }
        XCTAssertFalse(table.contains(c[0].id), "three failures in a row remove the contact")
        XCTAssertTrue(table.contains(c[1].id))
    }

    func testRemovePromotesVerifiedReplacementsAndAsksToVerifyOthers() {
        var table = smallTable(k: 2)
        let c = contacts(inBucket: 0, count: 4, of: table)
        _ = table.onResponded(c[0], now: .seconds(1))
        _ = table.onResponded(c[1], now: .seconds(2))
        _ = table.onResponded(c[2], now: .seconds(3))  // verified replacement
        _ = table.onHeardOf(c[3], now: .seconds(4))  // unverified replacement

        XCTAssertEqual(table.remove(c[0].id, now: .seconds(5)), [])
        XCTAssertEqual(Set(table.contacts(inBucket: 0)), [c[1], c[2]], "the verified replacement is promoted")
        XCTAssertEqual(
            table.remove(c[1].id, now: .seconds(6)), [.verify(c[3])],
            "an unverified replacement is verified before admission")
        XCTAssertEqual(table.contacts(inBucket: 0), [c[2]])
        _ = table.onPingResult(c[3], alive: true, now: .seconds(7))
        XCTAssertEqual(table.contacts(inBucket: 0), [c[3], c[2]])
    }

    func testReplacementCacheIsBounded() {
        var table = RoutingTable(localID: local, configuration: .init(bucketSize: 2, replacementCacheSize: 3))
        let c = contacts(inBucket: 0, count: 10, of: table)
        for (i, contact) in c.enumerated() { _ = table.onResponded(contact, now: .seconds(Int64(i))) }
        XCTAssertEqual(table.count, 2)
        XCTAssertEqual(table.replacements(inBucket: 0), [c[9], c[8], c[7]])
        // Unverified contacts never displace verified ones.
        let other = contacts(inBucket: 0, count: 1, of: table)[0]
        XCTAssertEqual(table.onHeardOf(other, now: .seconds(20)), [])
        XCTAssertEqual(table.replacements(inBucket: 0), [c[9], c[8], c[7]])
    }

    func testAddressChangeIsFollowed() {
        var table = smallTable()
        let id = table.randomKey(inBucket: 2, using: &rng)
        _ = table.onResponded(makeContact(id, host: "127.0.0.5"), now: .zero)
        _ = table.onResponded(makeContact(id, host: "127.0.0.6", port: 5000), now: .seconds(1))
        XCTAssertEqual(table.count, 1)
        XCTAssertEqual(table.entry(for: id)?.contact.address, PeerAddress(host: "127.0.0.6", port: 5000))
    }

    // MARK: IP diversity

    func testPublicAddressesAreCappedPerBucketAndPerTable() {
        var table = RoutingTable(localID: local)
        let sameBucket = (1...3).map { makeContact(table.randomKey(inBucket: 0, using: &rng), host: "203.0.113.\($0)") }
        XCTAssertEqual(table.onResponded(sameBucket[0], now: .zero), [])
        XCTAssertEqual(table.onResponded(sameBucket[1], now: .zero), [])
        XCTAssertEqual(table.onResponded(sameBucket[2], now: .zero), [])
        XCTAssertEqual(table.count, 2, "at most 2 of one /24 per bucket")
        XCTAssertEqual(table.replacements(inBucket: 0), [sameBucket[2]])

        let elsewhere = makeContact(table.randomKey(inBucket: 1, using: &rng), host: "203.0.113.50")
        _ = table.onResponded(elsewhere, now: .zero)
        XCTAssertTrue(table.contains(elsewhere.id), "the third of the group fits in another bucket")
        let fourth = makeContact(table.randomKey(inBucket: 2, using: &rng), host: "203.0.113.60")
        _ = table.onResponded(fourth, now: .zero)
        XCTAssertFalse(table.contains(fourth.id), "at most 3 of one /24 in the whole table")

        let otherGroup = makeContact(table.randomKey(inBucket: 0, using: &rng), host: "203.0.114.1")
        _ = table.onResponded(otherGroup, now: .zero)
        XCTAssertTrue(table.contains(otherGroup.id))

        // Removing one frees room for a waiting member of the group.
        _ = table.remove(sameBucket[0].id, now: .seconds(1))
        XCTAssertTrue(table.contains(sameBucket[2].id))
        XCTAssertEqual(table.count, 4)
    }

    func testIPv6IsCappedPerSlash48() {
        var table = RoutingTable(localID: local)
        let hosts = ["2001:db8:1:1::1", "2001:db8:1:2::1", "2001:db8:1:3::1", "2001:db8:2::1"]
        let c = hosts.map { makeContact(table.randomKey(inBucket: 0, using: &rng), host: $0) }
        for contact in c { _ = table.onResponded(contact, now: .zero) }
        XCTAssertEqual(c.map { table.contains($0.id) }, [true, true, false, true])
    }

    func testLoopbackAndPrivateAddressesAreNotCapped() {
        for prefix in ["127.0.0.", "10.0.0.", "192.168.7.", "172.20.1.", "fd00::", "fe80::"] {
            var table = RoutingTable(localID: local)
            for i in 1...12 {
                _ = table.onResponded(
                    makeContact(table.randomKey(inBucket: 0, using: &rng), host: "\(prefix)\(i)"), now: .zero)
            }
            XCTAssertEqual(table.count, 12, prefix)
        }
    }

    func testFullBucketDoesNotPingForACandidateTheCapsWouldRefuse() {
        var table = RoutingTable(localID: local, configuration: .init(bucketSize: 3))
        _ = table.onResponded(makeContact(table.randomKey(inBucket: 0, using: &rng), host: "127.0.0.1"), now: .zero)
        _ = table.onResponded(makeContact(table.randomKey(inBucket: 0, using: &rng), host: "198.51.100.1"), now: .zero)
        _ = table.onResponded(makeContact(table.randomKey(inBucket: 0, using: &rng), host: "198.51.100.2"), now: .zero)
        let third = makeContact(table.randomKey(inBucket: 0, using: &rng), host: "198.51.100.3")
        XCTAssertEqual(
            table.onResponded(third, now: .seconds(1)), [],
            "evicting the loopback entry would not make room for a third of the /24")
    }

    // MARK: Refresh

    func testUntouchedBucketsAskForRefreshAfterAnHour() {
        var table = RoutingTable(localID: local, now: .zero)
        var tickRng = SeededRandom(seed: 99)
        for bucket in 0...3 {
            _ = table.onResponded(
                makeContact(table.randomKey(inBucket: bucket, using: &rng), host: loopbackHost(bucket + 1)), now: .zero)
        }
        XCTAssertEqual(table.onTick(now: .seconds(3599), using: &tickRng), [])

        _ = table.onResponded(table.contacts(inBucket: 1)[0], now: .seconds(1800))
        table.onLookupCompleted(target: table.randomKey(inBucket: 2, using: &rng), now: .seconds(1800))

        let directives = table.onTick(now: .seconds(3600), using: &tickRng)
        var refreshed: [Int] = []
        for directive in directives {
            guard case .refresh(let bucket, let target) = directive else { return XCTFail("unexpected \(directive)") }
            XCTAssertEqual(table.bucketIndex(for: target), bucket, "the target lies in the bucket's range")
            refreshed.append(bucket)
        }
        XCTAssertEqual(refreshed, [0, 3], "buckets 1 and 2 were touched half an hour ago")
        XCTAssertEqual(table.onTick(now: .seconds(3601), using: &tickRng), [], "a refresh request counts as a touch")
        XCTAssertEqual(table.onTick(now: .seconds(5400), using: &tickRng).count, 2, "buckets 1 and 2 are due now")
    }

    func testEmptyTableHasNothingToRefresh() {
        var table = RoutingTable(localID: local)
        var tickRng = SeededRandom(seed: 1)
        XCTAssertEqual(table.onTick(now: .seconds(100_000), using: &tickRng), [])
    }

    // MARK: Closest

    func testClosestMatchesBruteForce() {
        var table = RoutingTable(localID: local)
        var ids: [NodeID] = []
        for i in 0..<600 {
            let id = Key256.random(using: &rng)
            _ = table.onResponded(makeContact(id, host: loopbackHost(i + 1)), now: .seconds(Int64(i)))
        }
        for bucket in 0..<12 {  // populate the deep buckets as well
            for i in 0..<5 {
                _ = table.onResponded(
                    makeContact(table.randomKey(inBucket: bucket * 4, using: &rng), host: loopbackHost(1000 + i)),
                    now: .zero)
            }
        }
        ids = table.allContacts.map(\.id)
        XCTAssertEqual(ids.count, table.count)
        var targets = (0..<40).map { _ in Key256.random(using: &rng) }
        targets += [local, local ^ Key256(words: (0, 0, 0, 1))] + ids.prefix(5)
        for target in targets {
            for count in [1, 3, 20, 1000] {
                XCTAssertEqual(
                    table.closest(to: target, count: count).map(\.id),
                    bruteForceClosest(ids, to: target, count: count))
            }
        }
        XCTAssertEqual(table.closest(to: local, count: 0), [])
    }
}
