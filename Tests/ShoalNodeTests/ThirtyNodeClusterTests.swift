import Foundation
import ShoalCore
@testable import ShoalNode
import XCTest

/// Thirty real nodes (own transports, TLS, stores) on distinct loopback addresses, each joining
/// through one or two earlier nodes: objects stored through one node are found from every node,
/// and settle on exactly the three nodes whose IDs are XOR-closest to them.
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
            // Repair every 2 s: copies a put spilled over to the next closest nodes (a holder was
            // slow or declined) are handed back within the bound below.
            nodes.append(try await startNode(host: "127.0.0.\(10 + i)", bootstrap: peers) { $0.repairInterval = .seconds(2) })
        }
        try await waitForRoutingTables(nodes, minimum: 10, seconds: 60)
        phase("settled")
        var sizes: [Int] = []
        for node in nodes { sizes.append(await node.dht.size) }
        print("routing table sizes after settling: min \(sizes.min()!), max \(sizes.max()!), mean \(sizes.reduce(0, +) / count)")

        // Thirty small public files through node 7 (sixty objects for the placement check).
        let writer = nodes[7]
        var files: [(FileAddress, [UInt8], [ContentID])] = []
        for i in 0..<30 {
            let bytes = testBytes(count: 100 + 97 * i, seed: UInt64(300 + i))
            let stored = try await writer.put(bytes, isPublic: true)
            files.append((stored.address, bytes, stored.objectIDs))
        }

        phase("stored")
        // Placement, before any read caches copies: holders == the 3 XOR-closest of all 30 IDs.
        // Membership is still spreading while the files go in, so a node whose view lacks one of
        // an object's closest may copy it to the next closest meanwhile, and a put whose holder
        // was slow spills over to the next closest; once the views agree, repair hands such
        // copies off and drops them. Wait (bounded) for that.
        let allIDs = nodes.map(\.nodeID)
        var exact = 0
        var objects = 0
        var mismatches: [String] = []
        var firstExact: Int?
        let settleStarted = clock.now
        repeat {
            (exact, objects, mismatches) = (0, 0, [])
            for (_, _, ids) in files {
                for id in ids {
                    objects += 1
                    let on = Set(await holders(of: id, among: nodes).map { allIDs[$0] })
                    let truth = trueClosest(to: id, among: allIDs, count: 3)
                    if on == truth {
                        exact += 1
                    } else {
                        mismatches.append("\(id.short): on \(on.map(\.short).sorted()) (\(on.count) copies), closest \(truth.map(\.short).sorted()), \(on.intersection(truth).count) of 3 right")
                    }
                }
            }
            if firstExact == nil { firstExact = exact }
            if exact == objects { break }
            try await Task.sleep(for: .milliseconds(500))
        } while clock.now - settleStarted < .seconds(60)
        print("placement: \(firstExact ?? 0) of \(objects) objects on exactly their 3 XOR-closest nodes right after the puts, \(exact) after \(clock.now - settleStarted)")
        XCTAssertEqual(exact, objects, "objects not on exactly their 3 closest nodes:\n" + mismatches.joined(separator: "\n"))

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
