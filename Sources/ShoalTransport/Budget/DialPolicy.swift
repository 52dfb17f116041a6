import DequeModule
import NIOConcurrencyHelpers
import NIOCore
import ShoalCore

/// Which addresses this node may dial, so that a listen address someone else named (in a Hello,
/// in gossip) cannot turn the node into a reflector aimed at a third party:
/// - dials of addresses not proven are budgeted (a token bucket: a burst, then a steady rate);
/// - an address whose certificate once named another node is never dialled again for a
///   different NodeID (it proved to be someone else);
/// - an address that could not be reached is not retried before a backoff (doubling, at most
///   five minutes).
/// Addresses this node dialled successfully for a NodeID are proven and cost nothing.
final class DialPolicy: Sendable {
    private struct Backoff {
        var until: NIODeadline
        var failures: Int
    }

    private struct State {
        var tokens: Double
        var refilledAt: NIODeadline
        var owners: [PeerAddress: NodeID] = [:]
        var ownerOrder = Deque<PeerAddress>()
        var backoff: [PeerAddress: Backoff] = [:]
        var refused = 0
    }

    private let state: NIOLockedValueBox<State>
    let burst: Double
    let rate: Double
    static let capacity = 8192
    static let maximumBackoff = TimeAmount.minutes(5)

    init(burst: Int, perSecond: Int) {
        self.burst = Double(max(1, burst))
        self.rate = Double(max(1, perSecond))
        self.state = NIOLockedValueBox(State(tokens: Double(max(1, burst)), refilledAt: .now()))
    }

    /// Dials refused so far.
    var refusals: Int { state.withLockedValue { $0.refused } }

    /// Whether dialling `address` to reach `expected` is allowed now (takes a token when needed).
    /// - Returns: `nil` when allowed, else why not.
    func permit(_ address: PeerAddress, expecting expected: NodeID?, budgeted: Bool) -> String? {
        let now = NIODeadline.now()
        return state.withLockedValue { s in
            if let owner = s.owners[address] {
                if expected == nil || expected == owner { return nil }
                s.refused += 1
                return "\(address) belongs to \(owner.short), not \(expected!.short)"
            }
            if budgeted, let wait = s.backoff[address], wait.until > now {
                s.refused += 1
                return "\(address) was unreachable; not retried for a while"
            }
            guard budgeted else { return nil }
            let elapsed = Double((now - s.refilledAt).nanoseconds) / 1e9
            s.tokens = min(burst, s.tokens + elapsed * rate)
            s.refilledAt = now
            guard s.tokens >= 1 else {
                s.refused += 1
                return "too many dials of unproven addresses; \(address) not dialled"
            }
            s.tokens -= 1
            return nil
        }
    }

    /// The peer at `address` proved to be `id` (its certificate said so).
    func proved(_ address: PeerAddress, is id: NodeID) {
        state.withLockedValue { s in
            s.backoff[address] = nil
            if s.owners.updateValue(id, forKey: address) == nil {
                s.ownerOrder.append(address)
                if s.ownerOrder.count > Self.capacity { s.owners[s.ownerOrder.removeFirst()] = nil }
            }
        }
    }

    /// A dial of `address` failed (unreachable, refused, timed out).
    func failed(_ address: PeerAddress) {
        state.withLockedValue { s in
            let failures = (s.backoff[address]?.failures ?? 0) + 1
            let delay = min(TimeAmount.seconds(1 << min(failures, 8)), Self.maximumBackoff)
            s.backoff[address] = Backoff(until: .now() + delay, failures: failures)
            if s.backoff.count > Self.capacity {
                let now = NIODeadline.now()
                s.backoff = s.backoff.filter { $0.value.until > now }
            }
        }
    }
}
