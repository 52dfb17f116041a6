import Foundation
import Logging
import NIOConcurrencyHelpers
import ShoalCore
import ShoalDHT
import ShoalStore
import ShoalTransport
import ShoalWire

/// Sends this node's owner-signed Deletes to every node that may hold the objects: each object's
/// `r` closest nodes (its replicas) and every other node this node knows (copies cached for
/// readers), and asks holders what they keep, for `stat`.
final class DeleteFanOut: Sendable {
    let local: Contact
    let identity: NodeIdentity
    let replicas: Int
    let transport: Transport
    let dht: DHTShell
    let service: PeerService
    let clock: NodeClock
    /// The `issued_at` of the last Delete this node signed for each object (bounded): a later
    /// Delete of the same object must be dated after it (see ``signedDelete(root:objects:)``).
    private let lastIssued = NIOLockedValueBox<[ContentID: Int64]>([:])
    private static let maximumRemembered = 65_536

    init(
        local: Contact, identity: NodeIdentity, replicas: Int, transport: Transport, dht: DHTShell,
        service: PeerService,
        clock: NodeClock
    ) {
        self.local = local
        self.identity = identity
        self.replicas = replicas
        self.transport = transport
        self.dht = dht
        self.service = service
        self.clock = clock
    }

    /// Removes this node's claims on `objects` from every node that may hold them.
    /// - Parameter root: the file the objects belong to (part of what is signed).
    /// - Returns: what the holders did.
    /// - Throws: `WireError(.forbidden)` when holders refuse because this node's key claims none of it.
    func delete(objects: [ContentID], root: ContentID) async throws -> DeleteReport {
        var targets: [NodeID: Contact] = [local.id: local]
        for id in objects {
            for c in await dht.placement(for: id, r: replicas).contacts { targets[c.id] = c }
        }
        for c in await dht.allContacts() { targets[c.id] = c }
        var signed: [DeleteRequest] = []
        for start in stride(from: 0, to: objects.count, by: DeleteRequest.maximumObjects) {
            signed.append(
                try await signedDelete(
                    root: root,
                    objects: Array(objects[start..<min(start + DeleteRequest.maximumObjects, objects.count)])))
        }
        let batches = signed
        var report = DeleteReport(address: root.hex, objects: objects.count)
        var retained: Set<ContentID> = []
        var forbidden: WireError?
        await withTaskGroup(of: (Contact, Result<[DeleteAck], any Error>).self) { group in
            for target in targets.values {
                group.addTask { [self] in
                    var acks: [DeleteAck] = []
                    for request in batches {
                        do {
                            let response =
                                target.id == local.id
                                ? await service.handle(.delete(request), from: PeerInfo.local(local))
                                : try await transport.request(.delete(request), to: target, timeout: .seconds(30))
                            switch response {
                            case .deleteAck(let ack): acks.append(ack)
                            case .error(let error): throw error
                            default: throw TransportError.protocolViolation("Delete answered with \(response.name)")
                            }
                        } catch {
                            return (target, .failure(error))
                        }
                    }
                    return (target, .success(acks))
                }
            }
            for await (target, result) in group {
                switch result {
                case .success(let acks):
                    let removed = acks.reduce(0) { $0 + Int($1.removed) }
                    report.removed += removed
                    for ack in acks { retained.formUnion(ack.retained) }
                    if removed > 0 || acks.contains(where: { !$0.retained.isEmpty }) {
                        report.holders.insert(target.id.hex)
                    }
                case .failure(let error as WireError) where error.code == .forbidden:
                    forbidden = error
                case .failure:
                    report.unreachable.insert(target.id.hex)
                }
            }
        }
        if let forbidden, report.removed == 0, retained.isEmpty { throw forbidden }
        report.retainedForOtherOwners = retained.count
        return report
    }

    /// For each object, the nodes among its closest that keep it as a replica (cached copies do not count).
    func holders(of ids: [ContentID]) async -> [[Contact]] {
        var out: [[Contact]] = []
        for id in ids {
            var on: [Contact] = []
            for c in await dht.placement(for: id, r: replicas).contacts {
                if c.id == local.id {
                    if let held = try? await service.objects.holding(id), held.state == .replica { on.append(c) }
                    continue
                }
                if case .valueResult(let v)? = try? await transport.request(
                    .findValue(key: id), to: c, timeout: .seconds(5)),
                    v.held, v.replica
                {
                    on.append(c)
                }
            }
            out.append(on)
        }
        return out
    }

    func signedDelete(root: ContentID, objects: [ContentID]) async throws -> DeleteRequest {
        // Rounded up: the Delete outranks every claim this owner made before it (claims are dated
        // in nanoseconds), and a claim made after it outranks it. A claim made again after an
        // earlier Delete of the same object is dated just after that Delete's second, so a new
        // Delete must carry a later second: wait (at most about a second) until the clock has
        // passed it, rather than dating the Delete in the future.
        let previous = lastIssued.withLockedValue { last in objects.compactMap { last[$0] }.max() }
        var issuedAt = clock.wallSecondsRoundedUp
        // Bounded: the previous Delete was dated at most one second ahead of the clock then.
        for _ in 0..<30 {
            guard let previous, issuedAt <= previous else { break }
            try await clock.sleep(for: .milliseconds(100))
            issuedAt = clock.wallSecondsRoundedUp
        }
        if let previous, issuedAt <= previous { issuedAt = previous + 1 }
        lastIssued.withLockedValue { last in
            if last.count + objects.count > Self.maximumRemembered { last.removeAll(keepingCapacity: true) }
            for id in objects { last[id] = issuedAt }
        }
        let statement = DeleteRequest.statementBytes(root: root, objects: objects, issuedAt: issuedAt)
        let signature = try OwnerSignature.sign(message: statement, with: identity.privateKey)
        return DeleteRequest(
            root: root, objects: objects, issuedAt: issuedAt, ownerKey: identity.ownerPublicKey,
            signature: Data(signature))
    }
}

extension PeerInfo {
    /// This node as the peer of a request it handles itself.
    static func local(_ contact: Contact) -> PeerInfo {
        PeerInfo(
            nodeID: contact.id, listenAddress: contact.address, remoteAddress: "local", agent: "local",
            capabilities: PeerCapability.all, inbound: false)
    }
}
