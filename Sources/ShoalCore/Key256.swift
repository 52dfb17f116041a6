import Crypto
import Foundation

/// A 256-bit identifier in Shoal's single key space: node IDs and content IDs are both
/// SHA-256 digests, so the XOR distance between any two is defined.
///
/// Stored as four big-endian words so that comparison, XOR and leading-zero counts are cheap.
public struct Key256: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Most significant word first.
    public var words: (UInt64, UInt64, UInt64, UInt64)

    public static let byteCount = 32
    public static let bitCount = 256
    public static let zero = Key256(words: (0, 0, 0, 0))

    public init(words: (UInt64, UInt64, UInt64, UInt64)) {
        self.words = words
    }

    /// Creates a key from exactly 32 bytes, most significant first.
    /// - Returns: `nil` when `bytes` is not 32 bytes long.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Key256.byteCount else { return nil }
        var w: [UInt64] = [0, 0, 0, 0]
        for (i, b) in bytes.enumerated() {
            w[i / 8] = (w[i / 8] << 8) | UInt64(b)
        }
        self.words = (w[0], w[1], w[2], w[3])
    }

    /// Parses 64 hexadecimal digits (either case).
    public init?(hex: some StringProtocol) {
        guard hex.utf8.count == 64 else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity(32)
        var iterator = hex.utf8.makeIterator()
        while let hi = iterator.next(), let lo = iterator.next() {
            guard let h = Key256.nibble(hi), let l = Key256.nibble(lo) else { return nil }
            bytes.append(h << 4 | l)
        }
        self.init(bytes: bytes)
    }

    /// The SHA-256 digest of `data`.
    public static func sha256(of data: some DataProtocol) -> Key256 {
        Key256(digest: SHA256.hash(data: data))
    }

    public init(digest: SHA256.Digest) {
        self.init(bytes: Array(digest))!
    }

    /// A uniformly random key.
    public static func random(using rng: inout some RandomNumberGenerator) -> Key256 {
        Key256(words: (rng.next(), rng.next(), rng.next(), rng.next()))
    }

    public var bytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(32)
        for word in [words.0, words.1, words.2, words.3] {
            for shift in stride(from: 56, through: 0, by: -8) {
                out.append(UInt8(truncatingIfNeeded: word >> UInt64(shift)))
            }
        }
        return out
    }

    /// Lowercase hexadecimal, 64 characters.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The first 8 hex digits, for logs.
    public var short: String { String(hex.prefix(8)) }

    public var description: String { hex }

    /// XOR distance.
    public static func ^ (lhs: Key256, rhs: Key256) -> Key256 {
        Key256(
            words: (
                lhs.words.0 ^ rhs.words.0, lhs.words.1 ^ rhs.words.1,
                lhs.words.2 ^ rhs.words.2, lhs.words.3 ^ rhs.words.3
            ))
    }

    /// The XOR distance to `other`, comparable with `<`.
    public func distance(to other: Key256) -> Key256 { self ^ other }

    /// Number of leading zero bits (256 for zero).
    public var leadingZeroBitCount: Int {
        if words.0 != 0 { return words.0.leadingZeroBitCount }
        if words.1 != 0 { return 64 + words.1.leadingZeroBitCount }
        if words.2 != 0 { return 128 + words.2.leadingZeroBitCount }
        return 192 + words.3.leadingZeroBitCount
    }

    /// The value of bit `index`, 0 being the most significant.
    public func bit(_ index: Int) -> Bool {
        let word = [words.0, words.1, words.2, words.3][index / 64]
        return (word >> UInt64(63 - index % 64)) & 1 == 1
    }

    /// Returns a copy with bit `index` (0 = most significant) set to `value`.
    public func settingBit(_ index: Int, to value: Bool) -> Key256 {
        var w = [words.0, words.1, words.2, words.3]
        let mask = UInt64(1) << UInt64(63 - index % 64)
        if value { w[index / 64] |= mask } else { w[index / 64] &= ~mask }
        return Key256(words: (w[0], w[1], w[2], w[3]))
    }

    public static func == (lhs: Key256, rhs: Key256) -> Bool {
        lhs.words == rhs.words
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }

    public static func < (lhs: Key256, rhs: Key256) -> Bool {
        if lhs.words.0 != rhs.words.0 { return lhs.words.0 < rhs.words.0 }
        if lhs.words.1 != rhs.words.1 { return lhs.words.1 < rhs.words.1 }
        if lhs.words.2 != rhs.words.2 { return lhs.words.2 < rhs.words.2 }
        return lhs.words.3 < rhs.words.3
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// A node's identity: SHA-256 of its public key (SubjectPublicKeyInfo DER).
public typealias NodeID = Key256

/// An object's identity: SHA-256 of its bytes as stored.
public typealias ContentID = Key256

extension Key256 {
    /// `true` when `a` is strictly closer to `self` than `b` by XOR distance.
    public func isCloser(_ a: Key256, than b: Key256) -> Bool {
        (a ^ self) < (b ^ self)
    }
}
