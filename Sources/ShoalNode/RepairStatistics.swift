import Foundation
import NIOConcurrencyHelpers
import ShoalCore
import ShoalRepair

/// What repair has done since the node started, and what its last round left (for `/metrics`
/// and `/v1/status`).
struct RepairStatistics: Sendable {
    var rounds = 0
    var lastRound: Duration = .zero
    var exchanges = 0
    var answered = 0
    var exchangeRequests = 0
    var exchangeBytes = 0
    var differences = 0
    var failures: [String: Int] = [:]
    var recordsLearned = 0
    var recordsRefused = 0
    var recordsShared = 0
    var deletesVerified = 0
    var deleteFetchFailures = 0
    var tombstonesRefused = 0
    var tombstonesExpired = 0
    var settled = 0
    var released = 0
    var pushed = 0
    var dropped = 0
    var discarded = 0
    // Left by the last round.
    var backlog = 0
    var backlogBytes = 0
    var awaitingEvidence = 0
    var inFlight = 0
    var unexploredRanges = 0
    /// Unexplored ranges per peer, from each peer's last exchange.
    var unexploredByPeer: [NodeID: Int] = [:]
    var lastSynchronized: Timestamp?

    mutating func absorb(_ outcome: ExchangeOutcome) {
        exchanges += 1
        exchangeRequests += outcome.requests
        exchangeBytes += outcome.bytes
        differences += outcome.differenceCount + outcome.peerLacksRangeRecords
        unexploredByPeer[outcome.peer] = outcome.unexplored.count
        unexploredRanges = unexploredByPeer.values.reduce(0, +)
    }

    mutating func failed(_ failure: ExchangeFailure) {
        failures[failure.code.description, default: 0] += 1
    }

    mutating func finishRound(_ totals: RoundTotals, inFlight: Int) {
        backlog = totals.backlog
        backlogBytes = totals.backlogBytes
        awaitingEvidence = totals.awaitingEvidence
        self.inFlight = inFlight
    }
}

/// The repair section of `/v1/status` and `shoal status`.
public struct RepairStatus: Codable, Sendable {
    /// Records kept (objects held, and objects known by their claims or tombstones only).
    public var records: Int
    /// Live tombstones.
    public var tombstones: Int
    /// Objects quarantined: held unchecked, neither served nor pushed until their other holders
    /// confirm them.
    public var quarantined: Int
    /// Replicas held since before the last start and not served yet: withheld until an exchange
    /// with their other holders has brought any Delete missed while the node was down.
    public var withheld: Int
    /// Whether the records are still being loaded (exchanges are refused meanwhile).
    public var loading: Bool
    /// Pushes needed but held back by the bandwidth bounds in the last round, and their bytes.
    public var backlog: Int
    public var backlogBytes: Int
    /// Pushes sent and not yet acknowledged.
    public var pushesInFlight: Int
    /// Objects with a responsible node no exchange has told about yet.
    public var awaitingEvidence: Int
    /// Key ranges the last exchanges left unexplored (compared again next round).
    public var unexploredRanges: Int
    public var rounds: Int
    public var exchanges: Int
    public var exchangesAnswered: Int
    public var exchangeFailures: [String: Int]
    public var exchangeRequests: Int
    public var exchangeBytes: Int
    public var differences: Int
    public var recordsLearned: Int
    /// Records peers offered that were not kept (claims alone for unknown objects, or too many
    /// owner entries).
    public var recordsRefused: Int
    public var recordsShared: Int
    public var deletesVerified: Int
    public var tombstonesRefused: Int
    public var tombstonesExpired: Int
    public var pushed: Int
    public var dropped: Int
    public var discarded: Int
    public var settled: Int
    /// When the records were last known in step with the co-holders (ISO 8601), if ever.
    public var lastSynchronized: String?
    /// Tombstones deleted before this expire (ISO 8601); `nil` before any has.
    public var horizon: String?
    /// How long tombstones are kept, and the longest absence after which a node rejoins with
    /// its objects unquarantined, in seconds.
    public var tombstoneGraceSeconds: Int64
    public var rejoinBoundSeconds: Int64

    init(
        statistics s: RepairStatistics, records: Int, tombstones: Int, quarantined: Int, withheld: Int,
        horizon: TombstoneHorizon,
        policy: TombstonePolicy, loading: Bool
    ) {
        self.records = records
        self.tombstones = tombstones
        self.quarantined = quarantined
        self.withheld = withheld
        self.loading = loading
        backlog = s.backlog
        backlogBytes = s.backlogBytes
        pushesInFlight = s.inFlight
        awaitingEvidence = s.awaitingEvidence
        unexploredRanges = s.unexploredRanges
        rounds = s.rounds
        exchanges = s.exchanges
        exchangesAnswered = s.answered
        exchangeFailures = s.failures
        exchangeRequests = s.exchangeRequests
        exchangeBytes = s.exchangeBytes
        differences = s.differences
        recordsLearned = s.recordsLearned
        recordsRefused = s.recordsRefused
        recordsShared = s.recordsShared
        deletesVerified = s.deletesVerified
        tombstonesRefused = s.tombstonesRefused
        tombstonesExpired = s.tombstonesExpired
        pushed = s.pushed
        dropped = s.dropped
        discarded = s.discarded
        settled = s.settled
        lastSynchronized = s.lastSynchronized.map(Self.iso)
        self.horizon = horizon == .origin ? nil : Self.iso(horizon.cutoff)
        tombstoneGraceSeconds = policy.grace.components.seconds
        rejoinBoundSeconds = policy.rejoinBound.components.seconds
    }

    private static func iso(_ t: Timestamp) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(t.nanoseconds) / 1e9))
    }

    /// Prometheus counters and gauges.
    var metrics: (totals: [(String, Int64)], gauges: [(String, [(String, String)], Double)]) {
        let totals: [(String, Int64)] = [
            ("shoal_repair_exchanges_total", Int64(exchanges)),
            ("shoal_repair_exchanges_answered_total", Int64(exchangesAnswered)),
            ("shoal_repair_exchange_requests_total", Int64(exchangeRequests)),
            ("shoal_repair_exchange_bytes_total", Int64(exchangeBytes)),
            ("shoal_repair_exchange_differences_total", Int64(differences)),
            ("shoal_repair_records_learned_total", Int64(recordsLearned)),
            ("shoal_repair_records_refused_total", Int64(recordsRefused)),
            ("shoal_repair_records_shared_total", Int64(recordsShared)),
            ("shoal_repair_deletes_verified_total", Int64(deletesVerified)),
            ("shoal_repair_tombstones_refused_total", Int64(tombstonesRefused)),
            ("shoal_repair_tombstones_expired_total", Int64(tombstonesExpired)),
            ("shoal_repair_discards_total", Int64(discarded)),
            ("shoal_repair_settled_total", Int64(settled)),
        ]
        var gauges: [(String, [(String, String)], Double)] = [
            ("shoal_repair_records", [], Double(records)),
            ("shoal_repair_tombstones", [], Double(tombstones)),
            ("shoal_repair_quarantined", [], Double(quarantined)),
            ("shoal_repair_withheld", [], Double(withheld)),
            ("shoal_repair_awaiting_evidence", [], Double(awaitingEvidence)),
            ("shoal_repair_unexplored_ranges", [], Double(unexploredRanges)),
            ("shoal_repair_pushes_in_flight", [], Double(pushesInFlight)),
            ("shoal_repair_backlog_bytes", [], Double(backlogBytes)),
        ]
        // Failures by reason, as a gauge of the running count per code (a labelled total).
        for (code, count) in exchangeFailures.sorted(by: { $0.key < $1.key }) {
            gauges.append(
                (
                    "shoal_repair_exchange_failures", [("code", code.replacingOccurrences(of: " ", with: "_"))],
                    Double(count)
                ))
        }
        return (totals, gauges)
    }
}

/// Wakes a waiting loop: a signal before the wait is kept, several collapse into one.
final class RoundSignal: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
    }
    private let state = NIOLockedValueBox(State())

    func signal() {
        let waiter = state.withLockedValue { s -> CheckedContinuation<Void, Never>? in
            guard let w = s.waiter else {
                s.pending = true
                return nil
            }
            s.waiter = nil
            return w
        }
        waiter?.resume()
    }

    /// Returns at the next signal (or at once for one that came since the last wait), or when the
    /// task is cancelled.
    func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLockedValue { s -> Bool in
                    if s.pending || Task.isCancelled {
                        s.pending = false
                        return true
                    }
                    s.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            state.withLockedValue { s -> CheckedContinuation<Void, Never>? in
                defer { s.waiter = nil }
                return s.waiter
            }?.resume()
        }
    }
}
