import DequeModule
import Foundation
import ShoalCore

/// Updates waiting to be piggybacked (SWIM section 4.1, infection-style dissemination).
///
/// Holds at most one update per member (a newer one replaces an older one and starts afresh) and
/// at most ``capacity`` updates in all. Each outgoing message takes the most urgent updates
/// first (``GossipPriority``), and within a priority the least-transmitted, newest first; an
/// update is dropped after `λ · ceil(log10(n + 1))` transmissions, which suffices for it to
/// reach every member with high probability. When full, the least urgent update sent most often
/// makes room, unless the newcomer is less urgent still, which is then dropped.
///
/// Updates are kept in buckets by priority and transmission count, each bucket in arrival order,
/// so taking `k` updates costs `O(k log m)` rather than a sort of the whole queue.
struct GossipQueue: Hashable, Sendable {
    private struct Entry: Hashable, Sendable {
        var update: MemberUpdate
        var priority: GossipPriority
        var transmissions: Int
        var sequence: UInt64
    }

    private struct Ticket: Hashable, Sendable {
        var sequence: UInt64
        var id: NodeKey
    }

    private var entries: [NodeKey: Entry] = [:]
    /// `buckets[p · bucketsPerPriority + t]`: the updates of priority `p` sent `t` times, by ascending
    /// sequence (oldest first). One level of arrays, which unoptimised builds handle much faster
    /// than nested ones.
    private var buckets: [Deque<Ticket>] = Array(
        repeating: [], count: GossipPriority.allCases.count * GossipQueue.bucketsPerPriority)
    /// Transmission counts tracked per priority; an update sent this often is dropped regardless
    /// of the limit asked for (λ · log10(n + 1) stays far below it).
    private static let bucketsPerPriority = 64
    /// No update has been sent more often than this (a bound for the scans of `take`).
    private var highestTransmissions = 0
    private var nextSequence: UInt64 = 0
    /// The most updates held.
    let capacity: Int
    /// Updates evicted because the queue was full.
    private(set) var evictions = 0

    init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    var count: Int { entries.count }

    /// Pending updates of `priority` or more urgent.
    func count(atLeast priority: GossipPriority) -> Int {
        var total = 0
        for index in 0..<((priority.rawValue + 1) * Self.bucketsPerPriority) { total += buckets[index].count }
        return total
    }

    /// Queues `update`, replacing any pending update about the same member; when the queue is
    /// full, evicts the least urgent, most sent update, or drops `update` if it is less urgent.
    mutating func enqueue(_ update: MemberUpdate, priority: GossipPriority) {
        guard capacity > 0 else { return }
        let id = NodeKey(update.member.id)
        if let old = entries[id] {
            removeTicket(sequence: old.sequence, from: old.priority, old.transmissions)
        } else if entries.count >= capacity {
            guard evictLeastUrgent(comparedWith: priority) else {
                evictions += 1
                return
            }
        }
        nextSequence += 1
        entries[id] = Entry(update: update, priority: priority, transmissions: 0, sequence: nextSequence)
        buckets[priority.rawValue * Self.bucketsPerPriority].append(Ticket(sequence: nextSequence, id: id))
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
        let limit = min(max(1, limit), Self.bucketsPerPriority)
        var picked: [Pick] = []
        picked.reserveCapacity(maximum)
        for priority in 0..<GossipPriority.allCases.count where picked.count < maximum {
            for transmissions in 0...highestTransmissions where picked.count < maximum {
                let bucket = priority * Self.bucketsPerPriority + transmissions
                if buckets[bucket].isEmpty { continue }
                if transmissions >= limit {
                    dropBucket(bucket)
                    continue
                }
                var index = buckets[bucket].count - 1
                candidates: while index >= 0, picked.count < maximum {
                    let id = buckets[bucket][index].id.id
                    index -= 1
                    for other in excluded where other.hasSameWords(as: id) { continue candidates }
                    picked.append(Pick(bucket: bucket, index: index + 1))
                }
            }
        }
        var out: [MemberUpdate] = []
        out.reserveCapacity(picked.count)
        for pick in picked { out.append(entries[buckets[pick.bucket][pick.index].id]!.update) }
        // Move the picked tickets up one bucket: highest bucket first, and within a bucket highest
        // index first, so that the indices still to be moved stay valid.
        for pick in picked.sorted(by: Pick.movesBefore) {
            let ticket = buckets[pick.bucket].remove(at: pick.index)
            let sent = pick.bucket % Self.bucketsPerPriority + 1
            if sent >= limit {
                entries[ticket.id] = nil
            } else {
                entries[ticket.id]!.transmissions = sent
                insertTicket(ticket, into: pick.bucket + 1)
            }
        }
        return out
    }

    /// A ticket chosen for a message: where it sits.
    private struct Pick {
        var bucket: Int
        var index: Int

        /// Moving order: higher bucket first, then higher index first.
        static func movesBefore(_ a: Pick, _ b: Pick) -> Bool {
            a.bucket != b.bucket ? a.bucket > b.bucket : a.index > b.index
        }
    }

    /// How often the pending update about `id` has been sent, or `nil` when none is pending.
    func transmissions(of id: NodeID) -> Int? { entries[NodeKey(id)]?.transmissions }

    /// The pending update about `id`.
    func pending(_ id: NodeID) -> MemberUpdate? { entries[NodeKey(id)]?.update }

    // MARK: Buckets

    /// Evicts the least urgent, most sent, oldest update, unless it is more urgent than `priority`.
    /// - Returns: `false` when nothing was evicted.
    private mutating func evictLeastUrgent(comparedWith priority: GossipPriority) -> Bool {
        for least in stride(from: GossipPriority.allCases.count - 1, through: 0, by: -1) {
            for transmissions in stride(from: highestTransmissions, through: 0, by: -1) {
                let bucket = least * Self.bucketsPerPriority + transmissions
                guard !buckets[bucket].isEmpty else { continue }
                guard least >= priority.rawValue else { return false }
                let ticket = buckets[bucket].removeFirst()
                entries[ticket.id] = nil
                evictions += 1
                return true
            }
        }
        return false
    }

    private mutating func dropBucket(_ bucket: Int) {
        for ticket in buckets[bucket] { entries[ticket.id] = nil }
        buckets[bucket].removeAll()
    }

    private mutating func removeTicket(sequence: UInt64, from priority: GossipPriority, _ transmissions: Int) {
        let bucket = priority.rawValue * Self.bucketsPerPriority + transmissions
        let index = Self.insertionIndex(of: sequence, in: buckets[bucket])
        if index < buckets[bucket].count, buckets[bucket][index].sequence == sequence {
            buckets[bucket].remove(at: index)
        }
    }

    private mutating func insertTicket(_ ticket: Ticket, into bucket: Int) {
        highestTransmissions = max(highestTransmissions, bucket % Self.bucketsPerPriority)
        let index = Self.insertionIndex(of: ticket.sequence, in: buckets[bucket])
        buckets[bucket].insert(ticket, at: index)
    }

    /// The first index whose sequence is not below `sequence` (binary search).
    private static func insertionIndex(of sequence: UInt64, in tickets: Deque<Ticket>) -> Int {
        var low = 0
        var high = tickets.count
        while low < high {
            let middle = (low + high) / 2
            if tickets[middle].sequence < sequence { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
