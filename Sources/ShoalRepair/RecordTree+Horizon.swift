import ShoalCore

extension RecordTree {
    /// Moves the tree to a later tombstone horizon: every tombstone it expires is removed from its
    /// record (changing that record's digest identically on every node at that horizon), and a
    /// record left empty is removed. A horizon at or before the current one changes nothing.
    ///
    /// The shell then forgets the same tombstones in its metadata store: exactly those with
    /// `deletedAt < horizon.cutoff`.
    /// - Parameter newHorizon: the horizon to move to.
    /// - Returns: how many tombstones expired.
    @discardableResult
    public mutating func advanceHorizon(to newHorizon: TombstoneHorizon) -> Int {
        guard newHorizon > horizon else { return 0 }
        horizon = newHorizon
        var due: Set<ContentID> = []
        var kept: [(deletedAt: Timestamp, id: ContentID)] = []
        for entry in expiries {
            if entry.deletedAt < newHorizon.cutoff { due.insert(entry.id) } else { kept.append(entry) }
        }
        expiries = kept
        var expired = 0
        for id in due.sorted() {
            guard let record = record(id) else { continue }
            let pruned = record.pruned(at: newHorizon)
            guard pruned != record else { continue }
            expired += record.tombstones.count - pruned.tombstones.count
            upsert(pruned)
        }
        return expired
    }

    /// Tombstones held, over all records.
    public var tombstoneCount: Int {
        var total = 0
        var seen: Set<ContentID> = []
        for entry in expiries where seen.insert(entry.id).inserted {
            total += record(entry.id)?.tombstones.count ?? 0
        }
        return total
    }
}
