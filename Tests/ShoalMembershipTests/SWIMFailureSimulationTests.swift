import ShoalCore
import ShoalMembership
import ShoalTestKit
import XCTest

/// A 1,000-node cluster over a lossy simulated network: false positives and failure detection.
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

    func testFalsePositiveRateAtOnePercentLoss() {
        let periods = 120
        var (cluster, _) = makeCluster(loss: 0.01, seed: 7)
        cluster.run(until: seconds(Double(periods)))

        let suspicions = cluster.changes.filter { $0.new.status == .suspect }
        let deaths = cluster.changes.filter { $0.new.status == .dead }
        let wronglyDead = Set(deaths.map(\.new.member.id))
        let rate = Double(wronglyDead.count) / Double(n)
        let stats = cluster.network.statistics
        print(
            "SWIM at 1% loss, \(n) nodes, \(periods) periods: \(Set(suspicions.map(\.new.member.id)).count) members"
                + " suspected (\(suspicions.count) suspect notices across all nodes),"
                + " \(deaths.count) death declarations about \(wronglyDead.count) healthy members"
                + " (false-positive rate \(rate * 100)% of members);"
                + " \(stats.messagesSent) messages, \(stats.messagesLost) lost")
        XCTAssertGreaterThan(stats.messagesLost, 0, "the network did lose messages")
        XCTAssertLessThan(rate, 0.01)
        let refuted = Set(suspicions.map(\.new.member.id)).filter { id in
            cluster.nodeIDs.allSatisfy { cluster.status(of: id, at: $0) != .suspect || $0 == id }
        }
        XCTAssertEqual(
            refuted.count, Set(suspicions.map(\.new.member.id)).count, "every suspicion was refuted or resolved")
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
