import ArgumentParser
import Foundation
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import ShoalCore
import ShoalNode

struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Run a node until SIGINT or SIGTERM.",
        discussion:
            "On SIGTERM/SIGINT the node announces it is leaving, hands its data to the next closest nodes, and exits."
    )
    static let apiFileName = "api"

    @Option(help: "Where to accept peer connections (TLS).")
    var listen: String = "127.0.0.1:3000"

    @Option(help: "Data directory: identity key, chunks, metadata (default: SHOAL_DATA or ~/.shoal).")
    var data: String?

    @Option(help: "A peer to join through; repeat for several. None starts a new network.")
    var bootstrap: [String] = []

    @Option(help: "Where to serve the HTTP API (loopback unless --api-token is set). Port 0 picks a free port.")
    var api: String = "127.0.0.1:0"

    @Option(help: "Bearer token required on every API request (mandatory when the API is not on loopback).")
    var apiToken: String?

    @Option(help: "Replication factor r: each object is kept on the r closest live nodes.")
    var replicas: Int = 3

    @Option(help: "Bytes of fetched chunks kept in the local cache (a size: 512, 64K, 1M, 2G).")
    var cacheSize = ByteSize(bytes: 1 << 30)

    @Option(
        help:
            "Most bytes this node stores on disk, objects and metadata together (a size: 64K, 1M, 2G); no limit by default."
    )
    var maxStorage: ByteSize?

    @Option(help: "Chunk size for files put through this node (a size from 64K to 8M).")
    var chunkSize = ByteSize(bytes: 1 << 20)

    @Option(
        help:
            "Chunks each put or get through this node keeps in flight (1 to 64); memory per transfer is about this many chunks."
    )
    var transferWindow = 8

    @Option(help: "SWIM protocol period in milliseconds.")
    var protocolPeriodMs: Int = 1000

    @Option(help: "Seconds between repair rounds (rounds also run soon after membership changes).")
    var repairInterval: Int = 30

    @Option(
        help: ArgumentHelp(
            "How long tombstones are kept after a Delete (30s, 15m, 36h, 10d).",
            discussion:
                "Also the longest a node may be away and come back serving its objects at once; after a longer absence it quarantines them until their other holders confirm them. Every node of a cluster must use the same value."
        ))
    var tombstoneGrace = TimeSpan(seconds: 10 * 86_400)

    @Option(help: "Seconds between contacts of the bootstrap peers (joining, and healing partitions).")
    var bootstrapInterval: Int = 30

    @Option(help: "Log level.")
    var logLevel: Logger.Level = .info

    @OptionGroup(title: "Resource limits")
    var resources: ResourceOptions

    func validate() throws {
        guard replicas >= 1 && replicas <= 20 else { throw ValidationError("--replicas must be from 1 to 20") }
        guard protocolPeriodMs >= 50 else { throw ValidationError("--protocol-period-ms must be at least 50") }
        guard protocolPeriodMs <= 60_000 else { throw ValidationError("--protocol-period-ms must be at most 60000") }
        guard (1...86_400).contains(repairInterval), (1...86_400).contains(bootstrapInterval) else {
            throw ValidationError("--repair-interval and --bootstrap-interval must be from 1 to 86400 seconds")
        }
        guard (10...(10 * 365 * 86_400)).contains(tombstoneGrace.seconds) else {
            throw ValidationError("--tombstone-grace must be from 10s to 3650d, not \(tombstoneGrace)")
        }
        guard (1...64).contains(transferWindow) else { throw ValidationError("--transfer-window must be from 1 to 64") }
        guard (UInt64(ObjectSize.minimumChunk)...UInt64(ObjectSize.maximumChunk)).contains(chunkSize.bytes) else {
            throw ValidationError("--chunk-size must be from 64K to 8M, not \(chunkSize)")
        }
    }

    func run() async throws {
        ProcessMemory.configureAllocator()
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "shoal")
        let env = ProcessInfo.processInfo.environment
        let dataDir = URL(fileURLWithPath: data ?? env["SHOAL_DATA"] ?? (NSHomeDirectory() + "/.shoal"))
        var config = NodeConfiguration(listen: try PeerAddress(parsing: listen), dataDirectory: dataDir)
        config.bootstrap = try bootstrap.map { try PeerAddress(parsing: $0) }
        config.replicas = replicas
        config.protocolPeriod = .milliseconds(protocolPeriodMs)
        config.repairInterval = .seconds(repairInterval)
        config.tombstoneGrace = tombstoneGrace.duration
        config.bootstrapInterval = .seconds(bootstrapInterval)
        config.cacheSize = cacheSize.bytes
        config.maxStorage = maxStorage?.bytes
        config.chunkSize = Int(chunkSize.bytes)
        config.transferWindow = transferWindow
        let apiAddress = try PeerAddress(parsing: api)
        var apiLimits = HTTPAPI.Limits()
        if let note = resources.apply(to: &config, api: &apiLimits) { logger.notice("\(note)") }

        // The one place the global metrics system is bootstrapped: libraries recording through it
        // (the API's per-route metrics) share the node's registry.
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: config.metrics))
        let node = try await ShoalNode.start(configuration: config, logger: logger)
        let apiFile = dataDir.appendingPathComponent(Self.apiFileName)
        let app = try HTTPAPI.makeApplication(
            node: node, address: apiAddress, token: apiToken, limits: apiLimits, logger: logger
        ) { bound in
            try? "\(bound)\n".write(to: apiFile, atomically: true, encoding: .utf8)
            logger.info("API listening", metadata: ["api.address": "\(bound)"])
        }
        let group = ServiceGroup(
            configuration: .init(
                // Graceful shutdown runs from the last service to the first: the API stops taking
                // requests, then the node leaves, hands off its objects and closes its transport.
                services: [.init(service: node), .init(service: app), .init(service: MemoryTrimService())],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
        try? FileManager.default.removeItem(at: apiFile)
    }
}
