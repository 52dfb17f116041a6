import Foundation
import ShoalCore
import ShoalMembership
import ShoalTestKit
import XCTest

/// A join storm: 1,000 members join a cluster of 20 within two periods, each through one seed.
///
/// Every node must verify every member it learns of (one dial and `Ping` each), so convergence
/// costs about a million verifications. An unoptimised build (the default `swift test`) runs the
/// storm itself, 10 periods, and checks that it stays a join storm (no suspicions, no deaths,
/// bounded messages) and that the views grow; an optimised build, or `SHOAL_FULL_SIMULATIONS=1`
/// (see `simulationPeriods`), runs on until every node sees all 1,020 members.
final class SWIMJoinStormTests: XCTestCase {
    private let profile = simulationPeriods(quick: 10, full: 120)

    func testAThousandJoinsWithinTwoPeriods() {
        let (periods, mustConverge) = profile
        let seeds = 20
        let joiners = 1000
        let total = seeds + joiners
        let settings = SWIMSettings()
        var cluster = SWIMCluster(
            configuration: .init(baseDelay: .milliseconds(5), jitter: .milliseconds(10), lossProbability: 0), seed: 1000
        )
        cluster.keepsChange = { $0.new.status != .alive }
        let contacts = (0..<total).map(testContact)
        let roster = SWIMRoster(Array(contacts[..<seeds]))
        for contact in contacts[..<seeds] { cluster.addNode(contact, roster: roster, settings: settings) }
        cluster.run(until: seconds(3))
        for (index, joiner) in contacts[seeds...].enumerated() {
            cluster.addNode(joiner, knowing: [contacts[index % seeds]], settings: settings, startWithin: .seconds(2))
        }

        let start = cluster.network.now
        let wallStart = Date()
        var lastSent = [Int](repeating: 0, count: total)
        var busiest = 0
        var meanPerNode: [Double] = []
        var medianView: [Int] = []
        var convergedAfter: Int?
        var converged = 0
        for period in 1...periods where convergedAfter == nil {
            cluster.run(until: start + .seconds(period))
            var sum = 0
            for index in 0..<total {
                let sent = cluster.messagesSent(byNodeAt: index)
                busiest = max(busiest, sent - lastSent[index])
                sum += sent - lastSent[index]
                lastSent[index] = sent
            }
            meanPerNode.append(Double(sum) / Double(total))
            let views = (0..<total).map { cluster.instance(at: $0).memberCount }.sorted()
            medianView.append(views[total / 2])
            converged = views.filter { $0 == total }.count
            if converged == total { convergedAfter = period }
        }
        let counters = (0..<total).map { cluster.instance(at: $0).counters }
        let fannedOut = counters.reduce(0) { $0 + $1.fanOutMessages }
        let backlogGossip = counters.reduce(0) { $0 + $1.backlogGossipMessages }
        let suspicions = cluster.changeCounts[.suspect] ?? 0
        let deaths = cluster.changeCounts[.dead] ?? 0
        let peakUnverified = (0..<total).map { cluster.instance(at: $0).unverifiedCount }.max() ?? 0
        print(
            "SWIM join storm: \(joiners) members joined \(seeds) within 2 periods; \(periods) periods simulated:"
                + " every node saw all \(total) after \(convergedAfter.map(String.init) ?? "-") periods"
                + " (\(converged)/\(total) at the end; median view per period \(medianView.map(String.init).joined(separator: ", ")));"
                + " \(suspicions) suspect notices, \(deaths) deaths;"
                + " messages per node per period: mean \(meanPerNode.map { String(format: "%.1f", $0) }.joined(separator: ", ")),"
                + " busiest node \(busiest) in one period;"
                + " \(cluster.verificationsSent) verifications, \(fannedOut) fan-outs, \(backlogGossip) backlog gossip messages;"
                + " unverified at most \(peakUnverified) per node at the end;"
                + " \(String(format: "%.1f", Date().timeIntervalSince(wallStart))) s")
        XCTAssertEqual(deaths, 0, "nobody failed, so nobody is declared dead")
        XCTAssertLessThanOrEqual(suspicions, total / 100, "a join storm is not a suspicion storm")
        XCTAssertEqual(fannedOut, 0, "joins are never fanned out")
        // Per node and period: one probe and its ack, a few probe requests, the backlog gossip,
        // and at most `verificationsPerPeriod` pings out, as many answered.
        let bound = Double(8 + settings.backlogGossipMessagesPerPeriod + 2 * settings.verificationsPerPeriod)
        XCTAssertLessThanOrEqual(meanPerNode.max() ?? .infinity, bound)
        XCTAssertLessThanOrEqual(peakUnverified, settings.maximumUnverifiedMembers)
        XCTAssertGreaterThan(medianView.last ?? 0, 10 * seeds, "views grow during the storm")
        if mustConverge {
            XCTAssertNotNil(convergedAfter, "only \(converged) of \(total) nodes saw everyone")
        }
    }
}
