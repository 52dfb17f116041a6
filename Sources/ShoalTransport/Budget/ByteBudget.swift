import DequeModule
import NIOConcurrencyHelpers

/// A node-wide allowance of bytes (buffered inbound frames, queued outbound responses), shared by
/// every connection.
///
/// A connection either reserves room before it buffers (``tryReserve(_:)``, or ``reserve(_:whenAvailable:)``
/// to be called back once room frees up, first come first served), or charges what it already
/// holds (``charge(_:)``) and checks ``isOverLimit`` before taking more work. ``release(_:)`` gives
/// room back and calls the waiters it now fits. Callbacks run on the releasing thread; they hop
/// to their own event loop.
final class ByteBudget: Sendable {
    let limit: Int

    private struct Waiter {
        var bytes: Int
        var resume: @Sendable () -> Void
    }

    private struct State {
        var used = 0
        var waiters = Deque<Waiter>()
        var belowLimit: [@Sendable () -> Void] = []
        var peak = 0
    }

    private let state = NIOLockedValueBox(State())

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Bytes reserved or charged now, and the most ever.
    var used: Int { state.withLockedValue { $0.used } }
    var peak: Int { state.withLockedValue { $0.peak } }
    var isOverLimit: Bool { state.withLockedValue { $0.used > limit } }

    /// Reserves `bytes` if they fit (a request larger than the whole budget fits an empty one).
    func tryReserve(_ bytes: Int) -> Bool {
        state.withLockedValue { s in
            guard s.waiters.isEmpty, Self.fits(bytes, used: s.used, limit: limit) else { return false }
            s.used += bytes
            s.peak = max(s.peak, s.used)
            return true
        }
    }

    /// Reserves `bytes` now (returns `true`) or, when they do not fit, queues the reservation and
    /// calls `whenAvailable` once it was made (returns `false`).
    func reserve(_ bytes: Int, whenAvailable: @escaping @Sendable () -> Void) -> Bool {
        state.withLockedValue { s in
            if s.waiters.isEmpty, Self.fits(bytes, used: s.used, limit: limit) {
                s.used += bytes
                s.peak = max(s.peak, s.used)
                return true
            }
            s.waiters.append(Waiter(bytes: bytes, resume: whenAvailable))
            return false
        }
    }

    /// Charges bytes already held, even beyond the limit.
    func charge(_ bytes: Int) {
        state.withLockedValue { s in
            s.used += bytes
            s.peak = max(s.peak, s.used)
        }
    }

    /// Calls `callback` once usage is at or below the limit (at once if it already is).
    func whenBelowLimit(_ callback: @escaping @Sendable () -> Void) {
        let now = state.withLockedValue { s -> Bool in
            if s.used <= limit { return true }
            s.belowLimit.append(callback)
            return false
        }
        if now { callback() }
    }

    /// Gives back `bytes` and serves the waiters that now fit.
    func release(_ bytes: Int) {
        var ready: [@Sendable () -> Void] = []
        state.withLockedValue { s in
            s.used = max(0, s.used - bytes)
            while let first = s.waiters.first, Self.fits(first.bytes, used: s.used, limit: limit) {
                s.waiters.removeFirst()
                s.used += first.bytes
                s.peak = max(s.peak, s.used)
                ready.append(first.resume)
            }
            if s.used <= limit {
                ready += s.belowLimit
                s.belowLimit = []
            }
        }
        for callback in ready { callback() }
    }

    private static func fits(_ bytes: Int, used: Int, limit: Int) -> Bool {
        used + bytes <= limit || used == 0
    }
}
