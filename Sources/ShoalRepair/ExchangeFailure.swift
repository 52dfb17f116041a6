/// Why an exchange session ended without an outcome. Nothing it learned is used.
public struct ExchangeFailure: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String

        /// No answer before the deadline.
        public static let timedOut = Code(name: "timed out")
        /// The request could not be delivered or the peer answered with an error frame.
        public static let transportFailed = Code(name: "transport failed")
        /// The peer is at another tombstone horizon (``ExchangeFailure/peerHorizon``): move to it
        /// if the policy accepts it, then run the exchange again.
        public static let horizonMismatch = Code(name: "horizon mismatch")
        /// The peer refused the request.
        public static let refused = Code(name: "refused")
        /// The answer breaks the protocol: the wrong kind or number of items, records outside the
        /// range asked or out of order, over a bound, expired tombstones.
        public static let malformedAnswer = Code(name: "malformed answer")
        /// More answers contradicted the peer's earlier ones than ``ExchangeLimits/maximumInconsistentAnswers``.
        public static let inconsistentAnswers = Code(name: "inconsistent answers")
        /// The peer sent an empty, incomplete page while nothing else used the answer's budget.
        public static let noProgress = Code(name: "no progress")

        public var description: String { name }
    }

    /// The kind of failure.
    public var code: Code
    /// What happened, for logs.
    public var message: String
    /// The peer's horizon, for ``Code/horizonMismatch``.
    public var peerHorizon: TombstoneHorizon?

    /// Creates a failure.
    public init(_ code: Code, _ message: String, peerHorizon: TombstoneHorizon? = nil) {
        self.code = code
        self.message = message
        self.peerHorizon = peerHorizon
    }

    public var description: String { "exchange \(code): \(message)" }
}
