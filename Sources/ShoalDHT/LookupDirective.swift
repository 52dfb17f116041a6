import ShoalCore

/// A request a lookup sends to one peer.
public enum LookupRequest: Hashable, Sendable {
    /// Ask for the K contacts the peer knows closest to `target` (wire: `FindNode`).
    case findNode(target: Key256)
    /// Ask whether the peer holds `key`, and for closer contacts if not (wire: `FindValue`).
    case findValue(key: ContentID)
}

/// What a ``LookupStateMachine`` asks its shell to do.
public enum LookupDirective: Hashable, Sendable {
    /// Send `request` to `to`. If no answer has arrived by `deadline`, call
    /// ``LookupStateMachine/onTimeout(of:now:)``; if the request fails (connection refused, error
    /// frame), call ``LookupStateMachine/onFailure(of:now:)``.
    case send(LookupRequest, to: Contact, deadline: Timestamp)
    /// The lookup is over; no further directives follow. Requests still in flight may be abandoned.
    case finished(LookupResult)
}
