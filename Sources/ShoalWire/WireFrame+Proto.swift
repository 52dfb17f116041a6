import Foundation
import NIOCore
import NIOFoundationCompat
import ShoalCore
import ShoalRepair
import SwiftProtobuf

// Conversions between the generated protobuf types (internal to this target) and domain values.
// Every conversion from the wire validates sizes and rejects unknown enum values.

extension WireFrame {
    init(proto: Shoal_V1_Frame) throws {
        guard let body = proto.body else {
            throw FrameError.unknownBody
        }
        let message: WireMessage
        switch body {
        case .hello(let h):
            message = .hello(try Hello(proto: h))
        case .ping(let p):
            guard p.payload.count <= 64 else { throw FrameError.invalid("Ping payload over 64 bytes") }
            message = .ping(payload: p.payload)
        case .pong(let p):
            message = .pong(payload: p.payload)
        case .findNode(let f):
            message = .findNode(target: try Key256(wire: f.target, field: "FindNode.target"))
        case .nodes(let n):
            message = .nodes(try n.contacts.prefix(WireLimits.maximumContacts).map(Contact.init(proto:)))
        case .findValue(let f):
            message = .findValue(key: try Key256(wire: f.key, field: "FindValue.key"))
        case .valueResult(let v):
            message = .valueResult(
                ValueResult(
                    held: v.held, size: v.size,
                    closer: try v.closer.prefix(WireLimits.maximumContacts).map(Contact.init(proto:)),
                    replica: v.replica))
        case .storeChunk(let s):
            guard s.claims.count + s.tombstones.count <= StoreChunk.maximumOwnerEntries else {
                throw FrameError.invalid(
                    "StoreChunk carries \(s.claims.count + s.tombstones.count) claims and tombstones, at most \(StoreChunk.maximumOwnerEntries) allowed"
                )
            }
            message = .storeChunk(
                StoreChunk(
                    id: try Key256(wire: s.id, field: "StoreChunk.id"), data: ByteBuffer(data: s.data),
                    kind: try ObjectKind(proto: s.kind), root: try Key256(wire: s.root, field: "StoreChunk.root"),
                    ownerKey: s.ownerKey, force: s.force,
                    claims: try s.claims.map { try OwnerClaim(proto: $0) },
                    tombstones: try s.tombstones.map { try Tombstone(proto: $0) }))
        case .storeAck(let a):
            message = .storeAck(
                StoreAck(
                    stored: a.stored, reason: a.reason,
                    closer: try a.closer.prefix(WireLimits.maximumContacts).map(Contact.init(proto:))))
        case .getChunk(let g):
            message = .getChunk(
                GetChunk(id: try Key256(wire: g.id, field: "GetChunk.id"), offset: g.offset, length: g.length))
        case .chunkData(let c):
            message = .chunkData(
                ChunkData(
                    id: try Key256(wire: c.id, field: "ChunkData.id"), offset: c.offset,
                    totalSize: c.totalSize, data: ByteBuffer(data: c.data)))
        case .delete(let d):
            message = .delete(try DeleteRequest(proto: d))
        case .deleteAck(let a):
            guard a.retained.count <= DeleteRequest.maximumObjects else {
                throw FrameError.invalid(
                    "DeleteAck lists \(a.retained.count) retained objects, at most \(DeleteRequest.maximumObjects) allowed"
                )
            }
            message = .deleteAck(
                DeleteAck(
                    removed: a.removed, absent: a.absent,
                    retained: try a.retained.map { try Key256(wire: $0, field: "DeleteAck.retained") }))
        case .gossip(let g):
            message = .gossip(try GossipMessage(proto: g))
        case .error(let e):
            let code = WireError.Code(rawValue: e.code.rawValue) ?? .unspecified
            message = .error(WireError(code, String(e.message.prefix(1024))))
        case .badCopy(let b):
            message = .badCopy(try Key256(wire: b.id, field: "BadCopy.id"))
        case .antiEntropyRequest(let r):
            message = .antiEntropyRequest(try ExchangeRequest(proto: r))
        case .antiEntropyAnswer(let a):
            let (answer, horizon) = try ExchangeAnswer.decode(a)
            message = .antiEntropyAnswer(answer, horizon: horizon)
        case .shareRecords(let r):
            message = .shareRecords(
                try ObjectRecord.list(r.records, limit: WireLimits.maximumExchangeRecords, field: "ShareRecords"))
        case .shareRecordsAck(let a):
            message = .shareRecordsAck(merged: a.merged)
        case .getDelete(let g):
            message = .getDelete(try Key256(wire: g.deleteID, field: "GetDelete.delete_id"))
        case .signedDelete(let d):
            guard d.delete.count <= WireLimits.maximumSignedDeleteBytes else {
                throw FrameError.invalid(
                    "SignedDelete is \(d.delete.count) bytes, at most \(WireLimits.maximumSignedDeleteBytes) allowed")
            }
            message = .signedDelete(Array(d.delete))
        }
        self.init(id: proto.id, message)
    }

    var proto: Shoal_V1_Frame {
        var frame = Shoal_V1_Frame()
        frame.id = id
        switch message {
        case .hello(let h):
            frame.hello = h.proto
        case .ping(let payload):
            frame.ping = .with { $0.payload = payload }
        case .pong(let payload):
            frame.pong = .with { $0.payload = payload }
        case .findNode(let target):
            frame.findNode = .with { $0.target = Data(target.bytes) }
        case .nodes(let contacts):
            frame.nodes = .with { $0.contacts = contacts.map(\.proto) }
        case .findValue(let key):
            frame.findValue = .with { $0.key = Data(key.bytes) }
        case .valueResult(let v):
            frame.valueResult = .with {
                $0.held = v.held
                $0.size = v.size
                $0.closer = v.closer.map(\.proto)
                $0.replica = v.replica
            }
        case .storeChunk(let s):
            frame.storeChunk = .with {
                $0.id = Data(s.id.bytes)
                $0.data = Data(buffer: s.data)
                $0.kind = s.kind.proto
                $0.root = Data(s.root.bytes)
                $0.ownerKey = s.ownerKey
                $0.force = s.force
                $0.claims = s.claims.map(\.proto)
                $0.tombstones = s.tombstones.map(\.proto)
            }
        case .storeAck(let a):
            frame.storeAck = .with {
                $0.stored = a.stored
                $0.reason = a.reason
                $0.closer = a.closer.map(\.proto)
            }
        case .getChunk(let g):
            frame.getChunk = .with {
                $0.id = Data(g.id.bytes)
                $0.offset = g.offset
                $0.length = g.length
            }
        case .chunkData(let c):
            frame.chunkData = .with {
                $0.id = Data(c.id.bytes)
                $0.offset = c.offset
                $0.totalSize = c.totalSize
                $0.data = Data(buffer: c.data)
            }
        case .delete(let d):
            frame.delete = d.proto
        case .deleteAck(let a):
            frame.deleteAck = .with {
                $0.removed = a.removed
                $0.absent = a.absent
                $0.retained = a.retained.map { Data($0.bytes) }
            }
        case .gossip(let g):
            frame.gossip = g.proto
        case .error(let e):
            frame.error = .with {
                $0.code = Shoal_V1_ErrorCode(rawValue: e.code.rawValue) ?? .unspecified
                $0.message = e.message
            }
        case .badCopy(let id):
            frame.badCopy = .with { $0.id = Data(id.bytes) }
        case .antiEntropyRequest(let request):
            frame.antiEntropyRequest = request.proto
        case .antiEntropyAnswer(let answer, let horizon):
            frame.antiEntropyAnswer = answer.proto(horizon: horizon)
        case .shareRecords(let records):
            frame.shareRecords = .with { $0.records = records.map(\.proto) }
        case .shareRecordsAck(let merged):
            frame.shareRecordsAck = .with { $0.merged = merged }
        case .getDelete(let id):
            frame.getDelete = .with { $0.deleteID = Data(id.bytes) }
        case .signedDelete(let bytes):
            frame.signedDelete = .with { $0.delete = Data(bytes) }
        }
        return frame
    }
}

/// Bounds applied while decoding, whatever a peer sends.
public enum WireLimits {
    /// Contacts accepted from one Nodes / ValueResult / StoreAck; the rest are dropped.
    public static let maximumContacts = 20
    /// Longest address string accepted in a Contact or Hello.
    public static let maximumAddressLength = 262
}

extension Key256 {
    init(wire: Data, field: String) throws {
        guard let key = Key256(bytes: wire) else {
            throw FrameError.invalid("\(field) is \(wire.count) bytes, expected 32")
        }
        self = key
    }
}

extension Contact {
    init(proto: Shoal_V1_Contact) throws {
        guard proto.address.utf8.count <= WireLimits.maximumAddressLength else {
            throw FrameError.invalid("contact address over \(WireLimits.maximumAddressLength) bytes")
        }
        let address: PeerAddress
        do {
            address = try PeerAddress(parsing: proto.address)
        } catch {
            throw FrameError.invalid("contact address: \(error)")
        }
        self.init(id: try Key256(wire: proto.nodeID, field: "Contact.node_id"), address: address)
    }

    var proto: Shoal_V1_Contact {
        .with {
            $0.nodeID = Data(id.bytes)
            $0.address = address.description
        }
    }
}

extension OwnerClaim {
    /// A claim as the wire carries it: a 65-byte owner key or none (anonymous), unix nanoseconds.
    init(wireOwner owner: [UInt8], claimedAt nanoseconds: Int64) throws {
        guard owner.isEmpty || owner.count == 65, let key = ObjectOwner(storedKey: owner) else {
            throw FrameError.invalid("OwnerClaim.owner_key is \(owner.count) bytes, expected 65 or none")
        }
        guard nanoseconds >= 0 else { throw FrameError.invalid("OwnerClaim.claimed_at \(nanoseconds) is before 1970") }
        self.init(owner: key, claimedAt: Timestamp(nanoseconds: nanoseconds))
    }

    init(proto: Shoal_V1_OwnerClaim) throws {
        try self.init(wireOwner: Array(proto.ownerKey), claimedAt: proto.claimedAt)
    }

    var proto: Shoal_V1_OwnerClaim {
        .with {
            $0.ownerKey = Data(owner.key)
            $0.claimedAt = claimedAt.nanoseconds
        }
    }
}

extension Hello {
    init(proto: Shoal_V1_Hello) throws {
        var listen: PeerAddress?
        if !proto.listenAddress.isEmpty {
            guard proto.listenAddress.utf8.count <= WireLimits.maximumAddressLength else {
                throw FrameError.invalid("Hello.listen_address is too long")
            }
            do { listen = try PeerAddress(parsing: proto.listenAddress) } catch {
                throw FrameError.invalid("Hello.listen_address: \(error)")
            }
        }
        self.init(
            protocolVersion: proto.protocolVersion, nodeID: try Key256(wire: proto.nodeID, field: "Hello.node_id"),
            listenAddress: listen, capabilities: Array(proto.capabilities.prefix(32)),
            agent: String(proto.agent.prefix(128)))
    }

    var proto: Shoal_V1_Hello {
        .with {
            $0.protocolVersion = protocolVersion
            $0.nodeID = Data(nodeID.bytes)
            $0.listenAddress = listenAddress?.description ?? ""
            $0.capabilities = capabilities
            $0.agent = agent
        }
    }
}

extension GossipMessage {
    init(proto: Shoal_V1_Gossip) throws {
        let kind: Kind
        switch proto.kind {
        case .probe: kind = .probe
        case .probeRequest: kind = .probeRequest
        case .ack: kind = .ack
        case .nack: kind = .nack
        case .leave: kind = .leave
        case .UNRECOGNIZED(let v): throw FrameError.invalid("unknown GossipKind \(v)")
        }
        guard proto.updates.count <= GossipMessage.maximumUpdates else {
            throw FrameError.invalid(
                "Gossip carries \(proto.updates.count) updates, at most \(GossipMessage.maximumUpdates) allowed")
        }
        let updates = try proto.updates.map { u -> MemberUpdate in
            let status: MemberStatus
            switch u.status {
            case .alive: status = .alive
            case .suspect: status = .suspect
            case .dead: status = .dead
            case .left: status = .left
            case .UNRECOGNIZED(let v): throw FrameError.invalid("unknown MemberStatus \(v)")
            }
            guard u.incarnation <= MemberUpdate.maximumIncarnation else {
                throw FrameError.invalid(
                    "MemberUpdate.incarnation \(u.incarnation) exceeds the maximum \(MemberUpdate.maximumIncarnation)")
            }
            let accuser =
                u.accuser.isEmpty || status != .suspect
                ? nil : try Key256(wire: u.accuser, field: "MemberUpdate.accuser")
            return MemberUpdate(
                member: try Contact(proto: u.member), status: status, incarnation: u.incarnation, accuser: accuser)
        }
        self.init(kind: kind, target: proto.hasTarget ? try Contact(proto: proto.target) : nil, updates: updates)
    }

    var proto: Shoal_V1_Gossip {
        .with {
            switch kind {
            case .probe: $0.kind = .probe
            case .probeRequest: $0.kind = .probeRequest
            case .ack: $0.kind = .ack
            case .nack: $0.kind = .nack
            case .leave: $0.kind = .leave
            }
            if let target { $0.target = target.proto }
            $0.updates = updates.map { u in
                .with {
                    $0.member = u.member.proto
                    $0.incarnation = u.incarnation
                    if let accuser = u.accuser { $0.accuser = Data(accuser.bytes) }
                    switch u.status {
                    case .alive: $0.status = .alive
                    case .suspect: $0.status = .suspect
                    case .dead: $0.status = .dead
                    case .left: $0.status = .left
                    }
                }
            }
        }
    }
}

extension DeleteRequest {
    /// The bytes the owner signs: the deterministic encoding of `DeleteStatement`.
    public static func statementBytes(root: ContentID, objects: [ContentID], issuedAt: Int64) -> [UInt8] {
        let statement = Shoal_V1_DeleteStatement.with {
            $0.domain = "shoal-delete-v1"
            $0.root = Data(root.bytes)
            $0.objects = objects.map { Data($0.bytes) }
            $0.issuedAt = issuedAt
        }
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        return (try? statement.serializedBytes(options: options)) ?? []
    }

    /// The statement this request claims to be signed over.
    public var statementBytes: [UInt8] { Self.statementBytes(root: root, objects: objects, issuedAt: issuedAt) }

    init(proto d: Shoal_V1_Delete) throws {
        guard d.objects.count <= DeleteRequest.maximumObjects else {
            throw FrameError.invalid(
                "Delete lists \(d.objects.count) objects, at most \(DeleteRequest.maximumObjects) allowed")
        }
        self.init(
            root: try Key256(wire: d.root, field: "Delete.root"),
            objects: try d.objects.map { try Key256(wire: $0, field: "Delete.objects") },
            issuedAt: d.issuedAt, ownerKey: d.ownerKey, signature: d.signature)
    }

    var proto: Shoal_V1_Delete {
        .with {
            $0.root = Data(root.bytes)
            $0.objects = objects.map { Data($0.bytes) }
            $0.issuedAt = issuedAt
            $0.ownerKey = ownerKey
            $0.signature = signature
        }
    }

    /// The Delete as holders keep it and hand it to each other: its known fields encoded in field
    /// order (proto3 binary, nothing unknown), the same bytes on every holder whatever the sender's
    /// encoder did. Its SHA-256 is the ``deleteID`` tombstones name.
    public var canonicalBytes: [UInt8] {
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        return (try? proto.serializedBytes(options: options)) ?? []
    }

    /// SHA-256 of ``canonicalBytes``: the ID a tombstone made by this Delete carries.
    public var deleteID: Key256 { .sha256(of: canonicalBytes) }

    /// Decodes a Delete kept or handed over as ``canonicalBytes``.
    /// - Throws: ``FrameError`` when the bytes are not a valid Delete.
    public init(canonicalBytes bytes: [UInt8]) throws {
        let decoded: Shoal_V1_Delete
        do { decoded = try Shoal_V1_Delete(serializedBytes: bytes) } catch {
            throw FrameError.invalid("a kept Delete does not decode: \(error)")
        }
        try self.init(proto: decoded)
    }
}
