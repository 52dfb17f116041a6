import ShoalCore
import ShoalRepair

/// Node `k`'s contact; its ID is `k`, so its XOR distance to an object with a zero high part is
/// ordered by `k` when the object's low word is small.
func node(_ k: UInt64) -> Contact {
    Contact(id: Key256(words: (0, 0, 0, k << 8)), address: PeerAddress(host: "127.0.0.\(k % 250 + 1)", port: 7000))
}

/// Object `i`: its ID differs from every test node's in the lowest byte only.
func object(_ i: UInt64) -> ContentID { Key256(words: (0, 0, 0, i & 0xff)) }

func pushes(_ plan: RepairPlan) -> [(ContentID, Contact)] {
    plan.actions.compactMap { if case .push(let id, let to) = $0 { return (id, to) } else { return nil } }
}
