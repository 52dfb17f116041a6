import ShoalCore
import ShoalRepair
import ShoalTestKit

/// A few nodes running the pure repair pieces the way the node's RepairShell does:
/// scheduler → exchanges → evidence and reconciliation → planner → pushes, drops, discards.
/// Everything in memory; a push is the target merging the pushed record with its bytes.
struct RepairSimulation {
    struct Node {
        var contact: Contact
        var tree = RecordTree()
        var evidence = HolderEvidence()
        var planner: RepairPlanner
        var scheduler: ExchangeScheduler
        var isUp = true
    }

    let replicas: Int
    var nodes: [NodeID: Node] = [:]
    /// Deletes whose signature verifies (the shell's `GetDelete` check).
    var validDeletes: Set<Key256> = []
    /// Every push delivered: (object, target).
    var pushes: [(ContentID, NodeID)] = []
    var now = Timestamp.zero

    init(replicas: Int) {
        self.replicas = replicas
    }

    mutating func add(_ id: NodeID) {
        let contact = Contact(id: id, address: PeerAddress(host: "127.0.9.\(nodes.count + 1)", port: 7000))
        nodes[id] = Node(
            contact: contact, planner: RepairPlanner(localID: id, replicas: replicas),
            scheduler: ExchangeScheduler(localID: id, replicas: replicas))
    }

    var live: [Contact] { nodes.values.filter(\.isUp).map(\.contact).sorted { $0.id < $1.id } }

    /// Places `records` on their `r` closest live nodes, as puts would.
    mutating func put(_ records: [ObjectRecord]) {
        let map = placement()
        for record in records {
            for holder in map.holders(of: record.id)! { nodes[holder]!.tree.upsert(record.storing(true)) }
        }
    }

    /// `tombstone`'s Delete reaches the live nodes holding a record of `id` (as `rm` does).
    mutating func delete(_ id: ContentID, _ tombstone: Tombstone) {
        validDeletes.insert(tombstone.deleteID)
        for key in nodes.keys where nodes[key]!.isUp {
            if let record = nodes[key]!.tree.record(id) { nodes[key]!.tree.upsert(record.deleting(tombstone)) }
        }
    }

    /// One repair round on every live node, in ID order.
    mutating func round() {
        now = now + .seconds(1)
        for id in live.map(\.id) { round(on: id) }
    }

    mutating func round(on id: NodeID) {
        var me = nodes.removeValue(forKey: id)!
        defer { nodes[id] = me }
        let neighbourhood = live.filter { $0.id != id } + [me.contact]
        for planned in me.scheduler.planRound(neighbourhood: neighbourhood, local: me.tree, now: now) {
            guard var peer = nodes.removeValue(forKey: planned.peer.id) else { continue }
            var session = ExchangeSession(peer: planned.peer, ranges: planned.ranges, horizon: me.tree.horizon)
            let run = LoopbackExchange.run(&session, local: &me.tree, peer: &peer.tree, now: now)
            switch run.outcome {
            case .success(let outcome):
                me.scheduler.onExchangeFinished(outcome, now: now)
                me.evidence.absorb(outcome)
                let reconciliation = RecordReconciliation(outcome: outcome, local: me.tree)
                let verified = reconciliation.deleteIDsToVerify.intersection(validDeletes)
                for record in reconciliation.localUpdates(trusting: verified, local: me.tree) { me.tree.upsert(record) }
                for record in reconciliation.recordsForPeer {
                    let trusted = ObjectRecord(
                        id: record.id, kind: record.kind, isStored: false, claims: record.claims,
                        tombstones: record.tombstones.filter { validDeletes.contains($0.deleteID) })
                    peer.tree.upsert(peer.tree.record(record.id).map { $0.merged(with: trusted) } ?? trusted)
                }
            case .failure(let failure):
                me.scheduler.onExchangeFailed(with: planned.peer.id, failure, now: now)
            }
            nodes[planned.peer.id] = peer
        }
        let map = ResponsibilityMap(nodes: neighbourhood.map(\.id), replicas: replicas)
        var inventory: [InventoryEntry] = []
        me.tree.forEachRecord(in: .everything) {
            if $0.isStored { inventory.append(InventoryEntry(record: $0, size: 1)) }
        }
        let contacts = Dictionary(uniqueKeysWithValues: neighbourhood.map { ($0.id, $0) })
        let plan = me.planner.plan(inventory: inventory, now: now, evidence: me.evidence) { object in
            (map.holders(of: object) ?? []).compactMap { contacts[$0] }
        }
        for directive in plan.directives {
            switch directive {
            case .push(let push):
                me.planner.onPushFinished(push.object, to: push.target.id)
                guard var target = nodes[push.target.id], target.isUp else { continue }
                let merged = target.tree.record(push.object).map { $0.merged(with: push.record) } ?? push.record
                guard !merged.isDeleted else { continue }  // GONE
                target.tree.upsert(merged.storing(true))
                nodes[push.target.id] = target
                pushes.append((push.object, push.target.id))
                me.evidence.noteStored(push.object, on: push.target.id)
            case .drop(let object):
                me.tree.remove(object)
            case .discard(let object):
                if let record = me.tree.record(object) { me.tree.upsert(record.storing(false)) }
            }
        }
    }

    /// Live nodes storing the bytes of `id`.
    func storers(of id: ContentID) -> Set<NodeID> {
        Set(nodes.values.filter { $0.isUp && $0.tree.record(id)?.isStored == true }.map(\.contact.id))
    }

    /// Who should hold what among the live nodes.
    func placement() -> ResponsibilityMap { ResponsibilityMap(nodes: live.map(\.id), replicas: replicas) }

    /// Objects of `ids` not stored exactly on their `r` closest live nodes.
    func misplaced(_ ids: some Sequence<ContentID>) -> [ContentID] {
        let map = placement()
        return ids.filter { storers(of: $0) != Set(map.holders(of: $0)!) }
    }
}
