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
