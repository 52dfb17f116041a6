import ShoalCore

/// The outcome of a lookup.
public struct LookupResult: Hashable, Sendable {
    /// Why the lookup ended.
    public enum Ending: Hashable, Sendable {
        /// The closest nodes seen (K, or the settle count the caller asked for) have all answered.
        case converged
        /// No candidate was left to ask (fewer than K live nodes reachable).
        case exhausted
        /// A node said it holds the value (value lookups only).
        case valueFound
        /// The request budget (``LookupStateMachine/Configuration/maxRequests``) ran out.
        case requestLimitReached
    }

    public var target: Key256
    public var kind: LookupStateMachine.Kind
    public var ending: Ending
    /// Up to K nodes that answered, closest to `target` first.
    public var closest: [Contact]
    /// For a value lookup that found it: the node(s) that said they hold the value.
    public var holders: [Contact]
    public var stats: LookupStats

    public init(
        target: Key256, kind: LookupStateMachine.Kind, ending: Ending, closest: [Contact],
        holders: [Contact], stats: LookupStats
    ) {
        self.target = target
        self.kind = kind
        self.ending = ending
        self.closest = closest
        self.holders = holders
        self.stats = stats
    }
}

/// Counters of one lookup.
public struct LookupStats: Hashable, Sendable {
    /// The longest chain of answers: a seed that answered is at hop 1, a node first learned from a
    /// hop-n answer is at hop n+1.
    public var hops: Int = 0
    /// Requests sent.
    public var messagesSent: Int = 0
    /// Answers accepted.
    public var responses: Int = 0
    /// Requests that timed out.
    public var timeouts: Int = 0
    /// Requests that failed otherwise.
    public var failures: Int = 0
    /// Contacts in answers that were ignored: beyond the per-answer limit, the responder itself, the
    /// local node, duplicates, malformed, over the per-group limit, or known to have failed.
    public var contactsIgnored: Int = 0
    public var startedAt: Timestamp = .zero
    public var finishedAt: Timestamp = .zero

    public init() {}
}
