import ShoalCore

/// How this node keeps an object it holds.
public enum ObjectState: Int, Sendable, Hashable, CustomStringConvertible {
    /// One of the object's `r` replicas: kept durably while any owner claims it.
    case replica = 1
    /// A copy kept for readers in the LRU cache: may be evicted at any time.
    case cache = 2
    /// A replica this node held before it was away longer than the tombstone grace period: not
    /// served and not pushed until its claims were checked with the object's other holders.
    case unchecked = 3

    public var description: String {
        switch self {
        case .replica: return "replica"
        case .cache: return "cache"
        case .unchecked: return "unchecked"
        }
    }
}

/// What the metadata says of one object this node holds.
public struct StoredObject: Sendable, Hashable {
    public var id: ContentID
    public var kind: ObjectKind
    /// The object's size in bytes.
    public var size: UInt64
    /// What it takes on disk: its file's allocated blocks plus its share of the metadata.
    public var allocated: UInt64
    public var state: ObjectState

    public init(id: ContentID, kind: ObjectKind, size: UInt64, allocated: UInt64, state: ObjectState) {
        self.id = id
        self.kind = kind
        self.size = size
        self.allocated = allocated
        self.state = state
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

    init?(databaseValue: Int64) {
        switch databaseValue {
        case 0: self = .chunk
        case 1: self = .manifest
        default: return nil
        }
    }
}
