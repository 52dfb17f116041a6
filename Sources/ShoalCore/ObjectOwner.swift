/// An owner of stored objects: the public key its Deletes are signed with (P-256, X9.63 or SPKI
/// DER, as `StoreChunk.owner_key` carries it), compared byte by byte.
public struct ObjectOwner: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The longest key accepted, in bytes (SPKI DER for P-256 is 91).
    public static let maximumKeyLength = 128

    /// The owner named by tombstones recorded before tombstones named their owner (a metadata
    /// store migrated from the first schema): one zero byte, which is no valid public key.
    public static let unattributed = ObjectOwner(unchecked: [0])

    /// The owner of anonymous stores (no owner key): the empty key, which no signed Delete can
    /// name, so content stored anonymously stays while its claim does.
    public static let anonymous = ObjectOwner(unchecked: [])

    /// Whether this is ``anonymous``.
    public var isAnonymous: Bool { key.isEmpty }

    /// The key bytes.
    public let key: [UInt8]

    /// Creates an owner.
    /// - Returns: `nil` when `key` is empty or longer than ``maximumKeyLength`` bytes.
    public init?(key: [UInt8]) {
        guard !key.isEmpty, key.count <= Self.maximumKeyLength else { return nil }
        self.key = key
    }

    /// Creates the owner named by `key` as stored or received, the empty key being ``anonymous``.
    /// - Returns: `nil` when `key` is longer than ``maximumKeyLength`` bytes.
    public init?(storedKey key: [UInt8]) {
        guard key.count <= Self.maximumKeyLength else { return nil }
        self.key = key
    }

    init(unchecked key: [UInt8]) {
        self.key = key
    }

    /// Byte-wise lexicographic order, a shorter key first when one is a prefix of the other.
    public static func < (a: ObjectOwner, b: ObjectOwner) -> Bool { a.key.lexicographicallyPrecedes(b.key) }

    /// The first 8 hex digits of the key, for logs.
    public var description: String {
        if key.isEmpty { return "anonymous" }
        let digits = Array("0123456789abcdef")
        return String(key.prefix(4).flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xf)]] })
    }
}
