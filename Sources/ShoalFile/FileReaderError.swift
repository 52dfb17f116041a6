import ShoalCore

/// Reading a file failed. `description` says what happened and what to do.
public struct FileReaderError: Error, CustomStringConvertible, Sendable {
    /// The kind of failure. New codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The address has no key but the file is private.
        public static let keyRequired = Code("keyRequired")
        /// The address's key does not open the file's root manifest.
        public static let wrongKey = Code("wrongKey")
        /// An object's bytes do not match its ID, fail authentication, or contradict the manifest.
        public static let corrupt = Code("corrupt")
        /// The requested range starts past the end of the file.
        public static let rangeNotSatisfiable = Code("rangeNotSatisfiable")
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
