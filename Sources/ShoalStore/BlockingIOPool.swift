import Foundation

/// A few dedicated threads that run blocking file-system calls (`write`, `fsync`, `rename`, `pread`)
/// so that they never occupy a thread of Swift's cooperative pool.
///
/// ShoalStore may not depend on NIOPosix (whose `NIOThreadPool` would otherwise serve), and a
/// `fsync` can block for many milliseconds: with only as many cooperative threads as cores, a
/// handful of concurrent writes would stall every other task of the node. So the chunk store hands
/// each blocking operation to this pool and suspends until it completes. Work runs in FIFO order;
/// an operation, once started, runs to completion (blocking calls cannot be cancelled).
public final class BlockingIOPool: @unchecked Sendable {
    /// The pool shared by every store of the process (4 threads, started on first use).
    public static let shared = BlockingIOPool(threadCount: 4)

    public let threadCount: Int

    private let condition = NSCondition()
    private var queue: [(@Sendable () -> Void)?] = []
    private var head = 0
    private var stopping = false

    /// Starts `threadCount` threads that live until ``shutdown()``.
    /// - Parameter threadCount: how many blocking calls may run at once (at least 1).
    public init(threadCount: Int) {
        precondition(threadCount >= 1, "a blocking I/O pool needs at least one thread")
        self.threadCount = threadCount
        for index in 0..<threadCount {
            let thread = Thread { [self] in self.work() }
            thread.name = "shoal-blocking-io-\(index)"
            thread.start()
        }
    }

    /// Runs `body` on one of the pool's threads and returns its result.
    /// - Parameter body: blocking work; it must not wait for other work queued on this pool.
    /// - Returns: what `body` returns.
    /// - Throws: what `body` throws, or `CancellationError` when the pool was shut down.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let accepted = enqueue { continuation.resume(with: Result { try body() }) }
            if !accepted { continuation.resume(throwing: CancellationError()) }
        }
    }

    /// Lets the threads finish the queued work and exit. Later ``run(_:)`` calls throw.
    public func shutdown() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    private func enqueue(_ job: @escaping @Sendable () -> Void) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { return false }
        queue.append(job)
        condition.signal()
        return true
    }

    private func work() {
        while true {
            condition.lock()
            while head == queue.count && !stopping { condition.wait() }
            guard head < queue.count, let job = queue[head] else {
                condition.unlock()
                return
            }
            // Drop the queue's reference at once: a job captures the bytes it writes.
            queue[head] = nil
            head += 1
            if head == queue.count {
                queue.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 256 {
                queue.removeFirst(head)
                head = 0
            }
            condition.unlock()
            job()
        }
    }
}
