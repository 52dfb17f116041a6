import ShoalCore

/// Runs an ``ExchangeSession`` to its end against a peer's ``RecordTree`` in the same process:
/// for simulations, benchmarks and tests, and as a reference for how a shell drives a session
/// (the node sends each request over the wire instead, and the peer answers with
/// ``RecordTree/answer(_:limits:policy:now:)``).
public enum LoopbackExchange {
    /// How one loopback exchange ended.
    public struct Result: Sendable {
        /// The outcome, or why the session failed.
        public var outcome: Swift.Result<ExchangeOutcome, ExchangeFailure>
        /// Requests sent (each one round trip).
        public var requests: Int
        /// Estimated bytes of the requests' frames (``ExchangeWireSize``).
        public var requestBytes: Int
        /// Estimated bytes of the answers' frames.
        public var answerBytes: Int
    }

    /// Runs `session` against `peer` until it finishes or fails.
    /// - Parameters:
    ///   - session: a session not yet started.
    ///   - local: this node's records.
    ///   - peer: the peer's records.
    ///   - peerLimits: the bounds the peer answers within.
    ///   - now: the time passed to the session (no deadline is ever reached).
    ///   - tamper: replaces the peer's answer before the session sees it (hostile-peer tests).
    public static func run(
        _ session: inout ExchangeSession, local: inout RecordTree, peer: inout RecordTree,
        peerLimits: ExchangeLimits = ExchangeLimits(), now: Timestamp = .zero,
        tamper: (ExchangeRequest, ExchangeAnswer) -> ExchangeAnswer = { $1 }
    ) -> Result {
        var result = Result(
            outcome: .failure(ExchangeFailure(.transportFailed, "not run")), requests: 0, requestBytes: 0,
            answerBytes: 0)
        var directives = session.start(now: now)
        while let directive = directives.first {
            switch directive {
            case .send(let request, _, _):
                let answer = tamper(request, peer.answer(request, limits: peerLimits))
                result.requests += 1
                result.requestBytes += ExchangeWireSize.frame(request)
                result.answerBytes += ExchangeWireSize.frame(answer, horizon: peer.horizon)
                directives = session.onAnswer(answer, local: &local, now: now)
            case .finished(let outcome):
                result.outcome = .success(outcome)
                return result
            case .failed(let failure):
                result.outcome = .failure(failure)
                return result
            }
        }
        return result
    }
}
