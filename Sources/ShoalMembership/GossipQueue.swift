import Foundation
import ShoalCore

/// Updates waiting to be piggybacked (SWIM section 4.1, infection-style dissemination).
///
/// Holds at most one update per member (a newer one replaces an older one and starts afresh) and
/// at most ``capacity`` updates in all: when full, a new update evicts the one sent most often
/// (the oldest among those), whose news has travelled furthest already. Each outgoing message
/// takes the least-transmitted updates first, newest first among equals; an update is dropped
/// after `λ · ceil(log10(n + 1))` transmissions, which suffices for it to reach every member with
/// high probability.
///
/// Updates are kept in buckets by transmission count, each bucket in arrival order, so taking
/// `k` updates costs `O(k log m)` rather than a sort of the whole queue.
struct GossipQueue: Hashable, Sendable {
    private struct Entry: Hashable, Sendable {
        var update: MemberUpdate
        var transmissions: Int
        var sequence: UInt64
    }

    private struct Ticket: Hashable, Sendable {
        var sequence: UInt64
        var id: NodeID
    }

    private var entries: [NodeID: Entry] = [:]
    /// `buckets[t]`: the updates sent `t` times, by ascending sequence (oldest first).
    private var buckets: [[Ticket]] = []
    private var nextSequence: UInt64 = 0
    /// The most updates held.
    let capacity: Int
    /// Updates evicted because the queue was full.
    private(set) var evictions = 0

    init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    var count: Int { entries.count }

    /// Queues `update`, replacing any pending update about the same member; evicts the most sent
    /// update when the queue is full.
    mutating func enqueue(_ update: MemberUpdate) {
        guard capacity > 0 else { return }
        let id = update.member.id
        if let old = entries[id] {
            removeTicket(sequence: old.sequence, from: old.transmissions)
        } else if entries.count >= capacity {
            evictMostSent()
        }
        nextSequence += 1
        entries[id] = Entry(update: update, transmissions: 0, sequence: nextSequence)
        if buckets.isEmpty { buckets.append([]) }
        buckets[0].append(Ticket(sequence: nextSequence, id: id))
    }

    /// The transmission limit for a cluster of `memberCount` live members.
    static func transmissionLimit(memberCount: Int, multiplier: Double) -> Int {
        let scale = ceil(log10(Double(max(1, memberCount) + 1)))
        return max(1, Int((multiplier * scale).rounded(.up)))
    }

    /// Takes up to `maximum` updates for one message, counting one transmission for each, and
    /// drops updates that reached `limit` transmissions.
    mutating func take(maximum: Int, limit: Int, excluding excluded: [NodeID] = []) -> [MemberUpdate] {
        guard maximum > 0, !entries.isEmpty else { return [] }
        var picked: [(bucket: Int, index: Int)] = []
        for bucket in buckets.indices where picked.count < maximum {
            if bucket >= limit {
                dropBucket(bucket)
                continue
            }
            var index = buckets[bucket].count - 1
            while index >= 0, picked.count < maximum {
                let id = buckets[bucket][index].id
                if !excluded.contains(where: { $0.hasSameWords(as: id) }) { picked.append((bucket, index)) }
                index -= 1
            }
        }
        var out: [MemberUpdate] = []
        out.reserveCapacity(picked.count)
        for (bucket, index) in picked { out.append(entries[buckets[bucket][index].id]!.update) }
        // Move the picked tickets up one bucket: highest bucket first, and within a bucket highest
        // index first, so that the indices still to be moved stay valid.
        let moves = picked.sorted { $0.bucket != $1.bucket ? $0.bucket > $1.bucket : $0.index > $1.index }
        for (bucket, index) in moves {
            let ticket = buckets[bucket].remove(at: index)
            if bucket + 1 >= limit {
                entries[ticket.id] = nil
            } else {
                entries[ticket.id]!.transmissions = bucket + 1
                insertTicket(ticket, into: bucket + 1)
            }
        }
        return out
    }

    /// How often the pending update about `id` has been sent, or `nil` when none is pending.
    func transmissions(of id: NodeID) -> Int? { entries[id]?.transmissions }

    /// The pending update about `id`.
    func pending(_ id: NodeID) -> MemberUpdate? { entries[id]?.update }

    // MARK: Buckets

    private mutating func evictMostSent() {
        guard let bucket = buckets.lastIndex(where: { !$0.isEmpty }) else { return }
        let ticket = buckets[bucket].removeFirst()
        entries[ticket.id] = nil
        evictions += 1
    }

    private mutating func dropBucket(_ bucket: Int) {
        for ticket in buckets[bucket] { entries[ticket.id] = nil }
        buckets[bucket].removeAll()
    }

    private mutating func removeTicket(sequence: UInt64, from bucket: Int) {
        let index = Self.insertionIndex(of: sequence, in: buckets[bucket])
        if index < buckets[bucket].count, buckets[bucket][index].sequence == sequence {
            buckets[bucket].remove(at: index)
        }
    }

    private mutating func insertTicket(_ ticket: Ticket, into bucket: Int) {
        while buckets.count <= bucket { buckets.append([]) }
        let index = Self.insertionIndex(of: ticket.sequence, in: buckets[bucket])
        buckets[bucket].insert(ticket, at: index)
    }

    /// The first index whose sequence is not below `sequence` (binary search).
    private static func insertionIndex(of sequence: UInt64, in tickets: [Ticket]) -> Int {
        var low = 0
        var high = tickets.count
        while low < high {
            let middle = (low + high) / 2
            if tickets[middle].sequence < sequence { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
