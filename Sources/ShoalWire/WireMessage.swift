import Foundation
import NIOCore
import ShoalCore
import ShoalRepair

/// The protocol version this build speaks (`Hello.protocol_version`).
public let shoalProtocolVersion: UInt32 = 1

/// One frame on a peer connection: a correlation id and a body.
public struct WireFrame: Sendable, Equatable {
    /// Request id; responses echo it. 0 for Hello and for connection-level errors.
    public var id: UInt64
    public var message: WireMessage

    public init(id: UInt64, _ message: WireMessage) {
        self.id = id
        self.message = message
    }
}

/// Every body a frame can carry, as domain values. See `Protocol/README.md` for their meaning.
public enum WireMessage: Sendable, Equatable {
    case hello(Hello)
    case ping(payload: Data)
    case pong(payload: Data)
    case findNode(target: Key256)
    case nodes([Contact])
    case findValue(key: ContentID)
    case valueResult(ValueResult)
    case storeChunk(StoreChunk)
    case storeAck(StoreAck)
    case getChunk(GetChunk)
    case chunkData(ChunkData)
    case delete(DeleteRequest)
    case deleteAck(DeleteAck)
    case gossip(GossipMessage)
    case error(WireError)
    /// One-way: the copy the receiver served does not hash to its ID.
    case badCopy(ContentID)
    /// Anti-entropy (capability `anti-entropy`): a request of an exchange session.
    case antiEntropyRequest(ExchangeRequest)
    /// The answer to an ``antiEntropyRequest(_:)``, with the responder's tombstone horizon.
    case antiEntropyAnswer(ExchangeAnswer, horizon: TombstoneHorizon)
    /// Records the receiver should merge into its own.
    case shareRecords([ObjectRecord])
    /// How many shared records changed the receiver's.
    case shareRecordsAck(merged: UInt32)
    /// Asks for the signed Delete with this ID (SHA-256 of its canonical encoding).
    case getDelete(Key256)
    /// A signed Delete's canonical encoding (``DeleteRequest/canonicalBytes``).
    case signedDelete([UInt8])

    /// `true` for the bodies that answer a request.
    public var isResponse: Bool {
        switch self {
        case .pong, .nodes, .valueResult, .storeAck, .chunkData, .deleteAck, .error, .antiEntropyAnswer,
            .shareRecordsAck,
            .signedDelete:
            return true
        case .gossip(let g): return g.kind == .ack || g.kind == .nack
        case .hello, .ping, .findNode, .findValue, .storeChunk, .getChunk, .delete, .badCopy, .antiEntropyRequest,
            .shareRecords,
            .getDelete:
            return false
        }
    }

    /// A short name for logs and errors.
    public var name: String {
        switch self {
        case .hello: return "Hello"
        case .ping: return "Ping"
        case .pong: return "Pong"
        case .findNode: return "FindNode"
        case .nodes: return "Nodes"
        case .findValue: return "FindValue"
        case .valueResult: return "ValueResult"
        case .storeChunk: return "StoreChunk"
        case .storeAck: return "StoreAck"
        case .getChunk: return "GetChunk"
        case .chunkData: return "ChunkData"
        case .delete: return "Delete"
        case .deleteAck: return "DeleteAck"
        case .gossip(let g): return "Gossip.\(g.kind)"
        case .error: return "Error"
        case .badCopy: return "BadCopy"
        case .antiEntropyRequest: return "AntiEntropyRequest"
        case .antiEntropyAnswer: return "AntiEntropyAnswer"
        case .shareRecords: return "ShareRecords"
        case .shareRecordsAck: return "ShareRecordsAck"
        case .getDelete: return "GetDelete"
        case .signedDelete: return "SignedDelete"
        }
    }
}

public struct Hello: Sendable, Equatable {
    public var protocolVersion: UInt32
    public var nodeID: NodeID
    /// Where the sender accepts connections; `nil` for a client-only peer.
    public var listenAddress: PeerAddress?
    public var capabilities: [String]
    public var agent: String

    public init(
        protocolVersion: UInt32 = shoalProtocolVersion, nodeID: NodeID, listenAddress: PeerAddress?,
        capabilities: [String] = ["store", "gossip"], agent: String = ShoalVersion.agent
    ) {
        self.protocolVersion = protocolVersion
        self.nodeID = nodeID
        self.listenAddress = listenAddress
        self.capabilities = capabilities
        self.agent = agent
    }
}

public struct ValueResult: Sendable, Equatable {
    public var held: Bool
    public var size: UInt64
    public var closer: [Contact]
    /// Held as one of the object's `r` replicas, not merely cached for a reader.
    public var replica: Bool
    public init(held: Bool, size: UInt64 = 0, closer: [Contact] = [], replica: Bool = false) {
        self.held = held
        self.size = size
        self.closer = closer
        self.replica = replica
    }
}

public struct StoreChunk: Sendable, Equatable {
    public var id: ContentID
    public var data: ByteBuffer
    public var kind: ObjectKind
    public var root: ContentID
    /// A fresh store's owner (X9.63), or empty.
    public var ownerKey: Data
    /// A repair or hand-off push: accept even if not among the r closest known.
    public var force: Bool
    /// A fresh store's one claim, dated by the node running the upload; a push's claims (every
    /// owner the pusher knows, with when each claimed it).
    public var claims: [OwnerClaim]
    /// A push's tombstones: the owners who deleted the object, so the target does not take their
    /// old claims from elsewhere.
    public var tombstones: [Tombstone]

    /// The most claims and tombstones one store carries, together (a record's bound).
    public static let maximumOwnerEntries = 4096

    public init(
        id: ContentID, data: ByteBuffer, kind: ObjectKind, root: ContentID, ownerKey: Data, force: Bool = false,
        claims: [OwnerClaim] = [], tombstones: [Tombstone] = []
    ) {
        self.id = id
        self.data = data
        self.kind = kind
        self.root = root
        self.ownerKey = ownerKey
        self.force = force
        self.claims = claims
        self.tombstones = tombstones
    }
}

public struct StoreAck: Sendable, Equatable {
    public var stored: Bool
    public var reason: String
    public var closer: [Contact]
    public init(stored: Bool, reason: String = "", closer: [Contact] = []) {
        self.stored = stored
        self.reason = reason
        self.closer = closer
    }
}

public struct GetChunk: Sendable, Equatable {
    public var id: ContentID
    public var offset: UInt64
    /// 0 means to the end.
    public var length: UInt64
    public init(id: ContentID, offset: UInt64 = 0, length: UInt64 = 0) {
        self.id = id
        self.offset = offset
        self.length = length
    }
}

public struct ChunkData: Sendable, Equatable {
    public var id: ContentID
    public var offset: UInt64
    public var totalSize: UInt64
    public var data: ByteBuffer
    public init(id: ContentID, offset: UInt64, totalSize: UInt64, data: ByteBuffer) {
        self.id = id
        self.offset = offset
        self.totalSize = totalSize
        self.data = data
    }
}

public struct DeleteRequest: Sendable, Equatable {
    public var root: ContentID
    public var objects: [ContentID]
    public var issuedAt: Int64
    public var ownerKey: Data
    public var signature: Data

    public static let maximumObjects = 4096
    /// A Delete older than this (seconds) is refused, so a captured one cannot be replayed later.
    public static let maximumAge: Int64 = 3600
    /// How far in the future `issuedAt` may be (seconds), for clock skew.
    public static let maximumClockSkew: Int64 = 300

    public init(root: ContentID, objects: [ContentID], issuedAt: Int64, ownerKey: Data, signature: Data) {
        self.root = root
        self.objects = objects
        self.issuedAt = issuedAt
        self.ownerKey = ownerKey
        self.signature = signature
    }
}

/// What a Delete did on one holder.
public struct DeleteAck: Sendable, Equatable {
    /// Objects removed (the signer's claim was the last) or dropped from the cache.
    public var removed: UInt32
    /// Objects on which the signer had no claim here.
    public var absent: UInt32
    /// Objects whose signer's claim was removed but which other owners keep.
    public var retained: [ContentID]

    public init(removed: UInt32, absent: UInt32, retained: [ContentID] = []) {
        self.removed = removed
        self.absent = absent
        self.retained = retained
    }
}

public struct GossipMessage: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case probe
        case probeRequest
        case ack
        case nack
        case leave
    }
    public var kind: Kind
    public var target: Contact?
    public var updates: [MemberUpdate]

    public static let maximumUpdates = 32

    public init(kind: Kind, target: Contact? = nil, updates: [MemberUpdate] = []) {
        self.kind = kind
        self.target = target
        self.updates = updates
    }
}

/// An `Error` frame: a machine-readable code and a human-readable message.
public struct WireError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: Int, Sendable, Equatable {
        case unspecified = 0
        case badRequest = 1
        case unsupportedVersion = 2
        case identityMismatch = 3
        case notFound = 4
        case capacity = 5
        case forbidden = 6
        case gone = 7
        case hashMismatch = 8
        case overloaded = 9
        case frameTooLarge = 10
        case protocolViolation = 11
        case `internal` = 12
    }
    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
