/// A numeric IP address parsed from its textual form, without touching the network.
///
/// Accepts IPv4 dotted quads (`"203.0.113.7"`, four decimal parts 0–255, no leading zeros) and the
/// IPv6 textual forms of RFC 4291 §2.2 (`"2001:db8::1"`, `"::"`, `"::ffff:192.0.2.1"`), optionally
/// in brackets and with a zone suffix (`"fe80::1%eth0"`). IPv4-mapped IPv6 addresses
/// (`::ffff:a.b.c.d`) are reported as IPv4.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(UInt32)
    case v6(high: UInt64, low: UInt64)

    /// Parses `text` as an IPv4 or IPv6 address.
    /// - Parameter text: the host part of an address, e.g. `PeerAddress.host`.
    /// - Returns: `nil` when `text` is not a numeric address (for example a DNS name).
    public init?(_ text: some StringProtocol) {
        var utf8 = Array(text.utf8)
        if utf8.first == UInt8(ascii: "["), utf8.last == UInt8(ascii: "]") {
            utf8 = Array(utf8.dropFirst().dropLast())
        }
        if let v4 = IPAddress.parseV4(utf8[...]) {
            self = .v4(v4)
            return
        }
        if let zone = utf8.firstIndex(of: UInt8(ascii: "%")) {
            utf8 = Array(utf8[..<zone])
        }
        guard let (high, low) = IPAddress.parseV6(utf8) else { return nil }
        if high == 0, low >> 32 == 0xffff {
            self = .v4(UInt32(truncatingIfNeeded: low))
        } else {
            self = .v6(high: high, low: low)
        }
    }

    /// `true` for loopback (127.0.0.0/8, ::1), private (10/8, 172.16/12, 192.168/16, fc00::/7) and
    /// link-local (169.254/16, fe80::/10) addresses: the ranges where IP-diversity caps are off.
    public var isLoopbackOrPrivate: Bool {
        switch self {
        case .v4(let a):
            let first = a >> 24
            let second = (a >> 16) & 0xff
            return first == 127 || first == 10
                || (first == 172 && (16...31).contains(second))
                || (first == 192 && second == 168)
                || (first == 169 && second == 254)
        case .v6(let high, let low):
            if high == 0 && low == 1 { return true }
            let top16 = high >> 48
            return top16 & 0xfe00 == 0xfc00 || top16 & 0xffc0 == 0xfe80
        }
    }

    public var description: String {
        switch self {
        case .v4(let a):
            return "\(a >> 24).\((a >> 16) & 0xff).\((a >> 8) & 0xff).\(a & 0xff)"
        case .v6(let high, let low):
            var groups: [String] = []
            for word in [high, low] {
                for shift in stride(from: 48, through: 0, by: -16) {
                    let group: UInt64 = (word >> UInt64(shift)) & 0xffff
                    groups.append(String(group, radix: 16))
                }
            }
            return groups.joined(separator: ":")
        }
    }

    // MARK: Parsing

    private static func parseV4(_ text: ArraySlice<UInt8>) -> UInt32? {
        let parts = text.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy(isDecimalDigit) else { return nil }
            if part.count > 1 && part.first == UInt8(ascii: "0") { return nil }
            let octet = part.reduce(UInt32(0)) { $0 * 10 + UInt32($1 - UInt8(ascii: "0")) }
            guard octet <= 255 else { return nil }
            value = value << 8 | octet
        }
        return value
    }

    /// Parses the eight 16-bit groups of an IPv6 address.
    private static func parseV6(_ text: [UInt8]) -> (UInt64, UInt64)? {
        guard !text.isEmpty else { return nil }
        let colon = UInt8(ascii: ":")
        // Split at the single allowed "::".
        var doubleColon: Int?
        var i = 0
        while i + 1 < text.count {
            if text[i] == colon && text[i + 1] == colon {
                guard doubleColon == nil else { return nil }
                doubleColon = i
                i += 2
            } else {
                i += 1
            }
        }
        let head: ArraySlice<UInt8>
        let tail: ArraySlice<UInt8>
        if let dc = doubleColon {
            head = text[..<dc]
            tail = text[(dc + 2)...]
        } else {
            head = text[...]
            tail = []
        }
        guard var headGroups = groups(head, allowIPv4Tail: doubleColon == nil),
            let tailGroups = groups(tail, allowIPv4Tail: true)
        else { return nil }
        if let _ = doubleColon {
            guard headGroups.count + tailGroups.count <= 7 else { return nil }
            headGroups += Array(repeating: 0, count: 8 - headGroups.count - tailGroups.count)
            headGroups += tailGroups
        } else {
            guard headGroups.count == 8 else { return nil }
        }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for g in headGroups[0..<4] { high = high << 16 | UInt64(g) }
        for g in headGroups[4..<8] { low = low << 16 | UInt64(g) }
        return (high, low)
    }

    /// Colon-separated hex groups; the last one may be a dotted quad (two groups).
    private static func groups(_ text: ArraySlice<UInt8>, allowIPv4Tail: Bool) -> [UInt16]? {
        if text.isEmpty { return [] }
        let parts = text.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        var out: [UInt16] = []
        for (index, part) in parts.enumerated() {
            if index == parts.count - 1, allowIPv4Tail, part.contains(UInt8(ascii: ".")) {
                guard let v4 = parseV4(part) else { return nil }
                out.append(UInt16(v4 >> 16))
                out.append(UInt16(v4 & 0xffff))
                continue
            }
            guard (1...4).contains(part.count) else { return nil }
            var value: UInt16 = 0
            for c in part {
                guard let n = hexValue(c) else { return nil }
                value = value << 4 | UInt16(n)
            }
            out.append(value)
        }
        return out.count <= 8 ? out : nil
    }

    private static func isDecimalDigit(_ c: UInt8) -> Bool {
        c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
