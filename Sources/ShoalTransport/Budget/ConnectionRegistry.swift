import NIOConcurrencyHelpers
import NIOCore

/// Every open peer connection, with what admission needs to know of it: whether it finished its
/// handshake, when it was last active, whether anything is in flight on it, and whether this node
/// ever asked it something (a connection this node uses is worth more than one that only ever
/// sent requests).
///
/// At the connection limit a new connection evicts the least useful idle one; at the handshake
/// limit it evicts the oldest half-open one. So neither idle nor half-open connections can keep
/// real peers, or a new node joining through this one, out. Below the limit, a new connection that
/// takes the count over the high watermark trims idle connections down to the low watermark, so the
/// connections a node holds follow what it uses, not the size of the cluster.
final class ConnectionRegistry: Sendable {
    struct Entry: Sendable {
        let channel: any Channel
        var handshaken = false
        var openedAt: NIODeadline
        var lastActive: NIODeadline
        var busy = 0
        var usedByUs = false
    }

    private struct State {
        var entries: [ObjectIdentifier: Entry] = [:]
        var handshaking = 0
        var evictedIdle = 0
        var evictedHalfOpen = 0
        var refused = 0
        var trimmed = 0
    }

    private let state = NIOLockedValueBox(State())
    let maximumConnections: Int
    let maximumHandshaking: Int
    /// A connection counts as idle after this long without activity.
    static let quietBeforeEviction = TimeAmount.seconds(1)

    let lowWater: Int
    let highWater: Int
    let trimGrace: TimeAmount

    init(
        maximumConnections: Int, maximumHandshaking: Int, lowWater: Int = .max, highWater: Int = .max,
        trimGrace: TimeAmount = .seconds(10)
    ) {
        self.maximumConnections = max(1, maximumConnections)
        self.maximumHandshaking = max(1, maximumHandshaking)
        self.highWater = max(1, highWater)
        self.lowWater = min(max(1, lowWater), self.highWater)
        self.trimGrace = trimGrace
    }

    /// Open connections, of them still handshaking, and evictions, refusals and trims so far.
    var statistics: (open: Int, handshaking: Int, evictedIdle: Int, evictedHalfOpen: Int, refused: Int, trimmed: Int) {
        state.withLockedValue {
            ($0.entries.count, $0.handshaking, $0.evictedIdle, $0.evictedHalfOpen, $0.refused, $0.trimmed)
        }
    }

    /// Least useful first: connections this node never used, then the longest quiet.
    private static func lessUseful(_ a: Entry, _ b: Entry) -> Bool {
        a.usedByUs != b.usedByUs ? !a.usedByUs : a.lastActive < b.lastActive
    }

    /// Admits a new connection, closing another to make room if needed.
    /// - Returns: `false` when there is no room (close `channel`).
    func admit(_ channel: any Channel) -> Bool {
        let now = NIODeadline.now()
        var victims: [any Channel] = []
        let admitted = state.withLockedValue { s -> Bool in
            if s.handshaking >= maximumHandshaking,
                let oldest = s.entries.filter({ !$0.value.handshaken }).min(by: {
                    $0.value.openedAt < $1.value.openedAt
                })
            {
                s.entries[oldest.key] = nil
                s.handshaking -= 1
                s.evictedHalfOpen += 1
                victims.append(oldest.value.channel)
            }
            if s.entries.count >= maximumConnections {
                let idle = s.entries.filter {
                    $0.value.handshaken && $0.value.busy == 0 && now - $0.value.lastActive >= Self.quietBeforeEviction
                }
                guard let victim = idle.min(by: { Self.lessUseful($0.value, $1.value) }) else {
                    s.refused += 1
                    return false
                }
                s.entries[victim.key] = nil
                s.evictedIdle += 1
                victims.append(victim.value.channel)
            }
            s.entries[ObjectIdentifier(channel)] = Entry(channel: channel, openedAt: now, lastActive: now)
            s.handshaking += 1
            if s.entries.count > highWater {
                let excess = s.entries.count - lowWater
                let idle = s.entries.filter {
                    $0.value.handshaken && $0.value.busy == 0 && now - $0.value.lastActive >= trimGrace
                }
                for victim in idle.sorted(by: { Self.lessUseful($0.value, $1.value) }).prefix(excess) {
                    s.entries[victim.key] = nil
                    s.trimmed += 1
                    victims.append(victim.value.channel)
                }
            }
            return true
        }
        for victim in victims { victim.close(promise: nil) }
        return admitted
    }

    func handshakeCompleted(_ channel: any Channel) {
        state.withLockedValue { s in
            guard var entry = s.entries[ObjectIdentifier(channel)], !entry.handshaken else { return }
            entry.handshaken = true
            entry.lastActive = .now()
            s.entries[ObjectIdentifier(channel)] = entry
            s.handshaking -= 1
        }
    }

    /// Records activity; `busy` counts requests in flight either way.
    func update(_ channel: any Channel, busy: Int, usedByUs: Bool) {
        state.withLockedValue { s in
            let key = ObjectIdentifier(channel)
            guard var entry = s.entries[key] else { return }
            entry.lastActive = .now()
            entry.busy = busy
            entry.usedByUs = entry.usedByUs || usedByUs
            s.entries[key] = entry
        }
    }

    func remove(_ channel: any Channel) {
        state.withLockedValue { s in
            guard let entry = s.entries.removeValue(forKey: ObjectIdentifier(channel)) else { return }
            if !entry.handshaken { s.handshaking -= 1 }
        }
    }
}
