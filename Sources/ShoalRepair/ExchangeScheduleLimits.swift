/// How often and how many exchanges the ``ExchangeScheduler`` plans.
public struct ExchangeScheduleLimits: Hashable, Sendable {
    /// Exchanges started per round at most. Default 8.
    public var maximumExchangesPerRound: Int
    /// How long after a complete exchange a peer whose shared ranges did not change is compared
    /// again. Default zero: every round (a stable range costs one round trip).
    public var interval: Duration
    /// How long a planned exchange may run before it counts as failed. Default 5 minutes.
    public var exchangeTimeout: Duration
    /// Wait after a first failure; doubles per further failure. Default 30 seconds.
    public var retryBackoff: Duration
    /// The longest wait after failures. Default 30 minutes.
    public var maximumRetryBackoff: Duration

    /// Creates limits.
    public init(
        maximumExchangesPerRound: Int = 8, interval: Duration = .zero, exchangeTimeout: Duration = .seconds(300),
        retryBackoff: Duration = .seconds(30), maximumRetryBackoff: Duration = .seconds(1800)
    ) {
        self.maximumExchangesPerRound = max(1, maximumExchangesPerRound)
        self.interval = interval
        self.exchangeTimeout = exchangeTimeout
        self.retryBackoff = retryBackoff
        self.maximumRetryBackoff = maximumRetryBackoff
    }
}
