import ShoalCore

/// Bit and nibble access for key ranges (prefixes of the 256-bit key space).
extension Key256 {
    /// Word `index` (0 = most significant).
    @inline(__always)
    func word(_ index: Int) -> UInt64 {
        switch index {
        case 0: return words.0
        case 1: return words.1
        case 2: return words.2
        default: return words.3
        }
    }

    @inline(__always)
    static func fromWords(_ w0: UInt64, _ w1: UInt64, _ w2: UInt64, _ w3: UInt64) -> Key256 {
        Key256(words: (w0, w1, w2, w3))
    }

    /// The first `length` bits (0...256) of this key, the rest zero.
    func keepingPrefix(_ length: Int) -> Key256 {
        @inline(__always) func mask(_ word: Int) -> UInt64 {
            let kept = length - 64 * word
            if kept >= 64 { return .max }
            if kept <= 0 { return 0 }
            return ~(UInt64.max >> UInt64(kept))
        }
        return .fromWords(words.0 & mask(0), words.1 & mask(1), words.2 & mask(2), words.3 & mask(3))
    }

    /// This key with every bit from `length` (0...256) on set to one: the largest key with the
    /// same first `length` bits.
    func fillingSuffix(from length: Int) -> Key256 {
        @inline(__always) func ones(_ word: Int) -> UInt64 {
            let kept = length - 64 * word
            if kept >= 64 { return 0 }
            if kept <= 0 { return .max }
            return UInt64.max >> UInt64(kept)
        }
        return .fromWords(words.0 | ones(0), words.1 | ones(1), words.2 | ones(2), words.3 | ones(3))
    }

    /// Nibble `index` (0...63, 0 = the most significant four bits).
    @inline(__always)
    func nibble(_ index: Int) -> Int {
        let shift = UInt64(60 - (index % 16) * 4)
        return Int((word(index / 16) >> shift) & 0xf)
    }

    /// The `count` bits (1...4) starting at bit `start`, which must lie in one nibble, as an integer.
    @inline(__always)
    func bits(from start: Int, count: Int) -> Int {
        let shift = UInt64(64 - (start % 64) - count)
        return Int((word(start / 64) >> shift) & ((1 << UInt64(count)) - 1))
    }

    /// A copy with the `count` bits (1...4) starting at bit `start`, which must lie in one nibble,
    /// set to `value`.
    func settingBits(from start: Int, count: Int, to value: Int) -> Key256 {
        let shift = UInt64(64 - (start % 64) - count)
        let mask = ((UInt64(1) << UInt64(count)) - 1) << shift
        var w = [words.0, words.1, words.2, words.3]
        w[start / 64] = (w[start / 64] & ~mask) | ((UInt64(value) << shift) & mask)
        return .fromWords(w[0], w[1], w[2], w[3])
    }
}
