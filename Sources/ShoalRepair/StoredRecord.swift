/// A record in a ``RecordTree`` leaf, with its digest computed once.
struct StoredRecord: Hashable, Sendable {
    var record: ObjectRecord
    var digest: RangeHash

    init(_ record: ObjectRecord) {
        self.record = record
        self.digest = record.digest
    }
}
