import Foundation
import Logging
import NIOCore
import ShoalCore
import ShoalDHT
import ShoalStore
import ShoalTransport
import ShoalWire

/// The put path below the file pipeline: stores each object on its `r` closest nodes (this node
/// among them when it is one), claimed by this node's owner key. The claim is made once per object
/// and sent to every holder, so all replicas record the same claim and their records hash alike.
///
/// The replica set comes from ``DHTShell/placement(for:r:)``: computed from the routing table when
/// it provably covers the object's neighbourhood, else from a recent lookup that proved it, else
/// from a lookup. A node that declines (it knows closer ones) names them, and they are tried once.
final class ObjectPlacer: Sendable {
    let local: Contact
    let owner: ObjectOwner
    let replicas: Int
    let transport: Transport
    let dht: DHTShell
    let objects: LocalObjects
    let clock: NodeClock
    let metrics: NodeMetrics

    init(
        local: Contact, owner: ObjectOwner, replicas: Int, transport: Transport, dht: DHTShell, objects: LocalObjects,
        clock: NodeClock, metrics: NodeMetrics
    ) {
        self.local = local
        self.owner = owner
        self.replicas = replicas
        self.transport = transport
        self.dht = dht
        self.objects = objects
        self.clock = clock
        self.metrics = metrics
    }

    /// What placing one object did.
    struct Outcome: Sendable {
        /// The nodes that now hold it.
        var holders: [Contact]
        /// Whether finding its replica set took a network lookup.
        var lookedUp: Bool
    }

    /// Stores one object on its `r` closest nodes.
    ///
    /// Up to three rounds: the replica set; then the closer nodes a decliner named; then, when a
    /// holder failed or refused (full, unreachable), the next closest nodes, told to keep the
    /// object although they are not among its `r` closest (`force`), as a Dynamo sloppy quorum
    /// does. Readers try a few nodes past the `r` closest before they look further.
    /// - Throws: ``PlacementError`` when fewer than `r` (or every node, when fewer exist) hold it.
    func place(id: ContentID, bytes: ByteBuffer, kind: ObjectKind) async throws -> Outcome {
        let claim = OwnerClaim(owner: owner, claimedAt: clock.wallNow)
        let placement = await dht.placement(for: id, r: replicas)
        var targets = placement.contacts
        var known = placement.contacts + [local]
        var acked: [Contact] = []
        var failures: [String] = []
        var tried: Set<NodeID> = []
        for round in 0..<3 {
            let batch = targets.filter { !tried.contains($0.id) }
            guard !batch.isEmpty else { break }
            var redirects: [Contact] = []
            let spill = round == 2
            await withTaskGroup(of: (Contact, Result<StoreAck, any Error>).self) { group in
                for target in batch {
                    tried.insert(target.id)
                    group.addTask { [self] in
                        (target, await store(id: id, bytes: bytes, kind: kind, claim: claim, force: spill, on: target))
                    }
                }
                for await (target, result) in group {
                    switch result {
                    case .success(let ack) where ack.stored:
                        acked.append(target)
                    case .success(let ack):
                        failures.append("\(target.id.short) declined: \(ack.reason)")
                        redirects.append(contentsOf: ack.closer)
                    case .failure(let error):
                        failures.append("\(target.id.short): \(error)")
                        if !(error is WireError) { await dht.peerFailed(target.id) }
                    }
                }
            }
            let needed = replicas - acked.count
            if needed <= 0 { break }
            known += redirects
            if round == 0 && !redirects.isEmpty {
                // Follow the decliners: the replica set as the better-informed nodes see it.
                targets = Placement.replicaSet(for: id, r: replicas, among: known).filter { !tried.contains($0.id) }
                if !targets.isEmpty { continue }
            }
            // Spill over to the next closest nodes that were not asked yet.
            known += await dht.closest(to: id, count: replicas + tried.count + needed)
            targets = Array(
                Placement.replicaSet(for: id, r: known.count, among: known).filter { !tried.contains($0.id) }.prefix(
                    needed))
        }
        let required = min(replicas, await dht.size + 1)
        guard acked.count >= required else {
            throw PlacementError(id: id, achieved: acked.count, required: required, failures: failures)
        }
        return Outcome(holders: acked, lookedUp: placement.lookedUp)
    }

    private func store(
        id: ContentID, bytes: ByteBuffer, kind: ObjectKind, claim: OwnerClaim, force: Bool,
        on target: Contact
    ) async -> Result<StoreAck, any Error> {
        do {
            if target.id == local.id {
                try await objects.storeReplica(
                    id, bytes: bytes, kind: kind, claims: [claim], fresh: true, hashVerified: true,
                    now: claim.claimedAt)
                return .success(StoreAck(stored: true))
            }
            let response = try await transport.request(
                // A spill-over store is forced past the placement check; it carries the same one
                // claim, dated when the put began, as every other holder receives.
                .storeChunk(
                    StoreChunk(
                        id: id, data: bytes, kind: kind, root: .zero, ownerKey: Data(owner.key), force: force,
                        claims: [claim])),
                to: target, timeout: .seconds(30))
            guard case .storeAck(let ack) = response else {
                return .failure(TransportError.protocolViolation("StoreChunk answered with \(response.name)"))
            }
            return .success(ack)
        } catch {
            return .failure(error)
        }
    }
}

/// An object could not be stored on enough nodes.
public struct PlacementError: Error, CustomStringConvertible {
    public var id: ContentID
    public var achieved: Int
    public var required: Int
    public var failures: [String]
    public var description: String {
        "object \(id.short) reached \(achieved) of \(required) replicas (\(failures.prefix(3).joined(separator: "; "))); the file was not stored completely — check that enough nodes are up and have space, then put it again"
    }
}
