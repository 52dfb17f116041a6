import XCTest
final class ShoalCoreTestsSmoke: XCTestCase { func testNothing() {} }
