import Foundation
import Logging
import ShoalCore
import ShoalRepair
import ShoalStore
import ShoalTransport
import ShoalWire

/// Keeps every object this node holds on its `r` closest live nodes: runs the pure repair planner
/// on membership changes and on a timer, gathers what it needs (inventory, each object's closest
/// live nodes from the routing table and membership, who confirms holding it), and performs its
/// pushes and drops under a bandwidth bound. Also hands everything off on graceful leave.
actor RepairShell {
    private let local: Contact
    private let replicas: Int
    private let transport: Transport
    private let dht: DHTShell
    private let objects: LocalObjects
    private let bandwidth: UInt64
    private let logger: Logger
    private var membership: MembershipShell?
    private var planner: RepairPlanner
    private let clock: NodeClock
    /// Objects waiting for a push beyond this round's limits.
    private(set) var backlog = 0
    /// Pushes done and copies dropped since start.
    private(set) var pushed = 0
    private(set) var dropped = 0
    private var wakeUp: CheckedContinuation<Void, Never>?
    /// Holders confirmed per object, with the placement they were confirmed for: reused while that
    /// placement is unchanged and fresh, so an idle round costs no network traffic.
    private var confirmed: [ContentID: (closest: [NodeID], holders: Set<NodeID>, at: Timestamp)] = [:]
    private let confirmationLifetime: Duration = .seconds(300)
    /// The kind of each object in the last inventory, for pushes.
    private var kinds: [ContentID: ObjectKind] = [:]
    private var roundRequested = false

    init(local: Contact, replicas: Int, transport: Transport, dht: DHTShell, objects: LocalObjects, clock: NodeClock,
         bandwidth: UInt64, logger: Logger) {
        self.local = local
        self.replicas = replicas
        self.transport = transport
        self.dht = dht
        self.objects = objects
        self.clock = clock
        self.bandwidth = max(bandwidth, 1 << 20)
        self.logger = logger
        self.planner = RepairPlanner(localID: local.id, replicas: replicas,
                                     limits: RepairLimits(maximumPushes: 64, maximumBytes: 64 << 20, pushTimeout: .seconds(60)))
    }

    func attach(membership: MembershipShell) async {
        self.membership = membership
        await membership.observe { [weak self] _ in await self?.requestRound() }
    }

    /// Asks for a round soon (membership changed).
    func requestRound() {
        roundRequested = true
        wakeUp?.resume()
        wakeUp = nil
    }

    /// Runs rounds every `interval`, and soon after membership changes, until cancelled.
    func run(interval: Duration) async {
        while !Task.isCancelled {
            await sleep(upTo: interval)
            if Task.isCancelled { break }
            // Let a burst of membership changes settle into one round.
            try? await Task.sleep(for: .milliseconds(200))
            roundRequested = false
            await round()
        }
    }

    private func sleep(upTo interval: Duration) async {
        if roundRequested { return }
        let timer = Task { [weak self] in
            try? await Task.sleep(for: interval)
            if !Task.isCancelled { await self?.requestRound() }
        }
        await withCheckedContinuation { wakeUp = $0 }
        timer.cancel()
    }

    /// One repair round. Returns the number of pushes performed.
    @discardableResult
    func round() async -> Int {
        let inventory = await currentInventory()
        guard !inventory.isEmpty else {
            backlog = 0
            return 0
        }
        let placements = await placements(for: inventory.map(\.id), includeSelf: true, count: replicas)
        let plan = planner.plan(inventory: inventory, now: clock.now) { placements[$0] ?? ObjectPlacement(closest: [local]) }
        backlog = plan.backlog
        let done = await perform(plan, sizes: Self.sizes(of: inventory))
        if done > 0 || !plan.drops.isEmpty {
            logger.info("repair round", metadata: ["pushed": "\(done)", "dropped": "\(plan.drops.count)", "backlog": "\(plan.backlog)"])
        }
        return done
    }

    /// Pushes every object to its next closest nodes before this node leaves.
    /// - Returns: objects pushed.
    func handOffAll(deadline: Duration = .seconds(60)) async -> Int {
        let started = ContinuousClock.now
        var total = 0
        // Bounded: at most 20 rounds, and the deadline.
        for _ in 0..<20 {
            guard ContinuousClock.now - started < deadline else { break }
            let inventory = await currentInventory()
            guard !inventory.isEmpty else { break }
            let placements = await placements(for: inventory.map(\.id), includeSelf: false, count: replicas + 1)
            let plan = planner.leavePlan(inventory: inventory, now: clock.now) { placements[$0] ?? ObjectPlacement(closest: []) }
            if plan.actions.isEmpty { break }
            total += await perform(plan, sizes: Self.sizes(of: inventory))
            if plan.backlog == 0 { break }
        }
        return total
    }

    // MARK: Gathering

    /// The replicas this node keeps (cached copies are not its responsibility, and unchecked
    /// copies are not pushed until their claims were checked). Objects whose every claim was
    /// deleted are no longer held at all, so nothing listed here can be resurrected by a push.
    private func currentInventory() async -> [InventoryEntry] {
        var out: [InventoryEntry] = []
        var cursor: ContentID?
        // Bounded: each page advances the cursor; the store holds finitely many objects.
        while true {
            guard let page = try? await objects.metadata.objects(in: [.replica], after: cursor, limit: 1024), !page.isEmpty else { break }
            for record in page {
                out.append(InventoryEntry(id: record.id, size: Int(clamping: record.size), isPinned: false, isTombstoned: false))
                kinds[record.id] = record.kind
            }
            cursor = page.last?.id
        }
        let held = Set(out.map(\.id))
        confirmed = confirmed.filter { held.contains($0.key) }
        kinds = kinds.filter { held.contains($0.key) }
        return out
    }

    /// For each object: its `count` closest live nodes in this node's view, and which of them
    /// confirm they hold it (asked with FindValue, a few at a time).
    private func placements(for ids: [ContentID], includeSelf: Bool, count: Int) async -> [ContentID: ObjectPlacement] {
        var out: [ContentID: ObjectPlacement] = [:]
        let live = await membership?.liveMembers.map(\.id) ?? []
        let liveSet = Set(live)
        for id in ids {
            var candidates = await dht.closest(to: id, count: count + 4).filter { liveSet.isEmpty || liveSet.contains($0.id) }
            if includeSelf { candidates.append(local) }
            let closest = Array(candidates.sorted { id.isCloser($0.id, than: $1.id) }.prefix(count))
            let closestIDs = closest.map(\.id)
            let now = clock.now
            if let known = confirmed[id], known.closest == closestIDs, now - known.at < confirmationLifetime {
                out[id] = ObjectPlacement(closest: closest, holders: known.holders)
                continue
            }
            var holders: Set<NodeID> = []
            await withTaskGroup(of: NodeID?.self) { group in
                for c in closest where c.id != local.id {
                    group.addTask { [transport] in
                        if case .valueResult(let v)? = try? await transport.request(.findValue(key: id), to: c, timeout: .seconds(3)),
                           v.held, v.replica {
                            return c.id
                        }
                        return nil
                    }
                }
                for await h in group { if let h { holders.insert(h) } }
            }
            confirmed[id] = (closestIDs, holders, now)
            out[id] = ObjectPlacement(closest: closest, holders: holders)
        }
        return out
    }

    // MARK: Acting

    private static func sizes(of inventory: [InventoryEntry]) -> [ContentID: Int] {
        Dictionary(inventory.map { ($0.id, $0.size) }, uniquingKeysWith: { a, _ in a })
    }

    private func perform(_ plan: RepairPlan, sizes: [ContentID: Int]) async -> Int {
        var done = 0
        let started = ContinuousClock.now
        var bytes: UInt64 = 0
        for action in plan.actions {
            switch action {
            case .push(let id, let target):
                // Bandwidth bound: never ahead of `bandwidth` bytes per second.
                let budget = Duration.nanoseconds(Int64(Double(bytes) / Double(bandwidth) * 1e9))
                let elapsed = ContinuousClock.now - started
                if budget > elapsed { try? await Task.sleep(for: budget - elapsed) }
                if await push(id, to: target) {
                    done += 1
                    confirmed[id]?.holders.insert(target.id)
                }
                bytes += UInt64(sizes[id] ?? 0)
                planner.onPushFinished(id, to: target.id)
            case .drop(let id):
                do {
                    if try await objects.drop(id) { dropped += 1 }
                    confirmed[id] = nil
                } catch {
                    logger.warning("could not drop a handed-off copy", metadata: ["chunk.id": "\(id.short)", "error": "\(error)"])
                }
            }
        }
        pushed += done
        return done
    }

    /// Pushes a replica with its kind and every claim on it.
    private func push(_ id: ContentID, to target: Contact) async -> Bool {
        do {
            guard let bytes = try await objects.get(id) else { return false }
            let claims = try await objects.metadata.claims(of: id)
            let response = try await transport.request(
                .storeChunk(StoreChunk(id: id, data: bytes, kind: kinds[id] ?? .chunk, root: .zero,
                                       ownerKey: Data(claims.first?.owner.key ?? []), force: true,
                                       claims: Array(claims.prefix(StoreChunk.maximumClaims)))),
                to: target, timeout: .seconds(30))
            if case .storeAck(let ack) = response, ack.stored { return true }
            return false
        } catch {
            logger.debug("repair push failed", metadata: ["chunk.id": "\(id.short)", "peer.id": "\(target.id.short)", "error": "\(error)"])
            return false
        }
    }
}
