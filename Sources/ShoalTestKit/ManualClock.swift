import NIOConcurrencyHelpers
import ShoalCore

/// A clock that moves only when a test says so.
///
/// One instance is shared by everything that reads it: the pure cores take its `now`, and a node
/// built on it (through `NodeClock`) waits on it with ``sleep(for:)``, so a node's timers fire when
/// the test calls ``advance(by:)`` and never on their own. ``sleepers`` tells a test how many
/// waits are parked, so it can let the woken work settle before it looks.
public final class ManualClock: Sendable {
    private struct Sleeper {
        var deadline: Timestamp
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now: Timestamp
        var nextTicket: UInt64 = 0
        var sleepers: [UInt64: Sleeper] = [:]
        /// Tickets whose task was cancelled before their continuation was registered.
        var cancelledEarly: Set<UInt64> = []
    }

    private let state: NIOLockedValueBox<State>

    public init(start: Timestamp = .zero) {
        state = NIOLockedValueBox(State(now: start))
    }

    /// The time now.
    public var now: Timestamp { state.withLockedValue { $0.now } }

    /// How many waits are parked on this clock.
    public var sleepers: Int { state.withLockedValue { $0.sleepers.count } }

    /// The earliest deadline of a parked wait, if any.
    public var nextDeadline: Timestamp? { state.withLockedValue { $0.sleepers.values.map(\.deadline).min() } }

    /// Waits until the clock has been advanced by `duration` (at once when it is not positive).
    /// - Throws: `CancellationError` when the task is cancelled first.
    public func sleep(for duration: Duration) async throws {
        try Task.checkCancellation()
        let ticket = state.withLockedValue { state -> UInt64 in
            defer { state.nextTicket += 1 }
            return state.nextTicket
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resume: Result<Void, any Error>? = state.withLockedValue { state in
                    if state.cancelledEarly.remove(ticket) != nil { return .failure(CancellationError()) }
                    let deadline = state.now + duration
                    if deadline <= state.now { return .success(()) }
                    state.sleepers[ticket] = Sleeper(deadline: deadline, continuation: continuation)
                    return nil
                }
                if let resume { continuation.resume(with: resume) }
            }
        } onCancel: {
            let sleeper = state.withLockedValue { state -> Sleeper? in
                if let sleeper = state.sleepers.removeValue(forKey: ticket) { return sleeper }
                state.cancelledEarly.insert(ticket)
                return nil
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves the clock forward by `duration` and wakes every wait that is then due, earliest first.
    public func advance(by duration: Duration) {
        precondition(duration >= .zero, "a ManualClock never goes back")
        let due = state.withLockedValue { state -> [Sleeper] in
            state.now = state.now + duration
            let now = state.now
            let due = state.sleepers.filter { $0.value.deadline <= now }
            for ticket in due.keys { state.sleepers[ticket] = nil }
            return due.values.sorted { $0.deadline < $1.deadline }
        }
        for sleeper in due { sleeper.continuation.resume() }
    }

    /// Moves the clock to `instant`, which must not be in the past, waking what is then due.
    public func advance(to instant: Timestamp) {
        advance(by: instant - now)
    }
}
