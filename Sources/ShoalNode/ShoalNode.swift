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
/// Open it with ``start(configuration:logger:)``, which listens but runs nothing, then ``run()`` it:
/// as a `Service` in a `ServiceGroup` (it stops on graceful shutdown, handing its data to the next
/// closest nodes first), or in a task group of your own, ending it with ``stop(handOff:)``.
public final class ShoalNode: Sendable {
    public let configuration: NodeConfiguration
    public let identity: NodeIdentity
    public let contact: Contact
    let transport: Transport
    let dht: DHTShell
    let objects: LocalObjects
    let clock: NodeClock
    let logger: Logger
    let membership: MembershipShell
    let repair: RepairShell
    let service: PeerService
    public let files: FileService
    let metrics: NodeMetrics
    private let lifecycle = NIOLockedValueBox(Lifecycle.opened)
    private let finished = NIOLockedValueBox(Finish())
    /// The HTTP API's connection limiter, once an API was made for this node (for status).
    let apiLimiter = NIOLockedValueBox<APIConnectionLimiter?>(nil)

    /// Where the node is in its life: opened by `start`, running `run()`, or stopped.
    private enum Lifecycle {
        case opened
        /// `run()` is running; a stop request (with or without hand-off) goes to it.
        case running(AsyncStream<Bool>.Continuation)
        case stopped
    }

    private struct Finish {
        var done = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    public var nodeID: NodeID { identity.nodeID }
    var chunks: ChunkStore { objects.chunks }
    var metadata: MetadataStore { objects.metadata }

    private init(
        configuration: NodeConfiguration, identity: NodeIdentity, contact: Contact, transport: Transport,
        dht: DHTShell, objects: LocalObjects, clock: NodeClock, logger: Logger, membership: MembershipShell,
        repair: RepairShell, service: PeerService, files: FileService, metrics: NodeMetrics
    ) {
        self.configuration = configuration
        self.identity = identity
        self.contact = contact
        self.transport = transport
        self.dht = dht
        self.objects = objects
        self.clock = clock
        self.logger = logger
        self.membership = membership
        self.repair = repair
        self.service = service
        self.files = files
        self.metrics = metrics
    }

    /// Opens the data directory and starts listening. Nothing runs until ``run()``: connections that
    /// arrive meanwhile wait for it.
    /// - Throws: when the identity, the store or the listening socket cannot be set up; the error says
    ///   what to do (e.g. fix the key file's mode, free the port).
    public static func start(
        configuration: NodeConfiguration, logger: Logger = Logger(label: "shoal")
    ) async throws -> ShoalNode {
        let identity = try NodeIdentity.loadOrCreate(in: configuration.dataDirectory)
        var logger = logger
        logger[metadataKey: "node"] = "\(identity.nodeID.short)"
        let objects = try await LocalObjects.open(
            directory: configuration.dataDirectory.path, maxStorage: configuration.maxStorage,
            cacheSize: configuration.cacheSize, withholdingUntilChecked: true, logger: logger)
        let router = PeerRequestRouter()
        let transport: Transport
        let bound: PeerAddress
        do {
            transport = try Transport(
                identity: identity, configuration: configuration.transport, handler: router, logger: logger)
            bound = try await transport.listen(on: configuration.listen)
        } catch {
            await objects.close()
            throw NodeError.cannotListen(configuration.listen, "\(error)")
        }
        let contact = Contact(id: identity.nodeID, address: configuration.transport.advertisedAddress ?? bound)
        let clock = configuration.clock
        let metrics = NodeMetrics(registry: configuration.metrics)
        let dht = DHTShell(transport: transport, clock: clock, metrics: metrics, logger: logger)
        await dht.setLocalContact(contact)
        let membership = MembershipShell(
            local: contact, transport: transport, dht: dht, clock: clock,
            period: configuration.protocolPeriod, logger: logger)
        let repair = RepairShell(
            local: contact, settings: RepairShell.Settings(configuration), transport: transport, dht: dht,
            objects: objects, clock: clock, logger: logger)
        let service = PeerService(
            local: contact, replicas: configuration.replicas, objects: objects, dht: dht,
            membership: membership, repair: repair, metrics: metrics, clock: clock, logger: logger)
        let placer = ObjectPlacer(
            local: contact, owner: identity.owner, replicas: configuration.replicas,
            transport: transport, dht: dht, objects: objects, clock: clock, metrics: metrics)
        let fetcher = ObjectFetcher(
            local: contact, replicas: configuration.replicas, transport: transport, dht: dht,
            objects: objects, board: HolderBoard(clock: clock), metrics: metrics, logger: logger)
        let deleter = DeleteFanOut(
            local: contact, identity: identity, replicas: configuration.replicas, transport: transport,
            dht: dht, service: service, clock: clock)
        let files = FileService(
            local: contact, identity: identity, chunkSize: configuration.chunkSize,
            window: configuration.transferWindow, placer: placer, fetcher: fetcher, deleter: deleter,
            objects: objects, clock: clock, metrics: metrics, logger: logger)
        let node = ShoalNode(
            configuration: configuration, identity: identity, contact: contact, transport: transport,
            dht: dht, objects: objects, clock: clock, logger: logger, membership: membership,
            repair: repair, service: service, files: files, metrics: metrics)
        router.attach(service)
        await repair.attach(membership: membership)
        logger.info(
            "node started",
            metadata: [
                "node.id": "\(identity.nodeID.hex)", "listen.address": "\(contact.address)",
                "data.dir": "\(configuration.dataDirectory.path)",
            ])
        return node
    }

    /// Every loop and background job of a running node, children of `run()`'s task group.
    private func addLoops(to group: inout DiscardingTaskGroup) {
        let bootstrap = configuration.bootstrap
        let interval = configuration.bootstrapInterval
        // Join, retrying with backoff while no bootstrap peer answers; then re-contact them
        // periodically so that a partition heals.
        if !bootstrap.isEmpty {
            group.addTask { [self] in
                var delay: Duration = .milliseconds(250)
                while !Task.isCancelled {
                    let answered = await dht.join(bootstrap)
                    if !answered.isEmpty {
                        for peer in await dht.allContacts() { await membership.add(peer) }
                        let tableSize = await dht.size
                        logger.info(
                            "joined the network",
                            metadata: ["bootstrap.answered": "\(answered.count)", "table.size": "\(tableSize)"])
                        break
                    }
                    logger.info(
                        "no bootstrap peer answered; running alone and retrying", metadata: ["retry.in": "\(delay)"])
                    try? await clock.sleep(for: delay)
                    delay = min(delay * 2, interval)
                }
                while !Task.isCancelled {
                    try? await clock.sleep(for: interval)
                    if Task.isCancelled { break }
                    let answered = await dht.join(bootstrap)
                    for peer in await dht.allContacts() { await membership.add(peer) }
                    // Exchange membership with each bootstrap peer directly: after a partition, each
                    // side holds the other as dead and would never probe it again; this probe lets
                    // both sides learn they were declared dead, refute, and merge the views.
                    for peer in answered { await membership.exchange(with: peer) }
                    logger.debug("re-contacted bootstrap peers", metadata: ["answered": "\(answered.count)"])
                }
            }
        }
        group.addTask { [self] in
            while !Task.isCancelled {
                try? await clock.sleep(for: configuration.refreshCheckInterval)
                await dht.tick()
            }
        }
        group.addTask { [self] in await dht.run() }
        group.addTask { [self] in await membership.run() }
        group.addTask { [self] in await repair.run() }
        group.addTask { [self] in await objects.runCacheWriter() }
        group.addTask { [self] in await files.runJanitor() }
    }

    /// Asks a running node to stop and waits until it has; closes a node that never ran.
    /// - Parameter handOff: `true` to announce departure and hand this node's objects to the next
    ///   closest nodes first; `false` to stop at once (tests that simulate a crash use `kill`).
    public func stop(handOff: Bool = true) async {
        enum Step {
            case close
            case signal(AsyncStream<Bool>.Continuation)
            case wait
        }
        let step = lifecycle.withLockedValue { state -> Step in
            switch state {
            case .opened:
                state = .stopped
                return .close
            case .running(let requests): return .signal(requests)
            case .stopped: return .wait
            }
        }
        switch step {
        case .close:
            await transport.shutdown()
            await objects.close()
            markFinished()
        case .signal(let requests):
            requests.yield(handOff)
            await waitUntilFinished()
        case .wait:
            await waitUntilFinished()
        }
    }

    private func markFinished() {
        let waiters = finished.withLockedValue { f -> [CheckedContinuation<Void, Never>] in
            f.done = true
            defer { f.waiters = [] }
            return f.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    private func waitUntilFinished() async {
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let done = finished.withLockedValue { f -> Bool in
                if !f.done { f.waiters.append(waiter) }
                return f.done
            }
            if done { waiter.resume() }
        }
    }

    // MARK: Status

    /// Peers with an open connection.
    public var connectedPeers: [PeerInfo] { transport.connectedPeers }

    /// A snapshot for `/v1/status`.
    public func status() async -> NodeStatus {
        NodeStatus(
            nodeID: nodeID.hex, listenAddress: contact.address.description,
            peers: transport.connectedPeers.count, routingTableSize: await dht.size,
            members: await membership.aliveCount, bytesStored: chunks.bytesCounted, objectsStored: chunks.objectCount,
            cachedBytes: await metadata.cachedBytes, replicas: configuration.replicas,
            repairBacklog: await repair.backlog, repair: await repair.status(),
            averageLookupHops: await dht.averageHops,
            maxStorage: configuration.maxStorage, diskFree: chunks.diskFree, cacheSize: configuration.cacheSize,
            resources: ResourceStatus(
                transport: transport.usage,
                api: apiLimiter.withLockedValue { $0?.statistics }.map {
                    APIUsage(connections: $0.open, evicted: $0.evicted, refused: $0.refused)
                }),
            membership: await membership.statistics)
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
    /// Anti-entropy and repair: records, tombstones, quarantine, exchanges, pushes.
    public var repair: RepairStatus
    public var averageLookupHops: Double
    /// The storage limit (`--max-storage`), or `nil` for none.
    public var maxStorage: UInt64?
    /// Bytes free on the data directory's disk.
    public var diskFree: UInt64?
    /// The cache bound (`--cache-size`).
    public var cacheSize: UInt64
    /// What the resource budget is using, and what it refused.
    public var resources: ResourceStatus
    /// The node's version (``ShoalVersion``).
    public var version: String? = ShoalVersion.string
    /// Membership health (absent from nodes that predate it).
    public var membership: MembershipStatistics?
}

/// Membership counters as `/v1/status` reports them.
public struct MembershipStatistics: Codable, Sendable {
    /// Members this node suspected or heard suspected, declared dead, and suspicions of this
    /// node it refuted, since start.
    public var suspicions: Int
    public var deaths: Int
    public var refutations: Int
    /// Lifeguard's local health multiplier (0 is healthy) and the protocol ticks that came late.
    public var localHealth: Int
    public var lateTicks: Int
    /// Peers heard of and waiting for verification.
    public var unverified: Int
}

/// The resource budget as `/v1/status` reports it.
public struct ResourceStatus: Codable, Sendable {
    public var transport: TransportUsage
    public var api: APIUsage?
}

/// The HTTP API's connections.
public struct APIUsage: Codable, Sendable {
    public var connections: Int
    public var evicted: Int
    public var refused: Int
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

extension ShoalNode: Service {
    /// Runs the node until graceful shutdown, ``stop(handOff:)`` or cancellation: the transport and
    /// every loop (joining, table refresh, membership, repair, the cache writer, the upload janitor)
    /// are children of this task group, and nothing outlives it. Stopping is ordered: leave and hand
    /// off (on graceful shutdown, or `stop(handOff: true)`), then the loops, then the transport, then
    /// the store. In a `ServiceGroup`, list the HTTP API after the node, so that it stops first.
    /// Running a node twice, or after it stopped, returns at once.
    public func run() async throws {
        let (requests, requester) = AsyncStream.makeStream(of: Bool.self, bufferingPolicy: .bufferingNewest(1))
        let begun = lifecycle.withLockedValue { state -> Bool in
            guard case .opened = state else { return false }
            state = .running(requester)
            return true
        }
        guard begun else { return }
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                // The transport serves peers until it is shut down, hand-off included.
                group.addTask { [self] in await transport.run() }
                group.addTask { [self] in
                    await withDiscardingTaskGroup { loops in
                        addLoops(to: &loops)
                        var handOff = false
                        // Ends with a stop request, or with cancellation (no hand-off then).
                        for await requested in requests {
                            handOff = requested
                            break
                        }
                        if handOff && !Task.isCancelled {
                            await membership.leave()
                            let moved = await repair.handOffAll()
                            logger.info("handed off before leaving", metadata: ["objects": "\(moved)"])
                        }
                        loops.cancelAll()
                    }
                    await transport.shutdown()
                }
            }
        } onGracefulShutdown: {
            requester.yield(true)
        }
        lifecycle.withLockedValue { $0 = .stopped }
        await objects.close()
        logger.info("node stopped")
        markFinished()
    }
}
