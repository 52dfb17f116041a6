import XCTest
final class ShoalStoreTestsSmoke: XCTestCase { func testNothing() {} }
