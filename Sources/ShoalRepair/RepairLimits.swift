/// Bandwidth bounds of a repair round.
public struct RepairLimits: Hashable, Sendable {
    /// The most pushes outstanding at once: a round emits at most this many minus those still
    /// in flight. Default 64.
    public var maximumPushes: Int
    /// The most bytes outstanding at once, counted like ``maximumPushes``. A single object larger
    /// than this is still pushed, alone. Default 256 MiB.
    public var maximumBytes: Int
    /// How long an emitted push counts as in flight (and is not emitted again) unless reported
    /// finished earlier. Default 5 minutes.
    public var pushTimeout: Duration

    /// Creates limits.
    public init(maximumPushes: Int = 64, maximumBytes: Int = 256 << 20, pushTimeout: Duration = .seconds(300)) {
        self.maximumPushes = max(1, maximumPushes)
        self.maximumBytes = max(1, maximumBytes)
        self.pushTimeout = pushTimeout
    }
}
