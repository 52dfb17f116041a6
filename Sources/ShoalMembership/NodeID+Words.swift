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

/// A node ID as a dictionary key: compared word by word, hashed by its first word.
///
/// Node IDs are SHA-256 digests, so one word is as well spread as all four, and Swift's hashing is
/// seeded per process, so a peer cannot aim IDs at one bucket. Hashing one word and comparing
/// without tuples makes the membership core's dictionaries several times cheaper in unoptimised
/// builds, where simulations of thousands of nodes run.
struct NodeKey: Hashable, Sendable {
    let id: NodeID

    @inline(__always)
    init(_ id: NodeID) { self.id = id }

    static func == (a: NodeKey, b: NodeKey) -> Bool { a.id.hasSameWords(as: b.id) }

    func hash(into hasher: inout Hasher) { hasher.combine(id.words.0) }
}
