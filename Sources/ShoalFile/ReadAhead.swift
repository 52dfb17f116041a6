/// How many chunks a read keeps in flight: enough to cover the bandwidth-delay product of
/// whatever delivers them, and no more, so memory stays at a few chunks when the reader or its
/// consumer is the bottleneck and grows only when more in flight would be consumed faster.
///
/// The window is `ceil(rate × base latency / chunk bytes) + 1`, clamped to `minimum…maximum`:
/// `rate` is how fast the consumer has been taking bytes, `base latency` the shortest fetch of this
/// read (what one fetch costs without queueing behind the others, measured while the window is
/// still small; taking the current latency instead would grow the window forever once the link
/// saturates, since queueing raises latency as fast as the window). A window that limits the rate
/// produces a rate that asks for one more, so it grows until the consumer or the link is the
/// limit; a slow consumer (HTTP backpressure) keeps it small. One value serves one read.
///
/// Pure: the caller passes every measurement in seconds.
struct ReadAhead: Sendable {
    let minimum: Int
    let maximum: Int
    private(set) var current: Int
    /// Bytes per second the consumer took, smoothed.
    private var rate: Double?
    /// The shortest fetch so far, in seconds.
    private var baseLatency: Double?
    /// Bytes per fetched chunk, smoothed.
    private var chunkBytes: Double?

    /// - Parameters:
    ///   - minimum: the smallest window (at least 1).
    ///   - maximum: the largest window (at least `minimum`).
    init(minimum: Int, maximum: Int) {
        self.minimum = max(1, minimum)
        self.maximum = max(self.minimum, maximum)
        self.current = self.minimum
    }

    /// A chunk of `bytes` arrived `seconds` after it was asked for.
    mutating func fetched(bytes: Int, after seconds: Double) {
        guard seconds > 0, bytes > 0 else { return }
        baseLatency = min(baseLatency ?? seconds, seconds)
        chunkBytes = chunkBytes.map { 0.8 * $0 + 0.2 * Double(bytes) } ?? Double(bytes)
        update()
    }

    /// The consumer took `bytes` in the `seconds` since it last took any.
    mutating func consumed(bytes: Int, over seconds: Double) {
        guard seconds > 0, bytes > 0 else { return }
        let observed = Double(bytes) / seconds
        rate = rate.map { 0.8 * $0 + 0.2 * observed } ?? observed
        update()
    }

    private mutating func update() {
        guard let rate, let baseLatency, let chunkBytes, chunkBytes > 0 else { return }
        let inFlight = (rate * baseLatency / chunkBytes).rounded(.up) + 1
        current = Int(min(Double(maximum), max(Double(minimum), inFlight)))
    }
}
