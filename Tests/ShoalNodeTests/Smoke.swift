import XCTest
final class ShoalNodeTestsSmoke: XCTestCase { func testNothing() {} }
