/// A metadata store operation failed. `description` says what happened and what to do.
public struct MetadataStoreError: Error, CustomStringConvertible, Sendable {
    /// The kind of failure. New codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The database was written by a newer Shoal whose schema this build does not know.
        public static let schemaTooNew = Code("schemaTooNew")
        /// SQLite reported an error (I/O, corruption, a full disk).
        public static let database = Code("database")
        /// A stored record could not be decoded.
        public static let invalidRecord = Code("invalidRecord")
        /// SQLite found the database corrupt or truncated; the node refuses to use it.
        public static let damaged = Code("damaged")
        /// The disk is full; the change was rolled back.
        public static let diskFull = Code("diskFull")
    }

    public let code: Code
    public let description: String

    init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }

    /// The database at `path` is damaged; says what it holds and what to do.
    static func damaged(_ path: String, _ detail: String) -> MetadataStoreError {
        MetadataStoreError(
            .damaged,
            """
            the metadata database \(path) is damaged (\(detail)). It holds the keyring (the keys of the \
            private files put through this node), who owns each stored object, and the tombstones of deleted \
            ones, so the node does not start on it and nothing was changed. Restore it from a backup; or move \
            it aside to start with an empty one: the stored chunks are then kept as unchecked copies until \
            their owners are re-learned from the other holders, and the keys in the keyring are lost
            """)
    }
}
