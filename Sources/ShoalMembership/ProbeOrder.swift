import ShoalCore

/// The order in which members are probed: a shuffled round robin (SWIM section 4.3).
///
/// Every member is probed once per round; the order is reshuffled at the start of each round,
/// and a member learned mid-round is inserted at a random position, so the worst-case time to
/// first detect a failure is bounded by `2n − 1` periods rather than being unbounded as with
/// uniform random choice.
struct ProbeOrder: Hashable, Sendable {
    private(set) var ids: [NodeID] = []
    private var index = 0

    var count: Int { ids.count }
    var isEmpty: Bool { ids.isEmpty }

    /// Adds many members at once (e.g. initial members) and reshuffles.
    mutating func insert(contentsOf newIDs: [NodeID], using rng: inout some RandomNumberGenerator) {
        ids.append(contentsOf: newIDs)
        ids.shuffle(using: &rng)
        index = 0
    }

    /// Inserts `id` at a random position; positions already passed this round shift the cursor.
    mutating func insert(_ id: NodeID, using rng: inout some RandomNumberGenerator) {
        let position = Int.random(in: 0...ids.count, using: &rng)
        ids.insert(id, at: position)
        if position < index { index += 1 }
    }

    mutating func remove(_ id: NodeID) {
        guard let position = ids.firstIndex(of: id) else { return }
        ids.remove(at: position)
        if position < index { index -= 1 }
    }

    /// The next member to probe, reshuffling when a round is complete.
    mutating func next(using rng: inout some RandomNumberGenerator) -> NodeID? {
        guard !ids.isEmpty else { return nil }
        if index >= ids.count {
            ids.shuffle(using: &rng)
            index = 0
        }
        defer { index += 1 }
        return ids[index]
    }

    /// A uniformly random member, or `nil` when there is none.
    func randomElement(using rng: inout some RandomNumberGenerator) -> NodeID? {
        ids.randomElement(using: &rng)
    }
}
