/// What a stored object's bytes are. The raw values are the wire enum's and the metadata
/// store's; merging two records that disagree keeps the larger (``manifest``).
public enum ObjectKind: UInt8, Sendable, Hashable, Comparable, CustomStringConvertible {
    /// A data chunk (sealed for a private file, plaintext for a public one).
    case chunk = 0
    /// A manifest node: a file's root or an interior node of its manifest tree.
    case manifest = 1

    public static func < (a: ObjectKind, b: ObjectKind) -> Bool { a.rawValue < b.rawValue }

    public var description: String {
        switch self {
        case .chunk: return "chunk"
        case .manifest: return "manifest"
        }
    }
}

/// Size bounds shared by every layer: the chunker, the stores, the wire and the manifest reader.
public enum ObjectSize {
    /// The smallest chunk size a file may use: 64 KiB.
    public static let minimumChunk = 64 << 10
    /// The default chunk size: 1 MiB.
    public static let defaultChunk = 1 << 20
    /// The largest chunk size a file may use: 8 MiB.
    public static let maximumChunk = 8 << 20
    /// AEAD tag bytes added to every sealed object.
    public static let sealOverhead = 16
    /// The largest object stored or sent: an 8 MiB chunk plus its tag (manifest nodes are smaller).
    public static let maximum = maximumChunk + sealOverhead
}
