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
    }

    public let code: Code
    public let description: String

    init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }
}
