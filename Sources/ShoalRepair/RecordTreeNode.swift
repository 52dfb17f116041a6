/// One node of a ``RecordTree``: the records under one nibble-aligned key prefix.
struct RecordTreeNode: Sendable {
    /// Index of "no child".
    static let none: Int32 = -1

    /// Records in this subtree.
    var count: Int = 0
    /// The subtree's hash, or `nil` when a change below has made it stale.
    var hash: RangeHash?
    /// Empty for a leaf; otherwise 16 node indices, one per next nibble (``none`` when empty).
    var children: [Int32] = []
    /// A leaf's records, ascending by ID (empty for an internal node).
    var records: [StoredRecord] = []

    var isLeaf: Bool { children.isEmpty }
}
