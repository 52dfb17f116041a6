import ShoalCore

/// What a ``SWIMInstance`` asks its shell to do. The shell performs directives in order.
///
/// Requests (`sendProbe`, `sendProbeRequest`, `sendIndirectProbe`, `verifyMember`, `sendFanOut`,
/// `sendExchange`) are sent as request frames; the shell correlates the response and reports the
/// outcome through the matching `on…` call named on each case. A transport error counts as a
/// timeout. `ShellContract.md` in this module's documentation states what the shell must do.
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
    ///
    /// Only verified members are reported: a peer heard of through gossip is reported when it
    /// has been verified (as a join, `old == nil`, or as a return, `old` being its tombstone), an
    /// address when it has been reached there. So every contact named here may enter routing
    /// tables and placement.
    case memberChanged(old: MemberUpdate?, new: MemberUpdate)

    /// Reach `contact` to verify it: dial `contact.address` (a connection this node dialled to
    /// exactly that address may be reused; a connection the peer dialled may not, as its listen
    /// address is only claimed), check that the TLS certificate's key hashes to `contact.id`
    /// (the transport's NodeID pinning), complete the Hello exchange and a `Ping`/`Pong`. Report a
    /// `Pong` within `timeout` with ``SWIMInstance/onMemberVerified(_:now:using:)``, and anything
    /// else (refused, another NodeID, no answer, an error) with
    /// ``SWIMInstance/onMemberVerificationFailed(_:now:using:)``. No SWIM payload travels: a
    /// verification costs the peer no gossip and this node no merging.
    case verifyMember(Contact, timeout: Duration)

    /// Send `.probe(updates)` to the member `to` as a request, at once: news (a suspicion, a
    /// death, a refutation) that should not wait for the next protocol period. Report an ack with
    /// ``SWIMInstance/onGossipAck(from:updates:now:using:)``; a timeout or error needs no report.
    case sendFanOut(to: Contact, updates: [MemberUpdate], timeout: Duration)

    /// Send `.probe(updates)` to `to` as a request: this node's membership exchange with a peer
    /// re-contacted outside SWIM (a bootstrap peer), which heals partitions. Report an ack with
    /// ``SWIMInstance/onGossipAck(from:updates:now:using:)``; a timeout or error needs no report.
    case sendExchange(to: Contact, updates: [MemberUpdate], timeout: Duration)

    /// Close every connection with the peer `id` and refuse new ones from it (and do not dial it)
    /// until `until`: its claims kept failing verification. Its gossip is ignored meanwhile.
    case disconnect(NodeID, until: Timestamp)

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
        case .verifyMember(let contact, let t): return "verifyMember(\(contact), timeout: \(t))"
        case .sendFanOut(let to, let u, let t): return "sendFanOut(to: \(to), \(u.count) updates, timeout: \(t))"
        case .sendExchange(let to, let u, let t): return "sendExchange(to: \(to), \(u.count) updates, timeout: \(t))"
        case .disconnect(let id, let until): return "disconnect(\(id.short), until: \(until))"
        case .scheduleTick(let at): return "scheduleTick(at: \(at))"
        }
    }
}
