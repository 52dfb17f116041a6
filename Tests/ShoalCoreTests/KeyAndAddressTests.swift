import ShoalCore
import ShoalTestKit
import XCTest

final class KeyAndAddressTests: XCTestCase {
    func testHexRoundTripAndOrdering() {
        var rng = SeededRandom(seed: 1)
        for _ in 0..<100 {
            let k = Key256.random(using: &rng)
            XCTAssertEqual(Key256(hex: k.hex), k)
            XCTAssertEqual(Key256(bytes: k.bytes), k)
            XCTAssertEqual(Key256(hex: k.hex.uppercased()), k)
        }
        XCTAssertNil(Key256(hex: String(repeating: "g", count: 64)))
        XCTAssertNil(Key256(hex: "abc"))
        XCTAssertNil(Key256(bytes: [UInt8](repeating: 0, count: 31)))
    }

    func testXorDistanceProperties() {
        var rng = SeededRandom(seed: 2)
        for _ in 0..<100 {
            let a = Key256.random(using: &rng)
            let b = Key256.random(using: &rng)
            let c = Key256.random(using: &rng)
            XCTAssertEqual(a ^ a, .zero)
            XCTAssertEqual(a ^ b, b ^ a)
            XCTAssertEqual((a ^ b) ^ (b ^ c), a ^ c)
        }
        let one = Key256(words: (0, 0, 0, 1))
        XCTAssertEqual(one.leadingZeroBitCount, 255)
        XCTAssertEqual(Key256.zero.leadingZeroBitCount, 256)
        XCTAssertEqual(Key256(words: (1 << 63, 0, 0, 0)).leadingZeroBitCount, 0)
        XCTAssertTrue(one.bit(255))
        XCTAssertFalse(one.bit(254))
        XCTAssertEqual(Key256.zero.settingBit(255, to: true), one)
    }

    func testSha256MatchesKnownVector() {
        XCTAssertEqual(
            Key256.sha256(of: Array("abc".utf8)).hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    func testPublicAndPrivateAddressesRoundTrip() throws {
        var rng = SeededRandom(seed: 3)
        let root = Key256.random(using: &rng)
        let key = FileKey.generate(using: &rng)
        let publicAddress = FileAddress(root: root, key: nil)
        XCTAssertEqual(publicAddress.description, root.hex)
        XCTAssertEqual(try FileAddress(parsing: publicAddress.description), publicAddress)
        let privateAddress = FileAddress(root: root, key: key)
        let text = privateAddress.description
        XCTAssertEqual(text.count, 64 + 1 + 43)
        XCTAssertEqual(try FileAddress(parsing: text), privateAddress)
        XCTAssertEqual(try FileAddress(parsing: "shoal:" + text), privateAddress)
        XCTAssertEqual(try FileAddress(parsing: "  \(text)\n"), privateAddress)
    }

    func testAddressErrorsArePrecise() {
        let hex = String(repeating: "ab", count: 32)
        XCTAssertThrowsError(try FileAddress(parsing: hex + "." + Base64URL.encode([UInt8](repeating: 1, count: 31)))) {
            XCTAssertEqual("\($0)", "key is 31 bytes, expected 32")
        }
        XCTAssertThrowsError(try FileAddress(parsing: "hello")) {
            XCTAssertTrue("\($0)".hasPrefix("not a Shoal address: 'hello'"), "\($0)")
        }
        XCTAssertThrowsError(try FileAddress(parsing: String(repeating: "z", count: 64))) {
            XCTAssertTrue("\($0)".contains("not a hex digit"), "\($0)")
        }
        XCTAssertThrowsError(try FileAddress(parsing: hex + ".!!!")) {
            XCTAssertTrue("\($0)".contains("not base64url"), "\($0)")
        }
        XCTAssertThrowsError(try FileAddress(parsing: "")) { XCTAssertEqual($0 as? AddressError, .empty) }
    }

    func testBase64URLRoundTrip() {
        var rng = SeededRandom(seed: 4)
        for n in 0..<40 {
            let bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            XCTAssertEqual(Base64URL.decode(Base64URL.encode(bytes)), bytes)
        }
        XCTAssertEqual(Base64URL.encode(Array("hi?".utf8)), "aGk_")
    }

    func testPeerAddressParsing() throws {
        XCTAssertEqual(try PeerAddress(parsing: "127.0.0.1:3000"), PeerAddress(host: "127.0.0.1", port: 3000))
        XCTAssertEqual(try PeerAddress(parsing: "[::1]:4000"), PeerAddress(host: "::1", port: 4000))
        XCTAssertEqual(PeerAddress(host: "::1", port: 4000).description, "[::1]:4000")
        XCTAssertThrowsError(try PeerAddress(parsing: "localhost"))
        XCTAssertThrowsError(try PeerAddress(parsing: "host:99999"))
        XCTAssertThrowsError(try PeerAddress(parsing: ":80"))
    }

    /// Found by the `addresses` fuzz target: ":]:8" parsed as the host ":]", which prints as
    /// "[:]]:8", which does not parse. Hosts are printable ASCII without brackets now, so every
    /// parsed address prints as text that parses back to it.
    func testEveryParsedPeerAddressPrintsAsTextThatParsesBack() throws {
        for text in [
            ":]:8", "a]:1", "x]:y:1", "[ a]:1", "[a b]:1", "x[y:1", "[[::1]]:1", "h\u{e9}te:80", "a\u{301}:1",
            "[\u{9b}]:1", "\u{600}x:1", "[a\u{0}]:1",
        ] {
            XCTAssertThrowsError(try PeerAddress(parsing: text), text)
        }
        for text in [
            "127.0.0.1:3000", "[::1]:4000", "::1:4000", "[fe80::1%eth0]:65535", " localhost:0 ",
            "node-7.example_net:+1",
            "[127.0.0.1]:9",
        ] {
            let address = try PeerAddress(parsing: text)
            XCTAssertEqual(try PeerAddress(parsing: address.description), address, text)
        }
    }
}
