import ShoalCore

extension Key256 {
    /// `self == other`, comparing the four words directly.
    ///
    /// `Key256`'s `==` compares its word tuples, which in an unoptimised build asks the runtime
    /// for tuple metadata on every call; the membership core compares node IDs in its inner loops
    /// (message deduplication, accusers), which the large simulations run millions of times.
    @inline(__always)
    func hasSameWords(as other: Key256) -> Bool {
        words.0 == other.words.0 && words.1 == other.words.1 && words.2 == other.words.2
            && words.3 == other.words.3
    }
}
