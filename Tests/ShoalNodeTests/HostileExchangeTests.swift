import Foundation
import Logging
import NIOConcurrencyHelpers
import ShoalCore
import ShoalRepair
import ShoalTestKit
import ShoalTransport
import ShoalWire
import XCTest

@testable import ShoalNode

/// A peer that takes part in anti-entropy and lies: it answers from a tree of records for objects
/// that do not exist (claims by a made-up owner, tombstones whose Delete it cannot produce), or
/// answers garbage. Real nodes exchanging with it keep only what they can check, stay bounded,
/// and keep serving.
final class HostileExchangeTests: NodeTestCase, @unchecked Sendable {
    /// How the hostile peer answers.
    enum Lie: Sendable {
        /// A consistent tree of fake records: honest-looking summaries and pages.
        case fakeRecords
        /// Implausible counts, answers of the wrong kind and size, records outside what was asked.
        case garbage
    }

    final class LiarPeer: PeerRequestHandler, @unchecked Sendable {
        let lie: Lie
        private let tree: NIOLockedValueBox<RecordTree>
        private let answers = NIOLockedValueBox(0)

        init(lie: Lie, records: Int) {
            self.lie = lie
            var rng = SeededRandom(seed: 0xBAD)
            let fake = ObjectOwner(key: [0x04] + [UInt8](repeating: 0x66, count: 64))!
            let now = Timestamp(nanoseconds: Int64(Date().timeIntervalSince1970 * 1e9))
            let list = (0..<records).map { i -> ObjectRecord in
                let id = Key256.random(using: &rng)
                return ObjectRecord(
                    id: id, kind: .chunk, isStored: true,
                    claims: i % 2 == 0 ? [OwnerClaim(owner: fake, claimedAt: now)] : [],
                    tombstones: i % 2 == 1
                        ? [Tombstone(owner: fake, deletedAt: now, deleteID: Key256.random(using: &rng))] : [])
            }
            tree = NIOLockedValueBox(RecordTree(records: list))
        }

        var answered: Int { answers.withLockedValue { $0 } }

        func handle(_ request: WireMessage, from peer: PeerInfo) async -> WireMessage {
            switch request {
            case .ping(let payload): return .pong(payload: payload)
            case .findNode: return .nodes([])
            case .findValue: return .valueResult(ValueResult(held: false))
            case .gossip(let gossip) where gossip.kind == .probe: return .gossip(GossipMessage(kind: .ack))
            case .gossip: return .gossip(GossipMessage(kind: .nack))
            case .storeChunk: return .storeAck(StoreAck(stored: false, reason: "no"))
            case .getDelete: return .signedDelete(Array(repeating: 0x5A, count: 200))
            case .shareRecords: return .shareRecordsAck(merged: 0)
            case .antiEntropyRequest(let exchange):
                answers.withLockedValue { $0 += 1 }
                switch lie {
                case .fakeRecords:
                    let horizon = exchange.horizon
                    return tree.withLockedValue { tree in
                        tree.advanceHorizon(to: horizon)
                        let answer = tree.answer(ExchangeRequest(horizon: tree.horizon, body: exchange.body))
                        return .antiEntropyAnswer(answer, horizon: tree.horizon)
                    }
                case .garbage:
                    switch exchange.body {
                    case .summaries(let ranges):
                        let n = answers.withLockedValue { $0 }
                        if n % 2 == 0 {
                            return .antiEntropyAnswer(
                                .summaries(
                                    Array(
                                        repeating: RangeSummary(count: 1 << 60, hash: RangeSummary.empty.hash),
                                        count: ranges.count)), horizon: exchange.horizon)
                        }
                        return .antiEntropyAnswer(
                            .summaries(
                                Array(
                                    repeating: RangeSummary(count: 3, hash: RangeSummary.empty.hash),
                                    count: 4000)), horizon: exchange.horizon)
                    case .children:
                        return .antiEntropyAnswer(.records([]), horizon: exchange.horizon)
                    case .records(let queries):
                        // Records outside the ranges asked, out of order.
                        let stray = (0..<1000).map { i in
                            ObjectRecord(
                                id: Key256(words: (UInt64.max, 0, 0, UInt64(1000 - i))), kind: .chunk, isStored: true,
                                claims: [OwnerClaim(owner: .anonymous, claimedAt: .zero)])
                        }
                        return .antiEntropyAnswer(
                            .records(queries.map { _ in RecordPage(records: stray, isComplete: true) }),
                            horizon: exchange.horizon)
                    }
                }
            default:
                return .error(WireError(.badRequest, "not supported by this peer"))
            }
        }
    }

    private func startLiar(_ lie: Lie, records: Int = 3000) async throws -> (LiarPeer, Transport, Contact) {
        let liar = LiarPeer(lie: lie, records: records)
        var logger = Logger(label: "shoal.test.liar")
        logger.logLevel = .critical
        let transport = try Transport(
            identity: try .ephemeral(), configuration: TransportConfiguration(), handler: liar, logger: logger)
        let run = Task { await transport.run() }
        let bound = try await transport.listen(on: PeerAddress(host: "127.0.0.1", port: 0))
        addCleanup {
            await transport.shutdown()
            run.cancel()
        }
        return (liar, transport, Contact(id: transport.nodeID, address: bound))
    }

    private func exercise(_ lie: Lie) async throws {
        let nodes = try await startNodes(2, configure: { _, config in config.chunkSize = 65536 })
        try await waitForRoutingTables(nodes, minimum: 1)
        let bytes = testBytes(count: 3 * 65536, seed: 81)
        let stored = try await nodes[0].put(bytes, isPublic: false)
        let (liar, transport, contact) = try await startLiar(lie)
        // Introduce the liar: it connects, and the nodes add it to their membership.
        for node in nodes { _ = try await transport.request(.ping(payload: Data()), to: node.contact) }
        try await waitUntil("the nodes to count the liar as a member") {
            for node in nodes where await !node.membership.liveMembers.contains(where: { $0.id == contact.id }) {
                return false
            }
            return true
        }
        // Several rounds: every node compares with the liar (it shares every range: 3 nodes, r = 3).
        try await waitUntil("both nodes to have compared with the liar", seconds: 60) {
            for node in nodes {
                await node.repair.round()
                let status = await node.status().repair
                let told =
                    lie == .garbage
                    ? status.exchangeFailures.values.reduce(0, +) : status.recordsRefused + status.tombstonesRefused
                if told == 0 { return false }
            }
            return liar.answered >= 2
        }
        for node in nodes {
            let status = await node.status().repair
            XCTAssertEqual(status.records, stored.objectIDs.count, "nothing the liar made up is kept: \(status)")
            XCTAssertEqual(status.tombstones, 0, "no tombstone whose Delete does not verify is applied")
            XCTAssertEqual(status.quarantined, 0)
            if lie == .garbage {
                XCTAssertGreaterThan(
                    status.exchangeFailures.values.reduce(0, +), 0, "garbage ends the exchanges: \(status)")
            } else {
                XCTAssertGreaterThan(
                    status.recordsRefused + status.tombstonesRefused, 0,
                    "the made-up records were seen and refused: \(status)")
            }
        }
        // The nodes still serve what they hold, and still compare with each other.
        for node in nodes {
            let got = try await node.readAll(stored.address)
            XCTAssertTrue(got == bytes)
            let status = await node.status().repair
            XCTAssertGreaterThan(status.exchanges, 0, "the honest pair completes its exchanges: \(status)")
        }
    }

    func testMadeUpRecordsAreNotKept() async throws {
        try await exercise(.fakeRecords)
    }

    func testGarbageAnswersEndTheExchangesAndNothingElse() async throws {
        try await exercise(.garbage)
    }
}
