import ShoalCore

/// A chunk store operation failed. `code` says what kind of failure it was; `description` says
/// what happened and what to do about it.
public struct ChunkStoreError: Error, CustomStringConvertible, Sendable {
    /// The kind of failure. New codes may be added; match the ones you handle and treat the rest
    /// as generic I/O failures.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The store does not hold the object.
        public static let notFound = Code("notFound")
        /// The object's bytes on disk no longer hash to its ID; it was moved to quarantine.
        public static let corrupt = Code("corrupt")
        /// The bytes offered for storage do not hash to the ID they were offered under.
        public static let hashMismatch = Code("hashMismatch")
        /// Storing the object would exceed the store's byte limit (`--max-storage`).
        public static let capacityExceeded = Code("capacityExceeded")
        /// The file system ran out of space (or quota) while storing the object.
        public static let diskFull = Code("diskFull")
        /// The object is larger than any object Shoal stores.
        public static let objectTooLarge = Code("objectTooLarge")
        /// A ranged read started past the end of the object.
        public static let rangeOutOfBounds = Code("rangeOutOfBounds")
        /// Another process holds the data directory.
        public static let directoryInUse = Code("directoryInUse")
        /// Any other file-system failure.
        public static let io = Code("io")
    }

    public let code: Code
    /// The object concerned, when there is one.
    public let id: ContentID?
    public let description: String

    init(_ code: Code, id: ContentID?, _ description: String) {
        self.code = code
        self.id = id
        self.description = description
    }
}
