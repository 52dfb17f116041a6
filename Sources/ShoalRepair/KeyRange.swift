import ShoalCore

/// A range of the 256-bit key space: every key that starts with the same `bitLength` bits as
/// `prefix` (a subtree of the XOR metric's binary trie, as in Kademlia's k-buckets).
///
/// Prefix ranges are either nested or disjoint, and the keys of one are contiguous in key order,
/// so a sorted record set answers "what is in this range" with one seek. Anti-entropy compares
/// ranges and splits a differing range into its ``children``: the ranges one nibble boundary
/// deeper (16 of them for a nibble-aligned range, 2, 4 or 8 to reach the next boundary otherwise).
public struct KeyRange: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The range's first key: its fixed bits, every later bit zero.
    public let prefix: Key256
    /// How many leading bits are fixed, 0 (the whole key space) through 256 (one key).
    public let bitLength: Int

    /// The whole key space.
    public static let everything = KeyRange(unchecked: .zero, bitLength: 0)

    /// Creates a range from its prefix.
    /// - Returns: `nil` when `bitLength` is outside 0...256 or `prefix` has a bit set beyond
    ///   `bitLength` (input from the wire is checked here).
    public init?(prefix: Key256, bitLength: Int) {
        guard (0...Key256.bitCount).contains(bitLength), prefix.keepingPrefix(bitLength) == prefix else { return nil }
        self.prefix = prefix
        self.bitLength = bitLength
    }

    /// The range of `bitLength` bits (clamped to 0...256) that contains `key`.
    public init(containing key: Key256, bitLength: Int) {
        let length = min(max(bitLength, 0), Key256.bitCount)
        self.init(unchecked: key.keepingPrefix(length), bitLength: length)
    }

    init(unchecked prefix: Key256, bitLength: Int) {
        self.prefix = prefix
        self.bitLength = bitLength
    }

    /// The range's last key.
    public var last: Key256 { prefix.fillingSuffix(from: bitLength) }

    /// Whether `key` lies in this range.
    @inline(__always)
    public func contains(_ key: Key256) -> Bool { key.keepingPrefix(bitLength) == prefix }

    /// Whether every key of `other` lies in this range.
    public func contains(_ other: KeyRange) -> Bool {
        other.bitLength >= bitLength && contains(other.prefix)
    }

    /// Whether the two ranges share a key (prefix ranges that overlap are nested).
    public func overlaps(_ other: KeyRange) -> Bool { contains(other) || other.contains(self) }

    /// The bit length of the ``children``: the next multiple of 4 above `bitLength` (at most 256).
    public var childBitLength: Int { min(Key256.bitCount, (bitLength / 4 + 1) * 4) }

    /// How many ``children`` this range has: 16 for a nibble-aligned range, 2, 4 or 8 otherwise,
    /// 0 for a single key.
    public var childCount: Int { bitLength == Key256.bitCount ? 0 : 1 << (childBitLength - bitLength) }

    /// The ranges that split this one at the next nibble boundary, in key order.
    public var children: [KeyRange] {
        let extra = childBitLength - bitLength
        guard extra > 0 else { return [] }
        return (0..<(1 << extra)).map {
            KeyRange(unchecked: prefix.settingBits(from: bitLength, count: extra, to: $0), bitLength: childBitLength)
        }
    }

    /// The two ranges one bit longer, the one whose next bit is zero first.
    /// - Precondition: `bitLength < 256`.
    public var halves: (zero: KeyRange, one: KeyRange) {
        precondition(bitLength < Key256.bitCount, "a single key has no halves")
        return (
            KeyRange(unchecked: prefix, bitLength: bitLength + 1),
            KeyRange(unchecked: prefix.settingBit(bitLength, to: true), bitLength: bitLength + 1)
        )
    }

    /// The ranges that cover this one except `inner` (which it must contain): the siblings along
    /// the path from this range down to `inner`, at most `inner.bitLength − bitLength` of them, in
    /// key order. Empty when `inner` is this range.
    public func excluding(_ inner: KeyRange) -> [KeyRange] {
        precondition(contains(inner), "\(inner) is not inside \(self)")
        return (bitLength..<inner.bitLength).map { bit in
            KeyRange(
                unchecked: inner.prefix.keepingPrefix(bit + 1).settingBit(bit, to: !inner.prefix.bit(bit)),
                bitLength: bit + 1)
        }.sorted()
    }

    /// Key order of the first keys; a range sorts before the ranges nested in it.
    public static func < (a: KeyRange, b: KeyRange) -> Bool {
        a.prefix != b.prefix ? a.prefix < b.prefix : a.bitLength < b.bitLength
    }

    /// The fixed bits in hexadecimal (whole nibbles, rounded up), a slash and the bit length:
    /// `3a/7`, `*/0` for the whole key space.
    public var description: String {
        guard bitLength > 0 else { return "*/0" }
        return "\(prefix.hex.prefix((bitLength + 3) / 4))/\(bitLength)"
    }
}
