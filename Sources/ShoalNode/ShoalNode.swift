import Foundation
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle
import ShoalCore
import ShoalDHT
import ShoalStore
import ShoalTransport
import ShoalWire

/// A running Shoal node: it stores, routes and serves. Embeddable from Swift; `shoal node` runs one.
///
/// Start it with ``start(configuration:logger:)``; run it as a `Service` in a `ServiceGroup` (it stops
/// on graceful shutdown, handing its data to the next closest nodes first), or call ``stop()``.
public final class ShoalNode: Sendable {
    public let configuration: NodeConfiguration
    public let identity: NodeIdentity
    public let contact: Contact
    let transport: Transport
    let dht: DHTShell
    let chunks: ChunkStore
    let metadata: MetadataStore
    let clock: NodeClock
    let logger: Logger
    let membership: MembershipShell
    let repair: RepairShell
    public let files: FileService
    let metrics: NodeMetrics
    private let tasks = NIOLockedValueBox<[Task<Void, Never>]>([])
    private let stopped = NIOLockedValueBox(false)

    public var nodeID: NodeID { identity.nodeID }

    private init(configuration: NodeConfiguration, identity: NodeIdentity, contact: Contact, transport: Transport,
                 dht: DHTShell, chunks: ChunkStore, metadata: MetadataStore, clock: NodeClock, logger: Logger,
                 membership: MembershipShell, repair: RepairShell, files: FileService, metrics: NodeMetrics) {
        self.configuration = configuration
        self.identity = identity
        self.contact = contact
        self.transport = transport
        self.dht = dht
        self.chunks = chunks
        self.metadata = metadata
        self.clock = clock
        self.logger = logger
        self.membership = membership
        self.repair = repair
        self.files = files
        self.metrics = metrics
    }

    /// Opens the data directory, starts listening, and begins joining the network in the background.
    /// - Throws: when the identity, the store or the listening socket cannot be set up; the error says
    ///   what to do (e.g. fix the key file's mode, free the port).
    public static func start(configuration: NodeConfiguration, logger: Logger = Logger(label: "shoal")) async throws -> ShoalNode {
        let identity = try NodeIdentity.loadOrCreate(in: configuration.dataDirectory)
        var logger = logger
        logger[metadataKey: "node"] = "\(identity.nodeID.short)"
        let chunks = try await ChunkStore.open(directory: configuration.dataDirectory.path, maxBytes: configuration.maxStorage, logger: logger)
        let metadata: MetadataStore
        do {
            metadata = try await MetadataStore.open(path: configuration.dataDirectory.appendingPathComponent("metadata.sqlite").path,
                                                    cacheSize: configuration.cacheSize, logger: logger)
        } catch {
            chunks.close()
            throw error
        }
        let router = PeerRequestRouter()
        let transport: Transport
        let bound: PeerAddress
        do {
            transport = try Transport(identity: identity, configuration: configuration.transport, handler: router, logger: logger)
            bound = try await transport.listen(on: configuration.listen)
        } catch {
            chunks.close()
            try? await metadata.close()
            throw NodeError.cannotListen(configuration.listen, "\(error)")
        }
        let contact = Contact(id: identity.nodeID, address: configuration.transport.advertisedAddress ?? bound)
        let clock = NodeClock()
        let dht = DHTShell(transport: transport, clock: clock, logger: logger)
        await dht.setLocalContact(contact)
        let membership = MembershipShell(local: contact, transport: transport, dht: dht, clock: clock,
                                         period: configuration.protocolPeriod, logger: logger)
        let repair = RepairShell(local: contact, replicas: configuration.replicas, transport: transport, dht: dht,
                                 chunks: chunks, metadata: metadata, bandwidth: configuration.repairBandwidth, logger: logger)
        let metrics = NodeMetrics()
        let files = FileService(local: contact, identity: identity, replicas: configuration.replicas, chunkSize: configuration.chunkSize,
                                window: configuration.transferWindow, transport: transport, dht: dht, chunks: chunks,
                                metadata: metadata, metrics: metrics, logger: logger)
        let node = ShoalNode(configuration: configuration, identity: identity, contact: contact, transport: transport,
                             dht: dht, chunks: chunks, metadata: metadata, clock: clock, logger: logger,
                             membership: membership, repair: repair, files: files, metrics: metrics)
        router.attach(node)
        await repair.attach(membership: membership)
        node.startBackgroundWork()
        logger.info("node started", metadata: ["node.id": "\(identity.nodeID.hex)", "listen.address": "\(contact.address)",
                                               "data.dir": "\(configuration.dataDirectory.path)"])
        return node
    }

    private func startBackgroundWork() {
        let bootstrap = configuration.bootstrap
        let interval = configuration.bootstrapInterval
        var started: [Task<Void, Never>] = []
        // Join, retrying with backoff while no bootstrap peer answers; then re-contact them
        // periodically so that a partition heals.
        if !bootstrap.isEmpty {
            started.append(Task { [self] in
                var delay: Duration = .milliseconds(250)
                while !Task.isCancelled {
                    let answered = await dht.join(bootstrap)
                    if !answered.isEmpty {
                        for peer in await dht.allContacts() { await membership.add(peer) }
                        let tableSize = await dht.size
                        logger.info("joined the network", metadata: ["bootstrap.answered": "\(answered.count)", "table.size": "\(tableSize)"])
                        break
                    }
                    logger.info("no bootstrap peer answered; running alone and retrying", metadata: ["retry.in": "\(delay)"])
                    try? await Task.sleep(for: delay)
                    delay = min(delay * 2, interval)
                }
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    if Task.isCancelled { break }
                    let answered = await dht.join(bootstrap)
                    for peer in await dht.allContacts() { await membership.add(peer) }
                    // Exchange membership with each bootstrap peer directly: after a partition, each
                    // side holds the other as dead and would never probe it again; this probe lets
                    // both sides learn they were declared dead, refute, and merge the views.
                    for peer in answered { await membership.exchange(with: peer) }
                    logger.debug("re-contacted bootstrap peers", metadata: ["answered": "\(answered.count)"])
                }
            })
        }
        started.append(Task { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: configuration.refreshCheckInterval)
                await dht.tick()
            }
        })
        started.append(Task { [self] in await membership.run() })
        started.append(Task { [self] in await repair.run(interval: configuration.repairInterval) })
        tasks.withLockedValue { $0.append(contentsOf: started) }
    }

    /// Announces departure, hands this node's objects to the next closest nodes, and shuts down.
    /// - Parameter handOff: `false` to stop at once (tests that simulate a crash use `kill`).
    public func stop(handOff: Bool = true) async {
        let already = stopped.withLockedValue { s -> Bool in
            defer { s = true }
            return s
        }
        guard !already else { return }
        if handOff {
            await membership.leave()
            let moved = await repair.handOffAll()
            logger.info("handed off before leaving", metadata: ["objects": "\(moved)"])
        }
        for task in tasks.withLockedValue({ $0 }) { task.cancel() }
        await transport.shutdown()
        chunks.close()
        try? await metadata.close()
        logger.info("node stopped")
    }

    // MARK: Status

    /// Peers with an open connection.
    public var connectedPeers: [PeerInfo] { transport.connectedPeers }

    /// A snapshot for `/v1/status`.
    public func status() async -> NodeStatus {
        NodeStatus(nodeID: nodeID.hex, listenAddress: contact.address.description,
                   peers: transport.connectedPeers.count, routingTableSize: await dht.size,
                   members: await membership.aliveCount, bytesStored: chunks.bytesInUse, objectsStored: chunks.objectCount,
                   cachedBytes: await metadata.cachedBytes, replicas: configuration.replicas,
                   repairBacklog: await repair.backlog, averageLookupHops: await dht.averageHops)
    }
}

/// What `/v1/status` and `shoal status` report.
public struct NodeStatus: Codable, Sendable {
    public var nodeID: String
    public var listenAddress: String
    public var peers: Int
    public var routingTableSize: Int
    public var members: Int
    public var bytesStored: UInt64
    public var objectsStored: Int
    public var cachedBytes: UInt64
    public var replicas: Int
    public var repairBacklog: Int
    public var averageLookupHops: Double
}

public enum NodeError: Error, CustomStringConvertible {
    case cannotListen(PeerAddress, String)

    public var description: String {
        switch self {
        case .cannotListen(let address, let why):
            return "cannot listen on \(address): \(why); choose another --listen port or stop the process using it"
        }
    }
}

/// Forwards the transport's requests to the node once it exists (the transport is created first).
final class PeerRequestRouter: PeerRequestHandler {
    private let node = NIOLockedValueBox<ShoalNode?>(nil)

    func attach(_ node: ShoalNode) { self.node.withLockedValue { $0 = node } }

    func handle(_ request: WireMessage, from peer: PeerInfo) async -> WireMessage {
        guard let node = node.withLockedValue({ $0 }) else { return .error(WireError(.overloaded, "node is starting; retry")) }
        return await node.handle(request, from: peer)
    }

    func handleOneWay(_ message: WireMessage, from peer: PeerInfo) async {
        guard let node = node.withLockedValue({ $0 }) else { return }
        await node.handleOneWay(message, from: peer)
    }

    func peerConnected(_ peer: PeerInfo) async {
        guard let node = node.withLockedValue({ $0 }), let contact = peer.contact else { return }
        await node.dht.heardOf(contact)
        await node.membership.add(contact)
    }
}
