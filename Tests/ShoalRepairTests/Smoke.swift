import XCTest
final class ShoalRepairTestsSmoke: XCTestCase { func testNothing() {} }
