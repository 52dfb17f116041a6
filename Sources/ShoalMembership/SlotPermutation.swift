/// A pseudorandom permutation of `0 ..< 4^k`, drawn from a random number generator: a balanced
/// Feistel network of four rounds with random round keys.
///
/// It lets ``ProbeOrder`` visit every slot once per round in a fresh random order while storing
/// four numbers instead of a shuffled array (which, for thousands of simulated nodes of thousands
/// of members each, would be the largest thing in memory).
struct SlotPermutation: Hashable, Sendable {
    private let halfBits: UInt64
    private let keys: [UInt64]
    /// The permuted range is `0 ..< domain`, the smallest power of 4 (at least 4) covering the count.
    let domain: UInt64

    /// A fresh permutation of a domain covering `count` values.
    init(covering count: Int, using rng: inout some RandomNumberGenerator) {
        var bits: UInt64 = 1
        while (UInt64(1) << (2 * bits)) < UInt64(max(count, 1)) { bits += 1 }
        halfBits = bits
        domain = UInt64(1) << (2 * bits)
        keys = (0..<4).map { _ in rng.next() }
    }

    /// The value at `index` (in `0 ..< domain`) of the permutation.
    func value(at index: UInt64) -> UInt64 {
        let mask = (UInt64(1) << halfBits) &- 1
        var left = index >> halfBits
        var right = index & mask
        for key in keys {
            let mixed = left ^ (Self.mix(right ^ key) & mask)
            left = right
            right = mixed
        }
        return (left << halfBits) | right
    }

    /// SplitMix64's finaliser: a cheap, well-spread 64-bit mixing function.
    private static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
