import ShoalCore

/// Bounds of anti-entropy exchanges, on both the asking and the answering side.
///
/// Every message is bounded (ranges per request, summaries and records per answer, bytes per
/// answer, owner entries per record) and so is every session (requests, differences collected):
/// a peer answering garbage or too much ends the session with an ``ExchangeFailure``, never with
/// unbounded work. A session that reaches its request or difference bound ends normally, listing
/// what it did not compare in ``ExchangeOutcome/unexplored``; the next round picks it up.
public struct ExchangeLimits: Hashable, Sendable {
    /// Ranges (or record queries) per request. Default 256.
    public var maximumRangesPerRequest: Int
    /// Summaries per answer (the children of all ranges of a children request). Default 4096.
    public var maximumSummariesPerAnswer: Int
    /// Records per answer, over all its pages. Default 1024.
    public var maximumRecordsPerAnswer: Int
    /// Estimated encoded bytes per records answer (``ExchangeWireSize``); the first record is sent
    /// even when larger. Default 1 MiB (the frame limit is 9 MiB).
    public var maximumAnswerBytes: Int
    /// Claims plus tombstones in one record. Default 4096.
    public var maximumOwnerEntriesPerRecord: Int
    /// Requests one session may send. Default 1024.
    public var maximumRequestsPerSession: Int
    /// Root ranges one session may compare. Default 4096.
    public var maximumRangesPerSession: Int
    /// Differing records one session may collect before it stops. Default 100,000.
    public var maximumDifferencesPerSession: Int
    /// Answers whose counts or hashes contradict what the peer said before (its records changed
    /// meanwhile, or it lies): tolerated per session, each leaving its range unexplored; one more
    /// fails the session. Default 16.
    public var maximumInconsistentAnswers: Int
    /// How long to wait for each answer. Default 10 seconds.
    public var requestTimeout: Duration

    /// Creates limits; each count is raised to at least 1 (summaries per answer to at least 16).
    public init(
        maximumRangesPerRequest: Int = 256, maximumSummariesPerAnswer: Int = 4096, maximumRecordsPerAnswer: Int = 1024,
        maximumAnswerBytes: Int = 1 << 20, maximumOwnerEntriesPerRecord: Int = 4096,
        maximumRequestsPerSession: Int = 1024, maximumRangesPerSession: Int = 4096,
        maximumDifferencesPerSession: Int = 100_000, maximumInconsistentAnswers: Int = 16,
        requestTimeout: Duration = .seconds(10)
    ) {
        self.maximumRangesPerRequest = max(1, maximumRangesPerRequest)
        self.maximumSummariesPerAnswer = max(16, maximumSummariesPerAnswer)
        self.maximumRecordsPerAnswer = max(1, maximumRecordsPerAnswer)
        self.maximumAnswerBytes = max(1, maximumAnswerBytes)
        self.maximumOwnerEntriesPerRecord = max(1, maximumOwnerEntriesPerRecord)
        self.maximumRequestsPerSession = max(1, maximumRequestsPerSession)
        self.maximumRangesPerSession = max(1, maximumRangesPerSession)
        self.maximumDifferencesPerSession = max(1, maximumDifferencesPerSession)
        self.maximumInconsistentAnswers = max(0, maximumInconsistentAnswers)
        self.requestTimeout = requestTimeout
    }
}
