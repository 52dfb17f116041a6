import ShoalCore
import ShoalMembership
import ShoalTestKit
import XCTest

/// A 1,000-node cluster over a simulated network: how long one join takes to reach everyone.
final class SWIMJoinSimulationTests: XCTestCase {
    func testOneJoinReachesAThousandNodes() {
        let n = 1000
        let settings = SWIMSettings()
        var cluster = SWIMCluster(
            configuration: .init(baseDelay: .milliseconds(5), jitter: .milliseconds(10), lossProbability: 0), seed: 1)
        let contacts = (0..<n).map(testContact)
        for i in 0..<n {
            let others = Array(contacts[..<i]) + Array(contacts[(i + 1)...])
            cluster.addNode(contacts[i], knowing: others, settings: settings)
        }
        cluster.run(until: seconds(5))  // settle: the initial self-announcements are spread

        let joiner = testContact(n)
        let start = cluster.network.now
        cluster.addNode(joiner, knowing: [contacts[0]], settings: settings)
        var periodsToHalf: Int?
        var periodsToAll: Int?
        var knowing = 0
        for period in 1...40 where periodsToAll == nil {
            cluster.run(until: start + .seconds(period))
            knowing = contacts.filter { cluster.status(of: joiner.id, at: $0.id) == .alive }.count
            if periodsToHalf == nil, knowing * 2 >= n { periodsToHalf = period }
            if knowing == n { periodsToAll = period }
        }
        let joinerView = cluster.instance(joiner.id)?.memberCount ?? 0
        print(
            "SWIM join, \(n) nodes: half know after \(periodsToHalf.map(String.init) ?? "-") periods,"
                + " all after \(periodsToAll.map(String.init) ?? "-") periods (\(knowing)/\(n) at the end);"
                + " the joiner knows \(joinerView - 1) members by then;"
                + " \(cluster.network.statistics.messagesSent) messages sent")
        XCTAssertNotNil(periodsToAll, "only \(knowing) of \(n) nodes learned of the join within 40 periods")
        XCTAssertLessThanOrEqual(periodsToAll ?? .max, 30)
        XCTAssertTrue(cluster.changes.allSatisfy { $0.new.status != .dead }, "no node was declared dead")
    }
}
