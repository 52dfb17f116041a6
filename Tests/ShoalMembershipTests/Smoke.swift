import XCTest
final class ShoalMembershipTestsSmoke: XCTestCase { func testNothing() {} }
