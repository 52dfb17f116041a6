import ShoalCore
import ShoalDHT
import ShoalTestKit
import XCTest

final class PlacementTests: XCTestCase {
    private var rng = SeededRandom(seed: 21)

    func testReplicaSetIsTheRClosestLiveNodes() {
        let local = makeContact(Key256.random(using: &rng), host: "127.0.0.1")
        var table = RoutingTable(localID: local.id)
        var all = [local]
        for i in 0..<100 {
            let c = makeContact(Key256.random(using: &rng), host: loopbackHost(i + 2))
            _ = table.onResponded(c, now: .zero)
            all.append(c)
        }
        let known = [local] + table.allContacts
        for _ in 0..<50 {
            let id = Key256.random(using: &rng)
            let truthWithSelf = bruteForceClosest(known.map(\.id), to: id, count: 3)
            XCTAssertEqual(table.replicaSet(for: id, r: 3, including: local).map(\.id), truthWithSelf)
            XCTAssertEqual(
                table.replicaSet(for: id, r: 3).map(\.id),
                bruteForceClosest(table.allContacts.map(\.id), to: id, count: 3))
            XCTAssertEqual(table.shouldAccept(id, r: 3), truthWithSelf.contains(local.id))
        }
        XCTAssertTrue(table.shouldAccept(local.id, r: 1), "a node is closest to its own ID")
        XCTAssertEqual(table.replicaSet(for: local.id, r: 1, including: local), [local])
    }

    func testFewerNodesThanReplicasMeansEveryNode() {
        let local = makeContact(Key256.random(using: &rng))
        var table = RoutingTable(localID: local.id)
        let other = makeContact(Key256.random(using: &rng), host: "127.0.0.2")
        _ = table.onResponded(other, now: .zero)
        let id = Key256.random(using: &rng)
        XCTAssertEqual(Set(table.replicaSet(for: id, r: 3, including: local)), [local, other])
        XCTAssertTrue(table.shouldAccept(id, r: 3))
        XCTAssertEqual(table.replicaSet(for: id, r: 0), [])
        XCTAssertFalse(table.shouldAccept(id, r: 0))
    }

    func testListVariantsIgnoreDuplicates() {
        let nodes = (0..<5).map { i in makeContact(Key256(words: (UInt64(i + 1), 0, 0, 0))) }
        let target = Key256.zero
        XCTAssertEqual(Placement.replicaSet(for: target, r: 3, among: nodes + nodes).map(\.id.words.0), [1, 2, 3])
        XCTAssertTrue(Placement.shouldAccept(target, r: 3, localID: Key256(words: (3, 0, 0, 0)), among: nodes + nodes))
        XCTAssertFalse(Placement.shouldAccept(target, r: 3, localID: Key256(words: (4, 0, 0, 0)), among: nodes))
        XCTAssertEqual(Placement.defaultReplicas, 3)
    }
}
