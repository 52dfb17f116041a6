import ShoalCore

/// What an ``ExchangeSession`` asks its shell to do.
public enum ExchangeDirective: Hashable, Sendable {
    /// Send `request` to `to`. Feed its answer to ``ExchangeSession/onAnswer(_:local:now:)``; if
    /// none has arrived by `deadline`, call ``ExchangeSession/onTimeout(now:)``; if sending fails or
    /// the peer answers with an error frame, ``ExchangeSession/onFailure(_:)``.
    case send(ExchangeRequest, to: Contact, deadline: Timestamp)
    /// The exchange is over; nothing follows.
    case finished(ExchangeOutcome)
    /// The exchange failed; nothing follows, nothing it learned is used.
    case failed(ExchangeFailure)
}
