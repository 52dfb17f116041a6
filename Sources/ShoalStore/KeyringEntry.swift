import ShoalCore

/// A file uploaded through this node: its address (with the key, for a private file) and what the
/// uploader called it.
public struct KeyringEntry: Hashable, Sendable {
    /// The file's address; `address.key` is `nil` for a public file.
    public var address: FileAddress
    /// Plaintext size in bytes.
    public var size: UInt64
    /// The name given at upload (for listings only; not part of the address).
    public var name: String
    /// When it was uploaded (wall clock: nanoseconds since the Unix epoch).
    public var createdAt: Timestamp

    public init(address: FileAddress, size: UInt64, name: String, createdAt: Timestamp) {
        self.address = address
        self.size = size
        self.name = name
        self.createdAt = createdAt
    }

    public var root: ContentID { address.root }
    public var isPublic: Bool { address.isPublic }
}
