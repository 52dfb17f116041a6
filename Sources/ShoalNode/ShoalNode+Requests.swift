import Foundation
import ShoalCore
import ShoalDHT
import ShoalStore
import ShoalTransport
import ShoalWire

extension ShoalNode {
    /// Answers one peer request. Never throws: failures become `Error` frames with a code and a
    /// message that says what to do.
    func handle(_ request: WireMessage, from peer: PeerInfo) async -> WireMessage {
        metrics.count(request: request.name)
        if let contact = peer.contact { await dht.heardOf(contact) }
        do {
            switch request {
            case .ping(let payload):
                return .pong(payload: payload)
            case .findNode(let target):
                return .nodes(await closest(to: target, excluding: peer.nodeID))
            case .findValue(let key):
                if try await holds(key) {
                    return .valueResult(ValueResult(held: true, size: try await chunks.size(of: key) ?? 0,
                                                    replica: try await !metadata.isCached(key)))
                }
                return .valueResult(ValueResult(held: false, closer: await closest(to: key, excluding: peer.nodeID)))
            case .storeChunk(let store):
                return try await handleStore(store, from: peer)
            case .getChunk(let get):
                return try await handleGet(get)
            case .delete(let delete):
                return try await files.applyDelete(delete)
            case .gossip(let gossip):
                return await membership.handle(gossip, from: peer)
            case .hello, .pong, .nodes, .valueResult, .storeAck, .chunkData, .deleteAck, .error:
                return .error(WireError(.protocolViolation, "\(request.name) is not a request"))
            }
        } catch let error as WireError {
            return .error(error)
        } catch let error as ChunkStoreError {
            switch error.code {
            case .capacityExceeded, .diskFull: return .error(WireError(.capacity, error.description))
            case .rangeOutOfBounds, .objectTooLarge, .hashMismatch: return .error(WireError(.badRequest, error.description))
            case .notFound, .corrupt: return .error(WireError(.notFound, error.description))
            default: return .error(WireError(.internal, error.description))
            }
        } catch {
            logger.warning("request failed", metadata: ["request": "\(request.name)", "peer.id": "\(peer.nodeID.short)", "error": "\(error)"])
            return .error(WireError(.internal, "\(error)"))
        }
    }

    func handleOneWay(_ message: WireMessage, from peer: PeerInfo) async {
        if case .gossip(let gossip) = message {
            _ = await membership.handle(gossip, from: peer)
        }
    }

    private func closest(to target: Key256, excluding requester: NodeID) async -> [Contact] {
        var contacts = await dht.closest(to: target, count: WireLimits.maximumContacts + 1)
        contacts.removeAll { $0.id == requester }
        return Array(contacts.prefix(WireLimits.maximumContacts))
    }

    /// Whether this node holds `id` (pinned or cached) and will serve it.
    func holds(_ id: ContentID) async throws -> Bool {
        try await chunks.contains(id)
    }

    private func handleStore(_ store: StoreChunk, from peer: PeerInfo) async throws -> WireMessage {
        guard store.data.count <= Chunker.maximumChunkSize + Sealer.overhead else {
            throw WireError(.badRequest, "object of \(store.data.count) bytes exceeds the \(Chunker.maximumChunkSize + Sealer.overhead)-byte limit")
        }
        if try await metadata.isTombstoned(store.id) {
            throw WireError(.gone, "object \(store.id.hex) was deleted by its owner; it will not be stored again")
        }
        let bytes = [UInt8](store.data)
        guard Key256.sha256(of: bytes) == store.id else {
            throw WireError(.hashMismatch, "data does not hash to \(store.id.hex)")
        }
        if !store.force {
            let accept = await dht.closest(to: store.id, count: configuration.replicas)
            if !Placement.shouldAccept(store.id, r: configuration.replicas, localID: nodeID, among: accept) {
                return .storeAck(StoreAck(stored: false,
                                          reason: "this node is not among the \(configuration.replicas) closest it knows for \(store.id.short)",
                                          closer: await closest(to: store.id, excluding: peer.nodeID)))
            }
        }
        try await files.storeHere(id: store.id, bytes: bytes, kind: store.kind, root: store.root == .zero ? store.id : store.root,
                                  owner: store.ownerKey.isEmpty ? nil : [UInt8](store.ownerKey))
        metrics.add(storedBytes: bytes.count)
        return .storeAck(StoreAck(stored: true))
    }

    private func handleGet(_ get: GetChunk) async throws -> WireMessage {
        if try await metadata.isTombstoned(get.id) {
            throw WireError(.gone, "object \(get.id.hex) was deleted by its owner")
        }
        guard try await chunks.contains(get.id) else {
            throw WireError(.notFound, "this node does not hold \(get.id.hex)")
        }
        let length = get.length == 0 ? UInt64.max : get.length
        let slice: ChunkSlice
        do {
            slice = try await chunks.read(get.id, offset: get.offset, length: length)
        } catch let error as ChunkStoreError where error.code == .corrupt {
            throw WireError(.notFound, "the local copy of \(get.id.hex) was corrupt and has been quarantined")
        }
        _ = try? await metadata.cacheTouch(get.id)
        metrics.add(servedBytes: slice.data.count)
        return .chunkData(ChunkData(id: get.id, offset: slice.offset, totalSize: slice.totalSize, data: Data(slice.data)))
    }
}
