import Foundation
import Logging
import NIOConcurrencyHelpers
import ShoalCore
import ShoalDHT
import ShoalRepair
import ShoalStore
import ShoalTransport
import ShoalWire

/// The server side of the peer protocol: answers every request other nodes send (Protocol/README.md
/// §6) from this node's routing table, membership and local objects.
///
/// Its data path reads in one direction: transport → this → ``LocalObjects`` → disk. It never
/// calls back into the client side (put and get).
final class PeerService: PeerRequestHandler {
    let local: Contact
    let replicas: Int
    let objects: LocalObjects
    let dht: DHTShell
    let membership: MembershipShell
    let repair: RepairShell
    let metrics: NodeMetrics
    let clock: NodeClock
    let logger: Logger

    init(
        local: Contact, replicas: Int, objects: LocalObjects, dht: DHTShell, membership: MembershipShell,
        repair: RepairShell, metrics: NodeMetrics, clock: NodeClock, logger: Logger
    ) {
        self.local = local
        self.replicas = replicas
        self.objects = objects
        self.dht = dht
        self.membership = membership
        self.repair = repair
        self.metrics = metrics
        self.clock = clock
        self.logger = logger
    }

    /// Answers one peer request. Never throws: failures become `Error` bodies with a code and a
    /// message that says what to do.
    func handle(_ request: WireMessage, from peer: PeerInfo) async -> WireMessage {
        let started = clock.now
        let answer = await answer(request, from: peer)
        metrics.handled(request: request.name, in: clock.now - started)
        return answer
    }

    private func answer(_ request: WireMessage, from peer: PeerInfo) async -> WireMessage {
        // A node that announced its departure still sends its hand-off pushes; they must not put
        // it back into the routing table, where placements and stat would keep choosing it until
        // it is evicted. (It rejoins through membership when it comes back, with a newer
        // incarnation.)
        if let contact = peer.contact, await membership.status(of: contact.id) != .left { await dht.heardOf(contact) }
        do {
            switch request {
            case .ping(let payload):
                return .pong(payload: payload)
            case .findNode(let target):
                return .nodes(await closest(to: target, excluding: peer.nodeID))
            case .findValue(let key):
                return .valueResult(try await findValue(key, from: peer))
            case .storeChunk(let store):
                return try await handleStore(store, from: peer)
            case .getChunk(let get):
                return try await handleGet(get)
            case .delete(let delete):
                return .deleteAck(try await handleDelete(delete))
            case .gossip(let gossip):
                return await membership.handle(gossip, from: peer)
            case .antiEntropyRequest(let exchange):
                _ = try exchangePeer(peer)
                let (answer, horizon) = await repair.answer(exchange)
                return .antiEntropyAnswer(answer, horizon: horizon)
            case .shareRecords(let records):
                let merged = await repair.absorbShared(records, from: try exchangePeer(peer))
                return .shareRecordsAck(merged: UInt32(clamping: merged))
            case .getDelete(let id):
                guard let bytes = try await objects.metadata.signedDelete(id) else {
                    throw WireError(
                        .notFound, "no Delete \(id.short) is kept here (it was never seen, or its tombstones expired)")
                }
                return .signedDelete(bytes)
            case .hello, .pong, .nodes, .valueResult, .storeAck, .chunkData, .deleteAck, .error, .badCopy,
                .antiEntropyAnswer,
                .shareRecordsAck, .signedDelete:
                return .error(WireError(.protocolViolation, "\(request.name) is not a request"))
            }
        } catch {
            return .error(Self.wireError(error, request: request.name, peer: peer, logger: logger))
        }
    }

    func handleOneWay(_ message: WireMessage, from peer: PeerInfo) async {
        switch message {
        case .gossip(let gossip):
            _ = await membership.handle(gossip, from: peer)
        case .badCopy(let id):
            if (try? await objects.checkReportedCopy(id)) == true {
                metrics.corruptChunk()
                logger.warning(
                    "a reader reported this node's copy bad; it was corrupt and is quarantined",
                    metadata: ["chunk.id": "\(id.short)", "peer.id": "\(peer.nodeID.short)"])
            }
        default:
            break
        }
    }

    func peerConnected(_ peer: PeerInfo) async {
        guard let contact = peer.contact else { return }
        await dht.heardOf(contact)
        await membership.add(contact)
    }

    // MARK: Requests

    /// The peer of an anti-entropy request: a node that accepts connections (client-only peers
    /// hold no records to compare).
    private func exchangePeer(_ peer: PeerInfo) throws -> Contact {
        guard let contact = peer.contact else {
            throw WireError(
                .forbidden,
                "anti-entropy is between nodes that accept connections; this peer announced no listen address")
        }
        return contact
    }

    private func closest(to target: Key256, excluding requester: NodeID) async -> [Contact] {
        var contacts = await dht.closest(to: target, count: WireLimits.maximumContacts + 1)
        contacts.removeAll { $0.id == requester }
        return Array(contacts.prefix(WireLimits.maximumContacts))
    }

    private func findValue(_ key: ContentID, from peer: PeerInfo) async throws -> ValueResult {
        if let held = try await objects.holding(key), held.state != .unchecked, !objects.isWithheld(key) {
            return ValueResult(held: true, size: held.size, replica: held.state == .replica)
        }
        return ValueResult(held: false, closer: await closest(to: key, excluding: peer.nodeID))
    }

    private func handleStore(_ store: StoreChunk, from peer: PeerInfo) async throws -> WireMessage {
        guard store.data.readableBytes <= ObjectSize.maximum else {
            throw WireError(
                .badRequest, "object of \(store.data.readableBytes) bytes exceeds the \(ObjectSize.maximum)-byte limit")
        }
        guard ContentID.sha256(of: store.data) == store.id else {
            throw WireError(.hashMismatch, "data does not hash to \(store.id.hex)")
        }
        if !store.force {
            let accept = await dht.closest(to: store.id, count: replicas)
            if !Placement.shouldAccept(store.id, r: replicas, localID: local.id, among: accept) {
                return .storeAck(
                    StoreAck(
                        stored: false,
                        reason: "this node is not among the \(replicas) closest it knows for \(store.id.short)",
                        closer: await closest(to: store.id, excluding: peer.nodeID)))
            }
        }
        var now = clock.wallNow
        // A fresh store claims for its owner. The node running the upload dates the claim once and
        // sends it to every holder so that all record the same claim; a time outside the Delete
        // freshness window around this node's clock (or none: a version-1 peer) is replaced by
        // now, so no claim can be dated past a later Delete. A push carries the claims it knows,
        // dated; one that carries none (a version-1 peer) is taken as the oldest possible claim,
        // which any Delete of its owner outranks.
        guard let owner = ObjectOwner(storedKey: [UInt8](store.ownerKey)) else {
            throw WireError(
                .badRequest,
                "StoreChunk.owner_key is \(store.ownerKey.count) bytes, at most \(ObjectOwner.maximumKeyLength)")
        }
        if store.force, store.claims.isEmpty, !store.tombstones.isEmpty {
            throw WireError(
                .gone, "object \(store.id.hex) was deleted by every owner the push names; it is not stored again")
        }
        let claims: [OwnerClaim]
        if !store.force {
            if let dated = store.claims.first, store.claims.count == 1, dated.owner == owner,
                dated.claimedAt <= now + .seconds(DeleteRequest.maximumClockSkew),
                dated.claimedAt >= now - .seconds(DeleteRequest.maximumAge)
            {
                now = dated.claimedAt
            } else {
                // An undated claim counts from the start of this second: a Delete is dated in
                // whole seconds, and one its owner signs in the same second must remove it.
                now = Timestamp(nanoseconds: now.nanoseconds - now.nanoseconds % 1_000_000_000)
            }
            claims = [OwnerClaim(owner: owner, claimedAt: now)]
        } else if store.claims.isEmpty {
            claims = [OwnerClaim(owner: owner, claimedAt: .zero)]
        } else {
            claims = store.claims
        }
        let fresh = !store.force
        // A push's tombstones are taken where this node keeps their Delete; the others reach it
        // with the next exchange, verified.
        let tombstones =
            store.force && !store.tombstones.isEmpty ? await repair.knownTombstones(store.tombstones, of: store.id) : []
        try await objects.storeReplica(
            store.id, bytes: store.data, kind: store.kind, claims: claims, fresh: fresh,
            tombstones: tombstones, hashVerified: true, now: now)
        metrics.add(storedBytes: store.data.readableBytes)
        return .storeAck(StoreAck(stored: true))
    }

    private func handleGet(_ get: GetChunk) async throws -> WireMessage {
        // The reader verifies the whole object; this node re-hashes only when a reader reports a
        // bad copy (BadCopy), so serving costs no hash pass.
        let slice: ChunkSlice
        do {
            slice = try await objects.read(get.id, offset: get.offset, length: get.length, verify: false)
        } catch let error as ChunkStoreError where error.code == .notFound {
            if try await !objects.metadata.tombstones(of: get.id).isEmpty {
                throw WireError(.gone, "object \(get.id.hex) was deleted by its owner")
            }
            throw error
        }
        metrics.add(servedBytes: slice.data.readableBytes)
        return .chunkData(ChunkData(id: get.id, offset: slice.offset, totalSize: slice.totalSize, data: slice.data))
    }

    private func handleDelete(_ delete: DeleteRequest) async throws -> DeleteAck {
        let owner = try DeletePolicy.authorize(delete, nowSeconds: clock.wallSeconds)
        let claims = try await objects.metadata.claims(ofReplicas: delete.objects)
        guard DeletePolicy.permits(owner: owner, claims: claims) else {
            throw WireError(
                .forbidden,
                "not an owner of any of the \(delete.objects.count) objects this node keeps for their owners; only a key that stored a file can delete it"
            )
        }
        // Objects this node has no claim on but is among the closest nodes to keep the tombstone
        // too (it may be pushed them later by a holder that missed the Delete).
        var responsible: Set<ContentID> = []
        for (id, held) in zip(delete.objects, claims) where held.isEmpty {
            let closest = await dht.closest(to: id, count: replicas)
            if Placement.shouldAccept(id, r: replicas, localID: local.id, among: closest) { responsible.insert(id) }
        }
        let effects = try await objects.applyDelete(
            owner: owner, objects: delete.objects,
            deletedAt: Timestamp(seconds: delete.issuedAt), deleteID: delete.deleteID,
            message: delete.canonicalBytes, recordingAbsent: responsible)
        return DeletePolicy.acknowledgement(effects, objects: delete.objects)
    }

    // MARK: Errors

    /// Maps a failure to the `Error` body a peer is sent.
    static func wireError(_ error: any Error, request: String, peer: PeerInfo, logger: Logger) -> WireError {
        switch error {
        case let error as WireError:
            return error
        case let error as LocalObjectsError:
            return WireError(.gone, error.description)
        case let error as TransportError:
            return WireError(.internal, error.description)
        case let error as ChunkStoreError:
            switch error.code {
            case .capacityExceeded, .diskFull: return WireError(.capacity, error.description)
            case .rangeOutOfBounds, .objectTooLarge, .hashMismatch: return WireError(.badRequest, error.description)
            case .notFound, .corrupt: return WireError(.notFound, error.description)
            default: return WireError(.internal, error.description)
            }
        case let error as MetadataStoreError where error.code == .diskFull:
            return WireError(.capacity, error.description)
        default:
            logger.warning(
                "request failed",
                metadata: ["request": "\(request)", "peer.id": "\(peer.nodeID.short)", "error": "\(error)"])
            return WireError(.internal, "\(error)")
        }
    }
}

/// Forwards the transport's requests to the node's ``PeerService`` once it exists (the transport is
/// created first).
final class PeerRequestRouter: PeerRequestHandler {
    private let service = NIOLockedValueBox<PeerService?>(nil)

    func attach(_ service: PeerService) { self.service.withLockedValue { $0 = service } }

    func handle(_ request: WireMessage, from peer: PeerInfo) async -> WireMessage {
        guard let service = service.withLockedValue({ $0 }) else {
            return .error(WireError(.overloaded, "node is starting; retry"))
        }
        return await service.handle(request, from: peer)
    }

    func handleOneWay(_ message: WireMessage, from peer: PeerInfo) async {
        await service.withLockedValue({ $0 })?.handleOneWay(message, from: peer)
    }

    func peerConnected(_ peer: PeerInfo) async {
        await service.withLockedValue({ $0 })?.peerConnected(peer)
    }
}
