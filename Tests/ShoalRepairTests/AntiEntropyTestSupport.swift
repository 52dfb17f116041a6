import ShoalCore
import ShoalRepair
import ShoalTestKit
import XCTest

/// Owners used by the anti-entropy tests.
let alice = ObjectOwner(key: [0x04] + Array(repeating: 0xA1, count: 64))!
let bob = ObjectOwner(key: [0x04] + Array(repeating: 0xB0, count: 64))!
let carol = ObjectOwner(key: [0x04] + Array(repeating: 0xC4, count: 64))!

/// `n` seconds after the Unix epoch.
func wall(_ seconds: Int64) -> Timestamp { Timestamp(nanoseconds: seconds * 1_000_000_000) }

/// A stored chunk claimed by `owners` at `claimedAt`.
func record(
    _ id: ContentID, owners: [ObjectOwner] = [alice], claimedAt: Timestamp = wall(1_000),
    kind: ObjectRecord.Kind = .chunk, stored: Bool = true, tombstones: [Tombstone] = []
) -> ObjectRecord {
    ObjectRecord(
        id: id, kind: kind, isStored: stored, claims: owners.map { OwnerClaim(owner: $0, claimedAt: claimedAt) },
        tombstones: tombstones)
}

/// `owner`'s tombstone at `deletedAt`, with a delete ID derived from both.
func tombstone(by owner: ObjectOwner = alice, at deletedAt: Timestamp) -> Tombstone {
    Tombstone(
        owner: owner, deletedAt: deletedAt,
        deleteID: Key256.sha256(of: owner.key + [UInt8(truncatingIfNeeded: deletedAt.nanoseconds)]))
}

/// `count` random IDs from `seed`, sorted.
func randomIDs(_ count: Int, seed: UInt64) -> [ContentID] {
    var rng = SeededRandom(seed: seed)
    return (0..<count).map { _ in Key256.random(using: &rng) }.sorted()
}

/// Runs a loopback exchange of `local` with `peer` over `ranges`; fails the test on a session failure.
func exchange(
    _ local: inout RecordTree, with peer: inout RecordTree, ranges: [KeyRange] = [.everything],
    limits: ExchangeLimits = ExchangeLimits(), file: StaticString = #filePath, line: UInt = #line
) -> (outcome: ExchangeOutcome, run: LoopbackExchange.Result)? {
    var session = ExchangeSession(peer: node(77), ranges: ranges, horizon: local.horizon, limits: limits)
    let run = LoopbackExchange.run(&session, local: &local, peer: &peer, peerLimits: limits)
    switch run.outcome {
    case .success(let outcome): return (outcome, run)
    case .failure(let failure):
        XCTFail("exchange failed: \(failure)", file: file, line: line)
        return nil
    }
}

/// Runs a loopback exchange expected to fail, returning the failure.
func failingExchange(
    _ local: inout RecordTree, with peer: inout RecordTree, ranges: [KeyRange] = [.everything],
    limits: ExchangeLimits = ExchangeLimits(),
    tamper: @escaping (ExchangeRequest, ExchangeAnswer) -> ExchangeAnswer,
    file: StaticString = #filePath, line: UInt = #line
) -> (failure: ExchangeFailure, run: LoopbackExchange.Result)? {
    var session = ExchangeSession(peer: node(66), ranges: ranges, horizon: local.horizon, limits: limits)
    let run = LoopbackExchange.run(&session, local: &local, peer: &peer, peerLimits: limits, tamper: tamper)
    switch run.outcome {
    case .success(let outcome):
        XCTFail("exchange succeeded: \(outcome.differenceCount) differences", file: file, line: line)
        return nil
    case .failure(let failure): return (failure, run)
    }
}

/// Tree depth bound in nibble levels for `n` random records: leaves hold up to 16.
func expectedDepth(_ n: Int) -> Int {
    var depth = 0
    var capacity = RangeHashing.leafCapacity
    while capacity < n {
        capacity *= 16
        depth += 1
    }
    return depth + 1
}
