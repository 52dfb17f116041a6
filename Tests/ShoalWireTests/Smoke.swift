import XCTest
final class ShoalWireTestsSmoke: XCTestCase { func testNothing() {} }
