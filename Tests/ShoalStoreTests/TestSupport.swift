import Foundation
import NIOCore
import ShoalCore
import ShoalTestKit
import ShoalWire
import XCTest

@testable import ShoalStore

/// A fresh directory under the system temp directory, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/shoal-store-test-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
        path = String(cString: made)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    func files(in subdirectory: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: path + "/" + subdirectory)) ?? []
    }
}

/// Deterministic pseudo-random bytes.
func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var rng = SeededRandom(seed: seed)
    return (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
}

/// Asserts that `body` throws an error of type `E` for which `check` holds.
func assertThrows<E: Error>(
    _ type: E.Type, _ body: () async throws -> Void, file: StaticString = #filePath,
    line: UInt = #line, _ check: (E) -> Bool
) async {
    do {
        try await body()
        XCTFail("expected \(E.self), nothing was thrown", file: file, line: line)
    } catch let error as E {
        XCTAssertTrue(check(error), "unexpected \(error)", file: file, line: line)
    } catch {
        XCTFail("expected \(E.self), got \(error)", file: file, line: line)
    }
}
