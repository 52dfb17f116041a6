import ShoalCore

extension RepairPlanner {
    /// Plans one round from per-object placements, the first model's input: a node listed in
    /// ``ObjectPlacement/holders`` holds the object, any other lacks it (never unknown); deleted
    /// objects are skipped, not discarded.
    ///
    /// Kept so that a shell still confirming holders object by object keeps working; prefer
    /// ``plan(inventory:now:evidence:closest:)``, fed by anti-entropy.
    /// - Parameters:
    ///   - inventory: the objects this node holds.
    ///   - now: the current time (expires in-flight pushes).
    ///   - placement: the current placement of an object; called once per object not deleted.
    /// - Returns: pushes (most endangered first) then drops, with the backlog left by the limits.
    public mutating func plan(
        inventory: some Sequence<InventoryEntry>,
        now: Timestamp,
        placement: (ContentID) -> ObjectPlacement
    ) -> RepairPlan {
        let entries = Array(inventory)
        var placements: [ContentID: ObjectPlacement] = [:]
        for entry in entries where !entry.isDeleted { placements[entry.id] = placement(entry.id) }
        return plan(inventory: entries, now: now, freeDeleted: false, closest: { placements[$0]?.closest ?? [] }) {
            placements[$0]?.holders.contains($1) ?? false
        }
    }

    /// Plans a hand-off from per-object placements, the first model's input (see
    /// ``plan(inventory:now:placement:)``); prefer ``leavePlan(inventory:now:evidence:closest:)``.
    /// - Parameters:
    ///   - inventory: the objects this node holds.
    ///   - now: the current time (expires in-flight pushes).
    ///   - placement: the current placement of an object; should list `r + 1` nodes when this
    ///     node is among them.
    /// - Returns: pushes, most endangered first, with the backlog left by the limits.
    public mutating func leavePlan(
        inventory: some Sequence<InventoryEntry>,
        now: Timestamp,
        placement: (ContentID) -> ObjectPlacement
    ) -> RepairPlan {
        let entries = Array(inventory)
        var placements: [ContentID: ObjectPlacement] = [:]
        for entry in entries where !entry.isDeleted { placements[entry.id] = placement(entry.id) }
        return leavePlan(inventory: entries, now: now, closest: { placements[$0]?.closest ?? [] }) {
            placements[$0]?.holders.contains($1) ?? false
        }
    }
}
