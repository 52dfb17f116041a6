import XCTest
final class ShoalTransportTestsSmoke: XCTestCase { func testNothing() {} }
