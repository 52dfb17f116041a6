import Foundation
import ShoalCore
import ShoalMembership
import ShoalTestKit
import XCTest

/// A verified member turns hostile: besides running SWIM honestly, it floods the cluster with
/// 100,000 made-up members (32 per message, the wire limit) and with claims that real members
/// moved to addresses where nobody listens. Nobody exists at those addresses under those IDs, so
/// every verification fails: no view grows beyond the real cluster, no real member moves or is
/// suspected, and the liar is penalised and then disconnected.
final class SWIMHostileMemberTests: XCTestCase {
    func testAHundredThousandMadeUpMembersLeaveEveryViewAtTheTrueSize() {
        let n = 50
        let madeUp = 100_000
        let floodPeriods = 20
        let settings = SWIMSettings()
        var cluster = SWIMCluster(
            configuration: .init(baseDelay: .milliseconds(5), jitter: .milliseconds(10), lossProbability: 0.01),
            seed: 666)
        cluster.keepsChange = { $0.new.status != .alive || $0.old?.member.address != $0.new.member.address }
        let contacts = (0..<n).map(testContact)
        let roster = SWIMRoster(contacts)
        for contact in contacts { cluster.addNode(contact, roster: roster, settings: settings) }
        let liar = contacts[0]
        let honest = Array(contacts.dropFirst())
        cluster.run(until: seconds(5))

        var rng = SeededRandom(seed: 667)
        var sent = 0
        var largestView = 0
        var largestUnverified = 0
        let messages = (madeUp + SWIMSettings.wireUpdateLimit - 1) / SWIMSettings.wireUpdateLimit
        let messagesPerPeriod = (messages + floodPeriods - 1) / floodPeriods
        let start = cluster.network.now
        for period in 0..<(floodPeriods + 60) {
            if period < floodPeriods {
                for message in 0..<messagesPerPeriod where sent < madeUp {
                    var updates: [MemberUpdate] = []
                    while updates.count < SWIMSettings.wireUpdateLimit, sent < madeUp {
                        let fake = Contact(
                            id: Key256.sha256(of: Array("made-up-\(sent)".utf8)),
                            address: PeerAddress(
                                host: "127.\(sent % 200 + 1).\(sent / 200 % 250).\(sent % 7 + 1)", port: 1))
                        updates.append(MemberUpdate(member: fake, status: .alive, incarnation: UInt64(sent % 3)))
                        sent += 1
                    }
                    // Every tenth message also claims that a real member moved where nobody listens.
                    if message % 10 == 0, let moved = honest.randomElement(using: &rng) {
                        updates[0] = MemberUpdate(
                            member: Contact(id: moved.id, address: PeerAddress(host: "127.9.9.9", port: 1)),
                            status: .alive, incarnation: 1_000)
                    }
                    cluster.inject(from: liar.id, to: honest.randomElement(using: &rng)!.id, updates: updates)
                }
            }
            cluster.run(until: start + .seconds(period + 1))
            for index in 1..<n {
                let swim = cluster.instance(at: index)
                largestView = max(largestView, swim.memberCount)
                largestUnverified = max(largestUnverified, swim.unverifiedCount)
            }
        }

        let suspectedHonest = cluster.changes.filter { change in
            change.new.status != .alive && honest.contains { $0.id == change.new.member.id }
        }
        let moved = cluster.changes.filter { change in
            change.new.status == .alive && honest.contains { $0.id == change.new.member.id }
        }
        let disconnectedBy = Set(cluster.disconnects.filter { $0.peer == liar.id }.map { NodeIndexKey($0.by) })
        let counters = (1..<n).map { cluster.instance(at: $0).counters }
        let failed = counters.reduce(0) { $0 + $1.verificationsFailed }
        let refused = counters.reduce(0) { $0 + $1.claimsRefused }
        let ignored = counters.reduce(0) { $0 + $1.updatesIgnored }
        let penalised = counters.reduce(0) { $0 + $1.informersPenalised }
        let finalViews = (1..<n).map { cluster.instance(at: $0).memberCount }
        print(
            "SWIM hostile member: \(sent) made-up members gossiped to \(n - 1) honest members over \(floodPeriods) periods:"
                + " largest view \(largestView) (true size \(n)), at most \(largestUnverified) unverified at one node;"
                + " \(cluster.verificationsSent) verifications (\(cluster.verificationsOfNobody) of nobody), \(failed) failed,"
                + " \(refused) claims refused by caps, \(ignored) updates ignored; \(penalised) penalties;"
                + " disconnected by \(disconnectedBy.count) of \(n - 1);"
                + " \(suspectedHonest.count) accusations of honest members, \(moved.count) moved;"
                + " views at the end \(finalViews.min() ?? 0)...\(finalViews.max() ?? 0)")
        for change in (moved.prefix(6) + suspectedHonest.prefix(3)) {
            print(
                "  \(change.at): \(change.observer.short) saw \(change.old.map(\.description) ?? "none") -> \(change.new)"
            )
        }
        XCTAssertEqual(sent, madeUp)
        XCTAssertLessThanOrEqual(largestView, n, "no view grows beyond the real cluster")
        XCTAssertLessThanOrEqual(largestUnverified, settings.maximumUnverifiedMembers)
        XCTAssertEqual(suspectedHonest.count, 0, "no real member is suspected")
        XCTAssertEqual(moved.count, 0, "no real member moves to an address where it does not listen")
        XCTAssertLessThanOrEqual(cluster.verificationsOfNobody, (n - 1) * 200, "verification stays bounded per node")
        XCTAssertGreaterThan(penalised, 0, "the liar is penalised")
        for index in 1..<n {
            XCTAssertEqual(cluster.instance(at: index).unverifiedCount(informedBy: liar.id), 0, "claims expire")
            XCTAssertLessThanOrEqual(cluster.instance(at: index).memberCount, n)
        }
    }
}
