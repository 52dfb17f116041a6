import Logging
import NIOCore
import ShoalCore
import ShoalDHT
import ShoalFile
import ShoalStore
import ShoalTransport
import ShoalWire

/// The get path below the file pipeline: fetches objects from this node or from the nodes that
/// hold them, swarm-style, and returns only verified bytes.
///
/// An object's holders are its `r` closest nodes (``DHTShell/placement(for:r:)``: computed locally
/// where the routing table covers the neighbourhood). Each request goes to the holder the
/// ``HolderBoard`` ranks best; a holder slower than a few times its usual latency is raced by the
/// next best (hedging, which also covers a file's last chunks: endgame), and a failing one is
/// skipped. Every copy is hashed once, here; a bad one is reported to its holder (`BadCopy`) and
/// another is fetched. When every placement holder fails, a value lookup finds any other copy.
/// Objects fetched for a reader are offered to the local cache, off the reader's path.
final class ObjectFetcher: ObjectSource {
    let local: Contact
    let replicas: Int
    let transport: Transport
    let dht: DHTShell
    let objects: LocalObjects
    let board: HolderBoard
    let metrics: NodeMetrics
    let logger: Logger
    /// How long one request may take before the holder counts as failed.
    static let requestTimeout: Duration = .seconds(10)
    /// Holders tried per object at most.
    static let maximumAttempts = 8
    /// Nodes past the `r` closest asked before a lookup (where puts spill over).
    static let spillOverCandidates = 2

    init(
        local: Contact, replicas: Int, transport: Transport, dht: DHTShell, objects: LocalObjects, board: HolderBoard,
        metrics: NodeMetrics, logger: Logger
    ) {
        self.local = local
        self.replicas = replicas
        self.transport = transport
        self.dht = dht
        self.objects = objects
        self.board = board
        self.metrics = metrics
        self.logger = logger
    }

    /// Fetches one object: this node's copy if it serves one, else from the network.
    /// - Returns: bytes whose SHA-256 is `id`.
    /// - Throws: ``FetchError`` when no holder delivers a verified copy.
    func get(id: ContentID, kind: ObjectKind, expectedSize: UInt64?) async throws -> ByteBuffer {
        if let bytes = try? await objects.get(id) { return bytes }
        var tried: Set<NodeID> = [local.id]
        var errors: [String] = []
        let placement = await dht.placement(for: id, r: replicas)
        let length = expectedSize.map { min($0, UInt64(ObjectSize.maximum)) } ?? 0
        if let bytes = await fetch(id, length: length, from: placement.contacts, tried: &tried, errors: &errors) {
            objects.cache(id, bytes: bytes, kind: kind)
            return bytes
        }
        // Every placement holder failed: the next closest nodes, where a put spills over when a
        // holder is full or down.
        let next = await dht.closest(to: id, count: replicas + Self.spillOverCandidates)
        if let bytes = await fetch(id, length: length, from: next, tried: &tried, errors: &errors) {
            objects.cache(id, bytes: bytes, kind: kind)
            return bytes
        }
        // Then any other copy the network knows of (a stale replica, a cached copy).
        let found = await dht.lookup(id, kind: .value)
        if let bytes = await fetch(
            id, length: length, from: found.holders + found.closest.prefix(replicas + 2), tried: &tried,
            errors: &errors)
        {
            objects.cache(id, bytes: bytes, kind: kind)
            return bytes
        }
        metrics.fetchFailed()
        throw FetchError(id: id, attempts: errors)
    }

    /// Tries the untried candidates, best ranked first, racing a slow holder against the next.
    private func fetch(
        _ id: ContentID, length: UInt64, from candidates: [Contact], tried: inout Set<NodeID>,
        errors: inout [String]
    ) async -> ByteBuffer? {
        var remaining = board.rank(candidates.filter { !tried.contains($0.id) }.uniqued())
        while !remaining.isEmpty, tried.count <= Self.maximumAttempts {
            let first = remaining.removeFirst()
            tried.insert(first.id)
            let second = remaining.first
            let outcome = await race(id, length: length, first: first, second: second)
            if let racer = outcome.secondTried {
                tried.insert(racer.id)
                remaining.removeAll { $0.id == racer.id }
            }
            errors += outcome.errors
            if let bytes = outcome.bytes { return bytes }
            remaining = board.rank(remaining)
        }
        return nil
    }

    private struct RaceOutcome {
        var bytes: ByteBuffer?
        var secondTried: Contact?
        var errors: [String] = []
    }

    private enum RaceEvent: Sendable {
        case answer(Contact, Result<ByteBuffer, any Error>)
        case hedgeDue
    }

    /// Asks `first`; if it has not answered within its hedge delay (or failed), asks `second` too.
    /// The first verified copy wins; the other request is cancelled.
    private func race(_ id: ContentID, length: UInt64, first: Contact, second: Contact?) async -> RaceOutcome {
        await withTaskGroup(of: RaceEvent.self) { group in
            group.addTask { [self] in .answer(first, await request(id, length: length, from: first)) }
            if second != nil {
                let (delay, clock) = (board.hedgeDelay(for: first.id), board.clock)
                group.addTask {
                    try? await clock.sleep(for: delay)
                    return .hedgeDue
                }
            }
            var outcome = RaceOutcome()
            var outstanding = 1
            func startSecond() {
                guard let second, outcome.secondTried == nil else { return }
                outcome.secondTried = second
                outstanding += 1
                group.addTask { [self] in .answer(second, await request(id, length: length, from: second)) }
            }
            while let event = await group.next() {
                switch event {
                case .hedgeDue:
                    if outstanding > 0 && !Task.isCancelled { startSecond() }
                case .answer(_, .success(let bytes)):
                    outcome.bytes = bytes
                    group.cancelAll()
                    return outcome
                case .answer(let holder, .failure(let error)):
                    outstanding -= 1
                    if !(error is CancellationError) { outcome.errors.append("\(holder.id.short): \(error)") }
                    startSecond()
                    if outstanding == 0 {
                        group.cancelAll()
                        return outcome
                    }
                }
            }
            return outcome
        }
    }

    /// One GetChunk of the whole object from `holder` (`length` its expected size, or 0), verified.
    private func request(_ id: ContentID, length: UInt64, from holder: Contact) async -> Result<ByteBuffer, any Error> {
        board.started(holder.id)
        let started = board.clock.now
        do {
            let response = try await transport.request(
                .getChunk(GetChunk(id: id, length: length)), to: holder, timeout: Self.requestTimeout)
            guard case .chunkData(let data) = response else {
                throw TransportError.protocolViolation("GetChunk answered with \(response.name)")
            }
            guard data.offset == 0, UInt64(data.data.readableBytes) == data.totalSize,
                ContentID.sha256(of: data.data) == id
            else {
                reportBadCopy(id, from: holder)
                throw FetchError.badCopy
            }
            board.succeeded(holder.id, bytes: data.data.readableBytes, elapsed: board.clock.now - started)
            return .success(data.data)
        } catch is CancellationError {
            board.abandoned(holder.id)
            return .failure(CancellationError())
        } catch {
            board.failed(holder.id)
            if !(error is WireError), !(error is FetchError) { await dht.peerFailed(holder.id) }
            return .failure(error)
        }
    }

    private func reportBadCopy(_ id: ContentID, from holder: Contact) {
        metrics.corruptChunk()
        logger.warning(
            "peer served bytes that do not match the hash; trying another holder",
            metadata: ["peer.id": "\(holder.id.short)", "chunk.id": "\(id.short)"])
        transport.sendIfConnected(.badCopy(id), to: holder.id, requiring: PeerCapability.badCopy)
    }
}

/// An object could not be fetched from any holder.
public struct FetchError: Error, CustomStringConvertible {
    public var id: ContentID
    public var attempts: [String]

    static let badCopy = FetchError(id: .zero, attempts: ["served bytes that do not match the object's hash"])

    public var description: String {
        if id == .zero { return attempts.first ?? "bad copy" }
        return attempts.isEmpty
            ? "object \(id.short) was not found on any node"
            : "object \(id.short) could not be fetched from any holder (\(attempts.prefix(3).joined(separator: "; ")))"
    }
}

extension Array where Element == Contact {
    /// The contacts in order, each once.
    func uniqued() -> [Contact] {
        var seen: Set<NodeID> = []
        return filter { seen.insert($0.id).inserted }
    }
}
