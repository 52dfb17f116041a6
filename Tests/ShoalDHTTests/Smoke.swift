import XCTest
final class ShoalDHTTestsSmoke: XCTestCase { func testNothing() {} }
