import Foundation
import ShoalCore

/// Lifeguard's dynamic suspicion timeout (Dadgar et al. 2018, section IV.B).
///
/// With `n` live members, `min = α · log10(n) · period` (`log10(n)` taken as at least 1) and
/// `max = β · min`. A fresh suspicion waits `max`; each independent confirmation `C` shortens it
/// logarithmically, reaching `min` at `K` confirmations:
///
///     timeout(C) = max(min, max − (max − min) · log(C + 1) / log(K + 1))
///
/// A suspect that many members vouch for is declared dead quickly, while a suspicion raised by a
/// lone, possibly unhealthy, node waits long enough for the suspect to hear of it and refute.
public struct SuspicionTimeout: Hashable, Sendable {
    /// The timeout with `K` or more confirmations.
    public var minimum: Duration
    /// The timeout with no confirmation.
    public var maximum: Duration
    /// Confirmations after which the timeout is ``minimum`` (Lifeguard's K).
    public var expectedConfirmations: Int

    /// Computes the bounds for a cluster of `memberCount` live members (this node included).
    /// - Parameters:
    ///   - memberCount: live members, this node included.
    ///   - settings: supplies α, β, K and the protocol period.
    public init(memberCount: Int, settings: SWIMSettings) {
        let scale = max(1, log10(Double(max(1, memberCount))))
        let period = Double(settings.probeInterval.nanosecondsClamped)
        let minimumNanoseconds = settings.suspicionAlpha * scale * period
        self.minimum = .nanoseconds(Int64(minimumNanoseconds))
        self.maximum = .nanoseconds(Int64(minimumNanoseconds * max(1, settings.suspicionBeta)))
        self.expectedConfirmations = max(0, min(settings.expectedConfirmations, memberCount - 2))
    }

    /// The timeout after `confirmations` independent confirmations.
    /// - Parameter confirmations: confirmations received after the first report.
    /// - Returns: a duration between ``minimum`` and ``maximum``.
    public func timeout(confirmations: Int) -> Duration {
        guard expectedConfirmations > 0 else { return minimum }
        let c = Double(min(max(0, confirmations), expectedConfirmations))
        let fraction = log(c + 1) / log(Double(expectedConfirmations) + 1)
        let lo = Double(minimum.nanosecondsClamped)
        let hi = Double(maximum.nanosecondsClamped)
        return .nanoseconds(Int64(max(lo, hi - (hi - lo) * fraction)))
    }
}
