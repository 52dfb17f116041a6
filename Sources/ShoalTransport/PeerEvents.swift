import ShoalCore
import ShoalWire

/// Work the connections hand to the node: requests to answer (concurrently) and connection
/// events (in the order they happened). ``Transport/run()`` carries them out in a task group, so
/// nothing runs unstructured and a peer's disconnection is never seen before its connection.
final class PeerEvents: Sendable {
    enum Event: Sendable {
        case connected(PeerInfo)
        case disconnected(PeerInfo)
    }

    /// One inbound request or one-way message, and where its answer goes.
    struct Job: Sendable {
        var message: WireMessage
        var id: UInt64
        var peer: PeerInfo
        /// Called on any thread with the response (`nil` for a one-way message).
        var finish: @Sendable (WireMessage?) -> Void
    }

    let events: AsyncStream<Event>
    private let eventQueue: AsyncStream<Event>.Continuation
    let jobs: AsyncStream<Job>
    private let jobQueue: AsyncStream<Job>.Continuation

    init() {
        (events, eventQueue) = AsyncStream.makeStream(of: Event.self)
        (jobs, jobQueue) = AsyncStream.makeStream(of: Job.self)
    }

    func post(_ event: Event) { eventQueue.yield(event) }

    /// Queues a job; after ``finish()`` the job is answered at once as if the node were gone.
    func submit(_ job: Job) {
        if case .terminated = jobQueue.yield(job) {
            job.finish(job.id == 0 ? nil : .error(WireError(.overloaded, "the node is stopping")))
        }
    }

    func finish() {
        eventQueue.finish()
        jobQueue.finish()
    }
}
