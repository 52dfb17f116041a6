import Foundation
import ShoalCore
import XCTest

@testable import ShoalNode

/// Thirty real nodes (own transports, TLS, stores) on distinct loopback addresses, each joining
/// through one or two earlier nodes: objects stored through one node are found from every node,
/// and, once placement settles, sit on exactly the three nodes whose IDs are XOR-closest to them.
///
/// A put made while routing tables are still filling in may land a copy on a node that believes it
/// is among the closest; repair then pushes to the true closest and drops the extra copy. The test
/// waits for that (bounded) instead of requiring a perfect put on a busy machine.
final class ThirtyNodeClusterTests: NodeTestCase, @unchecked Sendable {
    func testObjectsAreFoundFromEveryNodeAndPlacedOnTheClosest() async throws {
        let count = 30
        let clock = ContinuousClock()
        let started = clock.now
        func phase(_ name: String) { print("thirty nodes: \(name) after \(clock.now - started)") }
        var nodes: [ShoalNode] = []
        for i in 0..<count {
            // Node i joins through node i-1 and, from the third node on, one more earlier node.
            let peers: [ShoalNode] = i == 0 ? [] : (i == 1 ? [nodes[0]] : [nodes[i - 1], nodes[(i * 7) % (i - 1)]])
            nodes.append(
                try await startNode(host: "127.0.0.\(10 + i)", bootstrap: peers) { $0.repairInterval = .seconds(2) })
        }
        try await waitForRoutingTables(nodes, minimum: 10, seconds: 60)
        phase("settled")
        var sizes: [Int] = []
        for node in nodes { sizes.append(await node.dht.size) }
        print(
            "routing table sizes after settling: min \(sizes.min()!), max \(sizes.max()!), mean \(sizes.reduce(0, +) / count)"
        )

        // Thirty small public files through node 7 (sixty objects for the placement check).
        let writer = nodes[7]
        var files: [(FileAddress, [UInt8], [ContentID])] = []
        for i in 0..<30 {
            let bytes = testBytes(count: 100 + 97 * i, seed: UInt64(300 + i))
            let stored = try await writer.put(bytes, isPublic: true)
            files.append((stored.address, bytes, stored.objectIDs))
        }

        phase("stored")
        // Placement, before any read caches copies: every object has at least 3 copies at once, and
        // holders == the 3 XOR-closest of all 30 IDs once repair has settled.
        let allIDs = nodes.map(\.nodeID)
        func placementReport() async -> (exact: Int, objects: Int, underReplicated: [String], mismatches: [String]) {
            var exact = 0
            var objects = 0
            var under: [String] = []
            var mismatches: [String] = []
            for (_, _, ids) in files {
                for id in ids {
                    objects += 1
                    let on = Set(await holders(of: id, among: nodes).map { allIDs[$0] })
                    let truth = trueClosest(to: id, among: allIDs, count: 3)
                    if on.count < 3 { under.append("\(id.short): \(on.count) copies") }
                    if on == truth {
                        exact += 1
                    } else {
                        mismatches.append(
                            "\(id.short): on \(on.map(\.short).sorted()) (\(on.count) copies), closest \(truth.map(\.short).sorted()), \(on.intersection(truth).count) of 3 right"
                        )
                    }
                }
            }
            return (exact, objects, under, mismatches)
        }
        let first = await placementReport()
        print(
            "placement right after the puts: \(first.exact) of \(first.objects) objects on exactly their 3 XOR-closest nodes"
        )
        XCTAssertEqual(first.underReplicated, [], "a put returned before its objects had 3 copies")
        var report = first
        // Bounded: 120 polls of about a second.
        for _ in 0..<120 where report.exact < report.objects {
            try await Task.sleep(for: .seconds(1))
            report = await placementReport()
            XCTAssertEqual(report.underReplicated, [], "repair left an object with fewer than 3 copies")
        }
        phase("placement settled")
        print(
            "placement after repair: \(report.exact) of \(report.objects) objects on exactly their 3 XOR-closest nodes")
        XCTAssertEqual(
            report.exact, report.objects,
            "objects not on exactly their 3 closest nodes:\n" + report.mismatches.joined(separator: "\n"))

        phase("placement checked")
        // Ten of the files from every node.
        let stored = Array(files.prefix(10))
        let failures = await withTaskGroup(of: [String].self) { group in
            for (n, node) in nodes.enumerated() {
                group.addTask {
                    var failed: [String] = []
                    for (f, (address, bytes, _)) in stored.enumerated() {
                        do {
                            let got = try await node.readAll(address)
                            if got != bytes { failed.append("node \(n) file \(f): wrong bytes") }
                        } catch {
                            failed.append("node \(n) file \(f): \(error)")
                        }
                    }
                    return failed
                }
            }
            var all: [String] = []
            for await failed in group { all += failed }
            return all
        }
        phase("read from every node")
        XCTAssertEqual(failures, [], "\(failures.count) of \(count * stored.count) reads failed")
    }
}
