import Logging
import ShoalCore
import ShoalStore
import ShoalTransport
import ShoalWire

/// Keeps every object this node holds at `r` replicas on the `r` closest live nodes.
actor RepairShell {
    private let local: Contact
    private let replicas: Int
    private let transport: Transport
    private let dht: DHTShell
    private let chunks: ChunkStore
    private let metadata: MetadataStore
    private let bandwidth: UInt64
    private let logger: Logger
    private var membership: MembershipShell?
    private(set) var backlog = 0

    init(local: Contact, replicas: Int, transport: Transport, dht: DHTShell, chunks: ChunkStore, metadata: MetadataStore,
         bandwidth: UInt64, logger: Logger) {
        self.local = local
        self.replicas = replicas
        self.transport = transport
        self.dht = dht
        self.chunks = chunks
        self.metadata = metadata
        self.bandwidth = bandwidth
        self.logger = logger
    }

    func attach(membership: MembershipShell) { self.membership = membership }

    func run(interval: Duration) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
        }
    }

    func handOffAll() async -> Int { 0 }
}
