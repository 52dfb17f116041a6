import ShoalCore
import ShoalMembership
import ShoalTestKit
import XCTest

/// A 1,000-node cluster over a lossy simulated network: false deaths and failure detection.
final class SWIMFailureSimulationTests: XCTestCase {
    private let n = 1000

    private func makeCluster(loss: Double, seed: UInt64) -> (SWIMCluster, [Contact]) {
        var cluster = SWIMCluster(
            configuration: .init(baseDelay: .milliseconds(5), jitter: .milliseconds(10), lossProbability: loss),
            seed: seed)
        let contacts = (0..<n).map(testContact)
        for i in 0..<n {
            cluster.addNode(
                contacts[i], knowing: Array(contacts[..<i]) + Array(contacts[(i + 1)...]), settings: SWIMSettings())
        }
        return (cluster, contacts)
    }

    /// 120 periods, longer than the longest suspicion timeout at this size (90 s), with 1% loss
    /// and 5% of the members stalling for 2 to 4 periods every 10 to 30 periods.
    func testNoFalseDeathsWithLossAndSlowMembers() {
        let periods = 120
        var (cluster, contacts) = makeCluster(loss: 0.01, seed: 7)
        cluster.keepsChange = { $0.new.status == .dead }
        var rng = SeededRandom(seed: 70)
        let slow = Array(contacts.shuffled(using: &rng).prefix(n / 20))
        for member in slow { cluster.makeSlow(member.id, .init(stall: 2...4, gap: 10...30)) }
        cluster.run(until: seconds(Double(periods)))

        let suspicions = cluster.changeCounts[.suspect] ?? 0
        let deaths = cluster.changes
        let memberHours = Double(n * periods) / 3600
        let counters = cluster.nodeIDs.compactMap { cluster.instance($0)?.counters }
        let stats = cluster.network.statistics
        print(
            "SWIM at 1% loss with slow members, \(n) nodes, \(periods) periods (\(String(format: "%.1f", memberHours))"
                + " member-hours), \(slow.count) slow: \(suspicions) suspect notices,"
                + " \(deaths.count) false death declarations (\(Double(deaths.count) / memberHours) per member-hour);"
                + " \(counters.reduce(0) { $0 + $1.lateTicks }) late ticks,"
                + " \(counters.reduce(0) { $0 + $1.suppressedAccusations }) accusations held back by starved nodes;"
                + " \(stats.messagesSent) messages, \(stats.messagesLost) lost, \(stats.eventsDeferred) held by stalls")
        XCTAssertGreaterThan(stats.messagesLost, 0, "the network did lose messages")
        XCTAssertGreaterThan(stats.eventsDeferred, 0, "slow members did stall")
        XCTAssertGreaterThan(suspicions, 0, "stalled members were suspected")
        XCTAssertEqual(deaths.count, 0, "no live member, slow or not, was declared dead")
        XCTAssertTrue(
            slow.allSatisfy { member in contacts.allSatisfy { cluster.status(of: member.id, at: $0.id) != .dead } },
            "every slow member is still a member everywhere")
    }

    func testCrashedNodesAreDeclaredDeadEverywhere() {
        var (cluster, contacts) = makeCluster(loss: 0.01, seed: 8)
        cluster.run(until: seconds(3))
        let crashed = [contacts[10], contacts[500], contacts[999]]
        let crashAt = cluster.network.now
        for c in crashed { cluster.network.kill(c.id) }
        let survivors = contacts.filter { c in !crashed.contains(c) }

        var firstSuspected: Int?
        var allDead: Int?
        for period in 1...150 where allDead == nil {
            cluster.run(until: crashAt + .seconds(period))
            let suspected = cluster.changes.contains { $0.at > crashAt && $0.new.status == .suspect }
            if firstSuspected == nil, suspected {
                firstSuspected = period
            }
            if survivors.allSatisfy({ s in crashed.allSatisfy { cluster.status(of: $0.id, at: s.id) == .dead } }) {
                allDead = period
            }
        }
        let falseDeaths = Set(cluster.changes.filter { $0.new.status == .dead }.map(\.new.member.id))
            .subtracting(crashed.map(\.id))
        print(
            "SWIM crash detection, \(n) nodes, 1% loss: first suspicion after \(firstSuspected.map(String.init) ?? "-")"
                + " periods, all 3 crashed nodes dead at every survivor after \(allDead.map(String.init) ?? "-")"
                + " periods; \(falseDeaths.count) healthy members wrongly declared dead")
        XCTAssertNotNil(allDead, "crashed nodes were not declared dead everywhere within 150 periods")
        XCTAssertTrue(falseDeaths.isEmpty)
    }
}
