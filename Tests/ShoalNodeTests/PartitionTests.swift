import Foundation
import ShoalCore
import XCTest

@testable import ShoalNode

final class PartitionTests: NodeTestCase, @unchecked Sendable {
    /// Two halves of a cluster cut apart declare each other dead; once the network heals, the
    /// periodic re-contact of bootstrap peers merges the membership views again.
    func testPartitionedClusterHealsThroughBootstrapRecontact() async throws {
        let nodes = try await startNodes(4, bootstrap: { $0 == 0 ? [] : [0] }) { _, config in
            config.protocolPeriod = .milliseconds(200)
            config.bootstrapInterval = .seconds(1)
        }
        try await waitUntil("every node to see the other three alive", seconds: 30) {
            for node in nodes where await node.membership.aliveCount < 4 { return false }
            return true
        }
        let left = [nodes[0], nodes[1]]
        let right = [nodes[2], nodes[3]]
        for node in left { node.transport.simulatePartition(from: Set(right.map(\.nodeID))) }
        for node in right { node.transport.simulatePartition(from: Set(left.map(\.nodeID))) }
        try await waitUntil("each half to declare the other dead", seconds: 60) {
            for node in nodes where await node.membership.aliveCount != 2 { return false }
            return true
        }
        for node in nodes { node.transport.simulatePartition(from: []) }
        try await waitUntil("the halves to merge again", seconds: 60) {
            for node in nodes where await node.membership.aliveCount < 4 { return false }
            return true
        }
        for node in nodes {
            for other in nodes where other !== node {
                let status = await node.membership.status(of: other.nodeID)
                XCTAssertEqual(
                    status, .alive, "\(node.nodeID.short) sees \(other.nodeID.short) as \(String(describing: status))")
            }
        }
    }
}
