import NIOConcurrencyHelpers
import ShoalCore

/// What the get path knows of each holder it fetches from: requests in flight, a window that
/// adapts to how the holder keeps up, and a running estimate of its throughput and latency.
///
/// A fetch asks ``choose(among:)`` for the holder expected to finish one more request soonest,
/// `(in flight + 1) / throughput`, preferring holders with room in their window; so requests spread
/// over every holder of a chunk in proportion to what each delivers. Each success widens the
/// holder's window by one request per window's worth of successes (up to ``maximumWindow``); a
/// failure or timeout halves it and marks the holder down for a while, so a slow or failing holder
/// loses its share without stalling the stream.
final class HolderBoard: Sendable {
    static let maximumWindow = 16
    /// How long a failed holder is tried only when no other holder is left.
    static let penalty: Duration = .seconds(10)

    struct Holder: Sendable {
        var inFlight = 0
        var window: Double = 4
        /// Bytes per second, smoothed.
        var throughput: Double = 200e6
        /// Seconds from request to answer, smoothed.
        var latency: Double = 0.005
        var downUntil: Timestamp?
        var failures = 0
        var successes = 0
    }

    private let holders = NIOLockedValueBox<[NodeID: Holder]>([:])
    /// The node's clock, which times this board's measurements and the hedges they set.
    let clock: NodeClock

    init(clock: NodeClock) {
        self.clock = clock
    }

    /// `candidates` ordered best first for one more request; holders not down come first.
    func rank(_ candidates: [Contact]) -> [Contact] {
        let now = clock.now
        return holders.withLockedValue { table in
            candidates.enumerated().sorted { a, b in
                let ha = table[a.element.id] ?? Holder()
                let hb = table[b.element.id] ?? Holder()
                let downA = ha.downUntil.map { $0 > now } ?? false
                let downB = hb.downUntil.map { $0 > now } ?? false
                if downA != downB { return !downA }
                let fullA = Double(ha.inFlight) >= ha.window
                let fullB = Double(hb.inFlight) >= hb.window
                if fullA != fullB { return !fullA }
                let scoreA = Double(ha.inFlight + 1) / ha.throughput
                let scoreB = Double(hb.inFlight + 1) / hb.throughput
                if scoreA != scoreB { return scoreA < scoreB }
                return a.offset < b.offset
            }.map(\.element)
        }
    }

    /// The most holders remembered; idle ones are forgotten first beyond it.
    static let capacity = 4096

    /// Records a request sent to `holder`.
    func started(_ holder: NodeID) {
        holders.withLockedValue { table in
            if table[holder] == nil, table.count >= Self.capacity {
                for (id, h) in table where h.inFlight == 0 {
                    table[id] = nil
                    if table.count < Self.capacity { break }
                }
            }
            table[holder, default: Holder()].inFlight += 1
        }
    }

    /// Records a request that delivered `bytes` after `elapsed`.
    func succeeded(_ holder: NodeID, bytes: Int, elapsed: Duration) {
        let seconds = max(elapsed.inSeconds, 1e-6)
        holders.withLockedValue { table in
            var h = table[holder, default: Holder()]
            h.inFlight = max(0, h.inFlight - 1)
            h.successes += 1
            h.failures = 0
            h.downUntil = nil
            h.latency = 0.8 * h.latency + 0.2 * seconds
            // Each request shares the link with the others in flight: scale by them.
            let observed = Double(bytes) * Double(max(1, h.inFlight + 1)) / seconds
            h.throughput = max(1e5, 0.8 * h.throughput + 0.2 * observed)
            h.window = min(Double(Self.maximumWindow), h.window + 1 / max(1, h.window))
            table[holder] = h
        }
    }

    /// Records a request that failed, timed out or delivered bad bytes.
    func failed(_ holder: NodeID) {
        let until = clock.now + Self.penalty
        holders.withLockedValue { table in
            var h = table[holder, default: Holder()]
            h.inFlight = max(0, h.inFlight - 1)
            h.failures += 1
            h.window = max(1, h.window / 2)
            h.throughput = max(1e5, h.throughput / 2)
            if h.failures >= 2 { h.downUntil = until }
            table[holder] = h
        }
    }

    /// Records a request abandoned because another holder answered first.
    func abandoned(_ holder: NodeID) {
        holders.withLockedValue { table in
            guard var h = table[holder] else { return }
            h.inFlight = max(0, h.inFlight - 1)
            table[holder] = h
        }
    }

    /// How long to wait for `holder` before asking a second one too: a few times its usual
    /// latency, never less than 50 ms.
    func hedgeDelay(for holder: NodeID) -> Duration {
        let latency = holders.withLockedValue { $0[holder]?.latency } ?? 0.05
        return .nanoseconds(Int64(max(0.05, 4 * latency) * 1e9))
    }

    /// The current estimate for `holder` (for tests and status).
    func holder(_ id: NodeID) -> Holder? { holders.withLockedValue { $0[id] } }
}
