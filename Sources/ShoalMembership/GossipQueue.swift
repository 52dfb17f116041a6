import Foundation
import ShoalCore

/// Updates waiting to be piggybacked (SWIM section 4.1, infection-style dissemination).
///
/// Holds at most one update per member (a newer one replaces an older one and starts afresh).
/// Each outgoing message takes the least-transmitted updates first, newest first among equals;
/// an update is dropped after `λ · ceil(log10(n + 1))` transmissions, which suffices for it to
/// reach every member with high probability.
struct GossipQueue: Hashable, Sendable {
    private struct Entry: Hashable, Sendable {
        var update: MemberUpdate
        var transmissions: Int
        var sequence: UInt64
    }

    private var entries: [NodeID: Entry] = [:]
    private var nextSequence: UInt64 = 0

    var count: Int { entries.count }

    /// Queues `update`, replacing any pending update about the same member.
    mutating func enqueue(_ update: MemberUpdate) {
        nextSequence += 1
        entries[update.member.id] = Entry(update: update, transmissions: 0, sequence: nextSequence)
    }

    /// The transmission limit for a cluster of `memberCount` live members.
    static func transmissionLimit(memberCount: Int, multiplier: Double) -> Int {
        let scale = ceil(log10(Double(max(1, memberCount) + 1)))
        return max(1, Int((multiplier * scale).rounded(.up)))
    }

    /// Takes up to `maximum` updates for one message, counting one transmission for each, and
    /// drops updates that reached `limit` transmissions.
    mutating func take(maximum: Int, limit: Int, excluding excluded: Set<NodeID> = []) -> [MemberUpdate] {
        guard maximum > 0, !entries.isEmpty else { return [] }
        let chosen = entries.values
            .filter { !excluded.contains($0.update.member.id) }
            .sorted { a, b in
                a.transmissions != b.transmissions ? a.transmissions < b.transmissions : a.sequence > b.sequence
            }
            .prefix(maximum)
        var out: [MemberUpdate] = []
        out.reserveCapacity(chosen.count)
        for entry in chosen {
            out.append(entry.update)
            let id = entry.update.member.id
            if entry.transmissions + 1 >= limit {
                entries[id] = nil
            } else {
                entries[id]?.transmissions += 1
            }
        }
        return out
    }

    /// How often the pending update about `id` has been sent, or `nil` when none is pending.
    func transmissions(of id: NodeID) -> Int? { entries[id]?.transmissions }
}
