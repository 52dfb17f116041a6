import ShoalCore

/// What a ``SWIMInstance`` asks its shell to do. The shell performs directives in order.
///
/// Requests (`sendProbe`, `sendProbeRequest`, `sendIndirectProbe`) are sent as request frames;
/// the shell correlates the response and reports the outcome through the matching `on…` call
/// named on each case. A transport error counts as a timeout.
public enum SWIMDirective: Hashable, Sendable, CustomStringConvertible {
    /// Send `.probe(updates)` to `to` as a request. Report the ack with
    /// ``SWIMInstance/onProbeAck(from:updates:now:using:)``; report no ack within `timeout`
    /// (or a failed send) with ``SWIMInstance/onProbeTimeout(target:now:using:)``.
    case sendProbe(to: Contact, updates: [MemberUpdate], timeout: Duration)

    /// Send `.probeRequest(target, updates)` to the helper `to` as a request. Report an ack with
    /// ``SWIMInstance/onProbeRequestAck(from:target:updates:now:using:)``, a nack with
    /// ``SWIMInstance/onProbeRequestNack(from:target:updates:now:using:)`` and no answer within
    /// `timeout` with ``SWIMInstance/onProbeRequestTimeout(helper:target:now:using:)``.
    case sendProbeRequest(to: Contact, target: Contact, updates: [MemberUpdate], timeout: Duration)

    /// Send `.probe(updates)` to `to` on behalf of `origin`, which asked with a probe request
    /// that is still waiting for its response. Report the ack with
    /// ``SWIMInstance/onIndirectProbeAck(from:origin:updates:now:using:)`` or its absence within
    /// `timeout` with ``SWIMInstance/onIndirectProbeTimeout(target:origin:now:using:)``; either
    /// returns the `.reply` to send back to `origin`.
    case sendIndirectProbe(to: Contact, origin: Contact, updates: [MemberUpdate], timeout: Duration)

    /// Send `message` (`.ack` or `.nack`) as the response to the pending request from `to`.
    case reply(to: Contact, message: SWIMMessage)

    /// Send `.leave(updates)` to `to`, one-way (no response expected).
    case sendLeave(to: Contact, updates: [MemberUpdate])

    /// A member joined (`old == nil`), changed status or address, died (`new.status == .dead`)
    /// or left (`new.status == .left`). Dead and departed members should leave routing tables.
    case memberChanged(old: MemberUpdate?, new: MemberUpdate)

    /// Call ``SWIMInstance/onTick(now:using:)`` at `at`. Replaces any earlier scheduled tick:
    /// the shell keeps one timer. Calling `onTick` early or late is harmless.
    case scheduleTick(at: Timestamp)

    public var description: String {
        switch self {
        case .sendProbe(let to, let u, let t): return "sendProbe(to: \(to), \(u.count) updates, timeout: \(t))"
        case .sendProbeRequest(let to, let target, let u, let t):
            return "sendProbeRequest(to: \(to), target: \(target), \(u.count) updates, timeout: \(t))"
        case .sendIndirectProbe(let to, let origin, let u, let t):
            return "sendIndirectProbe(to: \(to), origin: \(origin), \(u.count) updates, timeout: \(t))"
        case .reply(let to, let m): return "reply(to: \(to), \(m))"
        case .sendLeave(let to, let u): return "sendLeave(to: \(to), \(u.count) updates)"
        case .memberChanged(let old, let new): return "memberChanged(\(old.map(\.description) ?? "none") -> \(new))"
        case .scheduleTick(let at): return "scheduleTick(at: \(at))"
        }
    }
}
