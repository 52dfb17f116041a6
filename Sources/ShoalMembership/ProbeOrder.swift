/// The order in which members are probed: a randomised round robin over member slots (SWIM
/// section 4.3).
///
/// Each round walks a fresh pseudorandom permutation of the slots (``SlotPermutation``), so every
/// member is probed once per round in an order that changes every round. A member added mid-round
/// in a slot the walk has not reached yet is probed this round, otherwise the next: the time to
/// first probe a member stays below two rounds (`2n − 1` periods), unlike uniform random choice,
/// whose worst case is unbounded.
struct ProbeOrder: Hashable, Sendable {
    private var permutation: SlotPermutation?
    private var position: UInt64 = 0

    /// The next slot to probe: the next slot of this round's walk that is below `slotCount` and
    /// `isProbeable`; a new round starts when the walk is done.
    /// - Returns: `nil` when no slot qualified during a whole fresh round.
    mutating func next(
        slotCount: Int,
        using rng: inout some RandomNumberGenerator,
        isProbeable: (Int32) -> Bool
    ) -> Int32? {
        guard slotCount > 0 else { return nil }
        var freshRounds = 0
        while true {
            if permutation.map({ position >= $0.domain }) ?? true {
                guard freshRounds == 0 else { return nil }
                freshRounds += 1
                permutation = SlotPermutation(covering: slotCount, using: &rng)
                position = 0
            }
            let value = permutation!.value(at: position)
            position += 1
            if value < UInt64(slotCount), isProbeable(Int32(value)) { return Int32(value) }
        }
    }
}
