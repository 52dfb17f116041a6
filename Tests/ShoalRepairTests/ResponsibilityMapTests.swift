import ShoalCore
import ShoalRepair
import ShoalTestKit
import XCTest

final class ResponsibilityMapTests: XCTestCase {
    private func bruteForce(_ key: Key256, _ nodes: [NodeID], _ r: Int) -> [NodeID] {
        Array(nodes.sorted { key.isCloser($0, than: $1) }.prefix(r))
    }

    func testHoldersMatchTheRClosestEverywhere() {
        var rng = SeededRandom(seed: 41)
        for (count, r) in [(20, 3), (7, 3), (3, 3), (2, 3), (50, 5), (1, 1)] {
            let nodes = (0..<count).map { _ in Key256.random(using: &rng) }
            let map = ResponsibilityMap(nodes: nodes, replicas: r)
            XCTAssertLessThanOrEqual(map.ranges.count, max(1, 8 * count * r), "O(N·r) ranges")
            // Ranges are disjoint and cover the key space.
            var covered = 0.0
            for (a, b) in zip(map.ranges, map.ranges.dropFirst()) { XCTAssertLessThan(a.range.last, b.range.prefix) }
            for range in map.ranges { covered += pow(2.0, -Double(range.range.bitLength)) }
            XCTAssertEqual(covered, 1.0, accuracy: 1e-9)
            for _ in 0..<300 {
                let key = Key256.random(using: &rng)
                XCTAssertEqual(map.holders(of: key), bruteForce(key, nodes, r), "\(count) nodes, r = \(r)")
            }
            // Keys right next to node IDs, where ranges are finest.
            for n in nodes.prefix(5) {
                XCTAssertEqual(map.holders(of: n), bruteForce(n, nodes, r))
                let near = n.settingBit(255, to: !n.bit(255))
                XCTAssertEqual(map.holders(of: near), bruteForce(near, nodes, r))
            }
        }
    }

    func testARestrictedMapHasExactlyTheNodesRanges() {
        var rng = SeededRandom(seed: 42)
        let nodes = (0..<30).map { _ in Key256.random(using: &rng) }
        let full = ResponsibilityMap(nodes: nodes, replicas: 3)
        let me = nodes[7]
        let mine = ResponsibilityMap(nodes: nodes, replicas: 3, restrictedTo: me)
        XCTAssertTrue(mine.ranges.allSatisfy { $0.holders.contains(me) })
        for _ in 0..<500 {
            let key = Key256.random(using: &rng)
            let holders = bruteForce(key, nodes, 3)
            XCTAssertEqual(mine.holders(of: key) != nil, holders.contains(me))
            if let h = mine.holders(of: key) { XCTAssertEqual(h, holders) }
            XCTAssertEqual(full.holders(of: key), holders)
        }
        let shared = mine.sharedRanges(of: me)
        XCTAssertFalse(shared.isEmpty)
        XCTAssertLessThanOrEqual(shared.count, 8, "a node shares ranges with a few neighbours, not the network")
        for (peer, ranges) in shared {
            for range in ranges {
                let probe = range.prefix
                XCTAssertTrue(bruteForce(probe, nodes, 3).contains(peer))
                XCTAssertTrue(bruteForce(probe, nodes, 3).contains(me))
            }
        }
        XCTAssertEqual(
            ResponsibilityMap(nodes: nodes, replicas: 3, restrictedTo: Key256.random(using: &rng)).ranges, [])
    }

    func testExcludingCutsAroundAnInnerRange() {
        let outer = KeyRange.everything
        let inner = KeyRange(containing: Key256(words: (0x5000_0000_0000_0000, 0, 0, 0)), bitLength: 4)
        let pieces = outer.excluding(inner)
        XCTAssertEqual(pieces.map(\.description), ["0/2", "4/4", "6/3", "8/1"])
        XCTAssertEqual(outer.excluding(outer), [])
    }
}
