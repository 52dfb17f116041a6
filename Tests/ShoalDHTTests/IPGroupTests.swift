import ShoalCore
import XCTest

@testable import ShoalDHT

final class IPGroupTests: XCTestCase {
    func testParsesIPv4DottedQuads() {
        XCTAssertEqual(IPAddress("203.0.113.7"), .v4(0xCB00_7107))
        XCTAssertEqual(IPAddress("0.0.0.0"), .v4(0))
        XCTAssertEqual(IPAddress("255.255.255.255"), .v4(0xFFFF_FFFF))
        for bad in ["256.1.1.1", "1.2.3", "1.2.3.4.5", "1..2.3", "01.2.3.4", "a.b.c.d", "1.2.3.4 ", ""] {
            XCTAssertNil(IPAddress(bad), bad)
        }
    }

    func testParsesIPv6TextualForms() {
        XCTAssertEqual(IPAddress("::1"), .v6(high: 0, low: 1))
        XCTAssertEqual(IPAddress("::"), .v6(high: 0, low: 0))
        XCTAssertEqual(IPAddress("2001:db8::1"), .v6(high: 0x2001_0DB8_0000_0000, low: 1))
        XCTAssertEqual(IPAddress("2001:DB8:0:0:0:0:0:1"), IPAddress("2001:db8::1"))
        XCTAssertEqual(IPAddress("[2001:db8::1]"), IPAddress("2001:db8::1"))
        XCTAssertEqual(IPAddress("fe80::1%eth0"), .v6(high: 0xFE80_0000_0000_0000, low: 1))
        XCTAssertEqual(IPAddress("1:2:3:4:5:6:7::"), .v6(high: 0x0001_0002_0003_0004, low: 0x0005_0006_0007_0000))
        XCTAssertEqual(IPAddress("64:ff9b::192.0.2.33"), .v6(high: 0x0064_FF9B_0000_0000, low: 0xC000_0221))
        // IPv4-mapped addresses are IPv4.
        XCTAssertEqual(IPAddress("::ffff:192.0.2.1"), .v4(0xC000_0201))
        for bad in ["1:2:3:4:5:6:7:8:9", "1::2::3", ":::", "12345::", "1:2:3:4:5:6:7", "g::1", ":1::", "1::2:"] {
            XCTAssertNil(IPAddress(bad), bad)
        }
    }

    func testGroupsArePrefixes() {
        XCTAssertEqual(IPGroup.of(host: "203.0.113.7"), IPGroup.of(host: "203.0.113.200"))
        XCTAssertNotEqual(IPGroup.of(host: "203.0.113.7"), IPGroup.of(host: "203.0.114.7"))
        XCTAssertEqual(IPGroup.of(host: "2001:db8:1:2::1"), IPGroup.of(host: "2001:db8:1:ffff::9"))
        XCTAssertNotEqual(IPGroup.of(host: "2001:db8:1::1"), IPGroup.of(host: "2001:db8:2::1"))
        XCTAssertEqual(IPGroup.of(host: "203.0.113.7")?.description, "203.0.113.0/24")
        XCTAssertEqual(IPGroup.of(host: "Example.ORG"), .hostname("example.org"))
    }

    func testLoopbackAndPrivateRangesHaveNoGroup() {
        for host in [
            "127.0.0.1", "127.200.3.4", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
            "169.254.0.9", "::1", "fc00::1", "fd12:3456::1", "fe80::1", "febf::1", "localhost",
        ] {
            XCTAssertNil(IPGroup.of(host: host), host)
        }
        for host in ["172.15.0.1", "172.32.0.1", "11.0.0.1", "192.169.0.1", "2001:db8::1", "fec0::1", "8.8.8.8"] {
            XCTAssertNotNil(IPGroup.of(host: host), host)
        }
    }
}
