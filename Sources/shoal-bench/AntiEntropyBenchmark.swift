import Foundation
import ShoalCore
import ShoalRepair
import ShoalTestKit

/// `shoal-bench antientropy`: requests and bytes of one repair round for a node holding many
/// objects, today's per-object FindValue confirmations beside the range exchange of ShoalRepair.
///
/// Pure and in memory, metadata only: a stable cluster of `--nodes` nodes with random IDs and
/// `r = --replicas`; node 0 holds each of `--objects` (its share of a uniformly spread
/// inventory, every object on its `r` closest nodes). Each record is tiny (one owner claim). For
/// every size it measures node 0's round:
/// - (a) today: one FindValue per held object per other replica (counted, not executed);
/// - (b) the exchange in the stable cluster: one session per co-holder over the shared ranges
///   (and, on its own line, node 0 answering each co-holder's session with it);
/// - (c) after one co-holder dies: the ranges it shared now have new holders that lack them;
///   counts the messages that find what to push (and what node 0 newly lacks);
/// - (d) after `--changed` percent of node 0's records changed (half a new owner claim, half a
///   tombstone), on node 0 only.
/// Bytes are the frames' encoded sizes under the proposed wire schema (ShellContract.md).
enum AntiEntropyBenchmark {
    struct Options {
        var objectCounts = [10_000, 100_000, 1_000_000]
        var nodes = 20
        var replicas = 3
        var seed: UInt64 = 1
        var changedPercent = 1.0
    }

    /// One round's cost for node 0 (more than one round when sessions reach their bounds).
    struct Round {
        var rounds = 0
        var requests = 0
        var bytes = 0
        /// Records the peers lack (node 0 pushes or shares them).
        var toPush = 0
        /// Records node 0 lacks (it learns them; a holder pushes the bytes).
        var toLearn = 0
        /// Records both have, in different versions.
        var differing = 0
        var failures: [String] = []

        var differences: Int { toPush + toLearn + differing }
    }

    static func run(_ options: Options) -> Int32 {
        print(
            "anti-entropy: \(options.nodes) nodes, r = \(options.replicas), node 0 holding N objects (metadata only, one owner claim each)"
        )
        print(
            "requests and bytes of node 0's repair round; bytes are encoded frame sizes; (a) is counted, not executed\n"
        )
        print(row("objects", "round", "requests", "bytes", "requests vs (a)", "bytes vs (a)", "found", "note"))
        var status: Int32 = 0
        var stableShare: [(Int, Double)] = []
        for count in options.objectCounts {
            let result = measure(objects: count, options: options)
            if !result.ok { status = 1 }
            stableShare.append((count, result.stableShare))
        }
        print("")
        for (count, share) in stableShare {
            let verdict = share < 0.01 ? "under" : "NOT under"
            print(
                "stable round at \(group(count)) objects: \(percent(share)) of today's requests, \(verdict) the 1% target"
            )
        }
        return status
    }

    // MARK: One size

    private static func measure(objects: Int, options: Options) -> (ok: Bool, stableShare: Double) {
        let started = ContinuousClock.now
        var rng = SeededRandom(seed: options.seed)
        let nodes = (0..<options.nodes).map { i in
            Contact(
                id: Key256.random(using: &rng), address: PeerAddress(host: "10.0.\(i / 250).\(i % 250 + 1)", port: 7000)
            )
        }
        let me = nodes[0].id
        let before = ResponsibilityMap(nodes: nodes.map(\.id), replicas: options.replicas)
        let sharedBefore = before.sharedRanges(of: me)
        // The co-holder that dies in (c): the one sharing the most ranges.
        let dying = sharedBefore.max { ($0.value.count, $1.key) < ($1.value.count, $0.key) }!.key
        let survivors = nodes.filter { $0.id != dying }
        let after = ResponsibilityMap(nodes: survivors.map(\.id), replicas: options.replicas)
        let mineBefore = ResponsibilityMap(nodes: nodes.map(\.id), replicas: options.replicas, restrictedTo: me)
        let mineAfter = ResponsibilityMap(nodes: survivors.map(\.id), replicas: options.replicas, restrictedTo: me)

        // Objects spread uniformly; keep those node 0 holds now or will hold once `dying` is gone.
        let owner = ObjectOwner(key: [0x04] + Array(repeating: 0x5A, count: 64))!
        let claims = [OwnerClaim(owner: owner, claimedAt: Timestamp(nanoseconds: 1_700_000_000_000_000_000))]
        var lists: [NodeID: [ObjectRecord]] = [:]
        var held = 0
        var baselineRequests = 0
        while held < objects {
            let id = Key256.random(using: &rng)
            let holdsNow = mineBefore.holders(of: id) != nil
            guard holdsNow || mineAfter.holders(of: id) != nil else { continue }
            let holders = before.holders(of: id)!
            let record = ObjectRecord(id: id, kind: .chunk, isStored: true, claims: claims)
            for h in holders { lists[h, default: []].append(record) }
            if holdsNow {
                held += 1
                baselineRequests += holders.count - 1
            }
        }
        var trees: [NodeID: RecordTree] = [:]
        for (id, list) in lists { trees[id] = RecordTree(records: list) }
        lists = [:]
        var mine = trees.removeValue(forKey: me)!

        // (a) today's round: FindValue { key } answered by ValueResult { held, size, replica }.
        let findValue = ExchangeWireSize.frame(bodyField: 7, body: 34)
        let valueResult = ExchangeWireSize.frame(bodyField: 8, body: 2 + 2 + 2)
        let baselineBytes = baselineRequests * (findValue + valueResult)

        // (b) stable, node 0's own sessions; and its answers to the co-holders' sessions with it.
        let stable = round(&mine, with: sharedBefore, trees: &trees)
        var answered = Round()
        for (peerID, ranges) in sharedBefore.sorted(by: { $0.key < $1.key }) {
            var peer = trees.removeValue(forKey: peerID) ?? RecordTree()
            var session = ExchangeSession(peer: nodes[0], ranges: ranges, horizon: peer.horizon)
            let run = LoopbackExchange.run(&session, local: &peer, peer: &mine)
            trees[peerID] = peer
            answered.requests += run.requests
            answered.bytes += run.requestBytes + run.answerBytes
            if case .failure(let failure) = run.outcome {
                answered.failures.append("\(peerID.short) asking: \(failure)")
            }
        }
        // (c) a co-holder dies: node 0 compares with the holders of its ranges among the survivors
        // (the dead node's tree is simply never asked).
        let death = round(&mine, with: after.sharedRanges(of: me), trees: &trees)
        // (d) back in the stable cluster, some of node 0's records change, on node 0 only.
        let changedIDs = changedRecords(&mine, percent: options.changedPercent, rng: &rng)
        let expected = changedIDs.reduce(0) { $0 + before.holders(of: $1)!.count - 1 }
        let changed = round(&mine, with: sharedBefore, trees: &trees)
        let elapsed = ContinuousClock.now - started

        let n = group(held)
        print(
            row(
                n, "(a) FindValue per object per replica", group(baselineRequests), bytes(baselineBytes), "100%",
                "100%", "", ""))
        print(
            row(
                "", "(b) stable cluster", group(stable.requests), bytes(stable.bytes),
                percent(Double(stable.requests) / Double(baselineRequests)),
                percent(Double(stable.bytes) / Double(baselineBytes)),
                "\(stable.differences) diffs", ""))
        print(
            row(
                "", "(b) stable, answering co-holders", group(answered.requests), bytes(answered.bytes),
                percent(Double(answered.requests) / Double(baselineRequests)),
                percent(Double(answered.bytes) / Double(baselineBytes)),
                "", ""))
        print(
            row(
                "", "(c) after a co-holder died", group(death.requests), bytes(death.bytes),
                percent(Double(death.requests) / Double(baselineRequests)),
                percent(Double(death.bytes) / Double(baselineBytes)),
                "\(group(death.toPush)) push, \(group(death.toLearn)) learn",
                death.rounds > 1 ? "\(death.rounds) rounds" : ""))
        print(
            row(
                "", "(d) after \(options.changedPercent)% changed", group(changed.requests), bytes(changed.bytes),
                percent(Double(changed.requests) / Double(baselineRequests)),
                percent(Double(changed.bytes) / Double(baselineBytes)),
                "\(group(changed.differing))/\(group(expected)) differing",
                String(format: "%.1f s in all", elapsed.inSeconds)))
        let failures = stable.failures + answered.failures + death.failures + changed.failures
        for f in failures { print("  session failed: \(f)") }
        let ok =
            failures.isEmpty && stable.differences == 0 && changed.differing == expected
            && changed.differences == expected
        if !ok { print("  MISMATCH: a stable round found differences, or not every changed record was found") }
        return (ok, Double(stable.requests) / Double(baselineRequests))
    }

    /// Node 0 runs one session with every peer over the ranges they share; where a session stops
    /// at its bounds, the next round resumes it over what it left unexplored, until all is
    /// compared. Records found missing are not copied meanwhile (the round only finds them).
    private static func round(
        _ mine: inout RecordTree, with shared: [NodeID: [KeyRange]], trees: inout [NodeID: RecordTree]
    ) -> Round {
        var result = Round()
        var pending = shared
        while !pending.isEmpty, result.rounds < 50 {
            result.rounds += 1
            var next: [NodeID: [KeyRange]] = [:]
            for (peerID, ranges) in pending.sorted(by: { $0.key < $1.key }) {
                var peer = trees.removeValue(forKey: peerID) ?? RecordTree()
                var session = ExchangeSession(
                    peer: Contact(id: peerID, address: PeerAddress(host: "10.0.0.1", port: 7000)),
                    ranges: ranges, horizon: mine.horizon)
                let run = LoopbackExchange.run(&session, local: &mine, peer: &peer)
                trees[peerID] = peer
                result.requests += run.requests
                result.bytes += run.requestBytes + run.answerBytes
                switch run.outcome {
                case .success(let outcome):
                    result.toPush += outcome.peerLacks.count + outcome.peerLacksRangeRecords
                    result.toLearn += outcome.weLack.count
                    result.differing += outcome.differing.count
                    if !outcome.isComplete { next[peerID] = outcome.unexplored }
                case .failure(let failure):
                    result.failures.append("\(peerID.short): \(failure)")
                }
            }
            pending = next
        }
        if !pending.isEmpty {
            result.failures.append("\(pending.count) sessions still incomplete after \(result.rounds) rounds")
        }
        return result
    }

    /// Changes `percent` of the records of `tree` in place: half get a second owner's claim, half
    /// a tombstone from their owner. Returns their IDs.
    private static func changedRecords(
        _ tree: inout RecordTree, percent: Double, rng: inout SeededRandom
    ) -> [ContentID] {
        let count = Int(Double(tree.count) * percent / 100)
        var all: [ObjectRecord] = []
        all.reserveCapacity(tree.count)
        tree.forEachRecord(in: .everything) { all.append($0) }
        let second = ObjectOwner(key: [0x04] + Array(repeating: 0x77, count: 64))!
        var ids: [ContentID] = []
        for (i, record) in all.shuffled(using: &rng).prefix(count).enumerated() {
            let changed =
                i % 2 == 0
                ? record.claiming(by: second, at: Timestamp(nanoseconds: 1_800_000_000_000_000_000))
                : record.deleting(
                    Tombstone(
                        owner: record.owners[0], deletedAt: Timestamp(nanoseconds: 1_800_000_000_000_000_000),
                        deleteID: Key256.sha256(of: record.id.bytes)))
            tree.upsert(changed)
            ids.append(record.id)
        }
        return ids
    }

    // MARK: Formatting

    private static func row(
        _ a: String, _ b: String, _ c: String, _ d: String, _ e: String, _ f: String, _ g: String, _ h: String
    ) -> String {
        func pad(_ s: String, _ n: Int, right: Bool = false) -> String {
            s.count >= n
                ? s
                : (right
                    ? String(repeating: " ", count: n - s.count) + s : s + String(repeating: " ", count: n - s.count))
        }
        return pad(a, 10, right: true) + "  " + pad(b, 38) + pad(c, 11, right: true) + pad(d, 11, right: true)
            + pad(e, 17, right: true) + pad(f, 14, right: true) + "  " + pad(g, 28) + pad(h, 12, right: true)
    }

    private static func group(_ n: Int) -> String {
        let digits = Array(String(n))
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return out
    }

    private static func bytes(_ n: Int) -> String {
        if n >= 1 << 20 { return String(format: "%.1f MiB", Double(n) / Double(1 << 20)) }
        if n >= 1 << 10 { return String(format: "%.1f KiB", Double(n) / Double(1 << 10)) }
        return "\(n) B"
    }

    private static func percent(_ share: Double) -> String {
        if share >= 0.1 { return String(format: "%.0f%%", share * 100) }
        if share >= 0.001 { return String(format: "%.2f%%", share * 100) }
        return String(format: "%.5f%%", share * 100)
    }

    /// `10000`, `10k`, `1M`.
    static func count(_ text: String) -> Int? {
        let lower = text.lowercased()
        if lower.hasSuffix("k") { return Int(lower.dropLast()).map { $0 * 1_000 } }
        if lower.hasSuffix("m") { return Int(lower.dropLast()).map { $0 * 1_000_000 } }
        return Int(lower)
    }
}
