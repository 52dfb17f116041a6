import ShoalCore
import ShoalWire

/// An object this node must keep (it was uploaded here or placed here), and the file it belongs to.
public struct PinnedObject: Hashable, Sendable {
    public var id: ContentID
    /// The root manifest ID of the file the object belongs to (or, while an upload is still
    /// running, the upload's provisional ID; see ``MetadataStore/reassignPins(from:to:)``).
    public var root: ContentID
    public var kind: ObjectKind

    public init(id: ContentID, root: ContentID, kind: ObjectKind) {
        self.id = id
        self.root = root
        self.kind = kind
    }
}

extension ObjectKind {
    /// The value stored in the metadata database (the same numbers as the wire enum).
    var databaseValue: Int {
        switch self {
        case .chunk: return 0
        case .manifest: return 1
        }
    }

    init?(databaseValue: Int) {
        switch databaseValue {
        case 0: self = .chunk
        case 1: self = .manifest
        default: return nil
        }
    }
}
