import NIOConcurrencyHelpers
import XCTest

@testable import ShoalStore

final class BlockingIOTests: XCTestCase {
    /// Work handed to the pool runs and returns its result even when the task that asked for it is
    /// cancelled before it starts (NIO's `runIfActive` would drop it): a write the store began, or
    /// a group commit other writers wait on, is never abandoned halfway.
    func testWorkOfACancelledTaskStillRunsToCompletion() async throws {
        let ran = NIOLockedValueBox(0)
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await BlockingIO.pool.runToCompletion {
                ran.withLockedValue { $0 += 1 }
                return 42
            }
        }
        let value = try await task.value
        XCTAssertEqual(value, 42)
        XCTAssertEqual(ran.withLockedValue { $0 }, 1)
    }
}
