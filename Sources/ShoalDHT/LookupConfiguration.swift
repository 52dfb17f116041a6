extension LookupStateMachine {
    /// Tunables of a lookup. The defaults follow the Kademlia paper (α = 3, K = 20).
    public struct Configuration: Hashable, Sendable {
        /// α: requests in flight at once.
        public var alpha: Int
        /// K: how many closest live nodes the lookup converges on and returns.
        public var k: Int
        /// How long to wait for each answer; the shell turns this into a timer.
        public var requestTimeout: Duration
        /// At most this many contacts of one answer are considered (extras are ignored).
        public var maxContactsPerAnswer: Int
        /// At most this many contacts of one ``IPGroup`` are taken from one answer (no limit for
        /// loopback and private addresses).
        public var maxPerGroupPerAnswer: Int
        /// At most this many not-yet-queried candidates are kept (the closest ones).
        public var maxPendingCandidates: Int
        /// The lookup ends after this many requests whatever happens.
        public var maxRequests: Int
        /// β: a lookup that needs only a few of the closest nodes still waits for at least this many
        /// of the closest to answer (see ``LookupStateMachine/settleCount``).
        public var resiliency: Int

        /// - Parameters:
        ///   - alpha: default 3.
        ///   - k: default 20.
        ///   - requestTimeout: default 5 seconds.
        ///   - maxContactsPerAnswer: default `k`.
        ///   - maxPerGroupPerAnswer: default 3 (the table-wide cap, so an honest answer is never cut).
        ///   - maxPendingCandidates: default `3 * k`.
        ///   - maxRequests: default `10 * k`.
        ///   - resiliency: default 3.
        public init(
            alpha: Int = 3,
            k: Int = 20,
            requestTimeout: Duration = .seconds(5),
            maxContactsPerAnswer: Int? = nil,
            maxPerGroupPerAnswer: Int = 3,
            maxPendingCandidates: Int? = nil,
            maxRequests: Int? = nil,
            resiliency: Int = 3
        ) {
            precondition(alpha > 0 && k > 0, "alpha and k must be positive")
            self.alpha = alpha
            self.k = k
            self.requestTimeout = requestTimeout
            self.maxContactsPerAnswer = max(1, maxContactsPerAnswer ?? k)
            self.maxPerGroupPerAnswer = max(1, maxPerGroupPerAnswer)
            self.maxPendingCandidates = max(k, maxPendingCandidates ?? 3 * k)
            self.maxRequests = max(alpha, maxRequests ?? 10 * k)
            self.resiliency = max(1, resiliency)
        }
    }
}
