import Foundation
import ShoalCore
import XCTest

@testable import ShoalNode

/// `shoal demo` as a library call: three nodes on free ports, twenty small files and a large one.
final class DemoTests: NodeTestCase, @unchecked Sendable {
    func testDemoRunsToCompletion() async throws {
        var demo = ShoalDemo()
        demo.ports = [0, 0, 0]
        demo.largeFileSize = 16 << 20
        let collector = LineCollector()
        try await demo.run(logger: Self.testLogger("shoal.demo")) { collector.append($0) }
        let lines = collector.lines
        let transcript = lines.joined(separator: "\n")
        XCTAssertEqual(
            lines.filter { $0.hasPrefix("node ") && $0.contains(" listening on 127.0.0.1:") }.count, 3, transcript)
        XCTAssertTrue(lines.contains { $0.contains("all three nodes know each other") }, transcript)
        XCTAssertTrue(lines.contains { $0.hasPrefix("stored 20 files through node 3") }, transcript)
        XCTAssertEqual(
            lines.filter { $0.contains("fetched from the network: my big data file here! #") }.count, 20, transcript)
        XCTAssertTrue(lines.contains { $0.hasPrefix("put 16 MiB through node 1") }, transcript)
        XCTAssertTrue(
            lines.contains { $0.hasPrefix("got 16 MiB through node 3") && $0.contains("SHA-256 verified") }, transcript)
        XCTAssertTrue(lines.last?.hasPrefix("stopped the three nodes") == true, transcript)
    }
}
