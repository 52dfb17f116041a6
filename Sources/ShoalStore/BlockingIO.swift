import NIOPosix

/// Where the store's blocking file-system calls (`write`, `fsync`, `rename`, `pread`) run, so that
/// they never occupy a thread of Swift's cooperative pool.
///
/// A `fsync` can block for many milliseconds: with only as many cooperative threads as cores, a
/// handful of concurrent writes would stall every other task of the node. So the chunk store hands
/// each blocking operation to an `NIOThreadPool` and suspends until it completes. An operation, once
/// started, runs to completion (blocking calls cannot be cancelled).
public enum BlockingIO {
    /// The pool shared by every store of the process: four threads, so that concurrent replica
    /// writes batch their fsyncs without starving reads; started on first use, never shut down.
    public static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 4)
        pool.start()
        return pool
    }()
}

extension NIOThreadPool {
    /// Runs `body` on the pool and returns its result, whether or not the calling task is
    /// cancelled meanwhile. `runIfActive` drops queued work when its task is cancelled; the store
    /// must not: a write, once asked for, completes or fails on its own terms, and a group commit
    /// that other writers wait on is never abandoned because the task that led it went away.
    /// - Throws: what `body` throws, or `CancellationError` when the pool was shut down.
    func runToCompletion<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            submit { state in
                switch state {
                case .active: continuation.resume(with: Result(catching: body))
                case .cancelled: continuation.resume(throwing: CancellationError())
                }
            }
        }
    }
}
