import ShoalCore
import ShoalDHT
import ShoalTestKit

/// What simulated DHT nodes send each other.
enum SimMessage: Sendable {
    case findNode(lookup: Int, target: Key256)
    case nodes(lookup: Int, [Contact])
    case ping
    case pong
    /// A timer of the lookup's origin: the request to `peer` is overdue.
    case lookupTimeout(lookup: Int, peer: NodeID)
}

/// Many DHT nodes on a ``SimulatedNetwork``: each a routing table, lookups driven by
/// ``LookupStateMachine`` through real (simulated) message passing, the way the node shell drives them.
final class DHTSimulation {
    struct Node {
        var contact: Contact
        var table: RoutingTable
    }

    let k: Int
    var net: SimulatedNetwork<SimMessage>
    private(set) var nodes: [Node] = []
    private var index: [NodeID: Int] = [:]
    /// When set, nodes update their tables from traffic (answers, timeouts, pings) as the shell would.
    var learnFromTraffic: Bool
    var lookupConfiguration: LookupStateMachine.Configuration

    private var currentID = -1
    private var currentOrigin = 0
    private var currentLookup: LookupStateMachine?
    private var currentResult: LookupResult?
    private(set) var eventsHandled = 0

    init(nodeCount: Int, seed: UInt64, k: Int = 20, learnFromTraffic: Bool) {
        self.k = k
        self.learnFromTraffic = learnFromTraffic
        self.net = SimulatedNetwork(
            configuration: .init(baseDelay: .milliseconds(5), jitter: .milliseconds(40)), seed: seed)
        self.lookupConfiguration = .init(k: k, requestTimeout: .seconds(1))
        var rng = SeededRandom(seed: seed ^ 0x5EED)
        for i in 0..<nodeCount {
            let id = Key256.random(using: &rng)
            let contact = makeContact(id, host: loopbackHost(i + 1), port: 4000)
            index[id] = nodes.count
            nodes.append(
                Node(
                    contact: contact,
                    table: RoutingTable(localID: id, configuration: .init(bucketSize: k), now: net.now)))
        }
    }

    var ids: [NodeID] { nodes.map(\.contact.id) }

    func contact(_ id: NodeID) -> Contact { nodes[index[id]!].contact }

    func table(_ node: Int) -> RoutingTable { nodes[node].table }

    // MARK: Populating tables directly

    /// Fills every table as a converged network would have: for each bucket, up to K + 5 random nodes
    /// of that bucket's range are offered as having answered (a full bucket keeps its first K, the rest
    /// wait in the replacement cache). Buckets are ranges of the sorted ID list, so this is cheap.
    func populateTablesDirectly(seed: UInt64) -> Int {
        var rng = SeededRandom(seed: seed)
        let sorted = ids.sorted()
        var offered = 0
        for n in nodes.indices {
            let local = nodes[n].contact.id
            for bucket in 0..<RoutingTable.bucketCount {
                // The keys sharing the first `bucket` bits with `local` and differing at bit `bucket`.
                let flipped = local.settingBit(bucket, to: !local.bit(bucket))
                let low = DHTSimulation.and(flipped, DHTSimulation.prefixMask(bucket + 1))
                let high = DHTSimulation.or(low, DHTSimulation.not(DHTSimulation.prefixMask(bucket + 1)))
                let start = DHTSimulation.lowerBound(sorted, low)
                let end = DHTSimulation.lowerBound(sorted, high, inclusive: true)
                if end > start {
                    for i in DHTSimulation.sample(start..<end, count: k + 5, using: &rng) {
                        _ = nodes[n].table.onResponded(contact(sorted[i]), now: net.now)
                        offered += 1
                    }
                }
                // Stop once no other node shares the first bucket+1 bits with `local`.
                let block = DHTSimulation.and(local, DHTSimulation.prefixMask(bucket + 1))
                let blockEnd = DHTSimulation.or(block, DHTSimulation.not(DHTSimulation.prefixMask(bucket + 1)))
                if DHTSimulation.lowerBound(sorted, blockEnd, inclusive: true) - DHTSimulation.lowerBound(sorted, block)
                    <= 1
                {
                    break
                }
            }
        }
        return offered
    }

    // MARK: Joining through the network

    /// Node `node` joins through `bootstraps`: pings them (their answers admit them), then looks up its
    /// own ID. Everything goes through the network.
    func join(_ node: Int, bootstraps: [Int]) -> LookupResult {
        let me = nodes[node].contact.id
        for b in bootstraps { net.send(.ping, from: me, to: nodes[b].contact.id) }
        drain(maxEvents: 10_000)
        return lookup(from: node, target: me)
    }

    /// Runs every table's refresh: advances time by the refresh interval, then performs each refresh
    /// lookup the tables ask for.
    func refreshAll(using rng: inout SeededRandom) -> Int {
        let deadline = net.now + .seconds(3600)
        var steps = 0
        while steps < 1_000_000, let event = net.step(until: deadline) {
            handle(event)
            steps += 1
        }
        net.run(until: deadline, maxEvents: 1) { _, _ in }  // nothing is left before the deadline: moves time there
        var lookups = 0
        for n in nodes.indices {
            for directive in nodes[n].table.onTick(now: net.now, using: &rng) {
                if case .refresh(_, let target) = directive {
                    _ = lookup(from: n, target: target)
                    lookups += 1
                }
            }
        }
        return lookups
    }

    // MARK: Lookups

    /// Performs one iterative lookup from `origin` over the network and returns its result.
    func lookup(from origin: Int, target: Key256) -> LookupResult {
        currentID += 1
        currentOrigin = origin
        currentResult = nil
        currentLookup = LookupStateMachine(
            target: target, kind: .node, localID: nodes[origin].contact.id,
            seeds: nodes[origin].table.closest(to: target, count: k), configuration: lookupConfiguration)
        apply(currentLookup!.start(now: net.now))
        var steps = 0
        while currentResult == nil, steps < 1_000_000, let event = net.step() {
            handle(event)
            steps += 1
        }
        precondition(currentResult != nil, "lookup did not finish in \(steps) events")
        return currentResult!
    }

    /// Handles queued events (pings, stale answers) for at most `maxEvents`.
    func drain(maxEvents: Int) {
        var steps = 0
        while steps < maxEvents, let event = net.step() {
            handle(event)
            steps += 1
        }
    }

    private func handle(_ event: SimulatedNetwork<SimMessage>.Event) {
        eventsHandled += 1
        let now = net.now
        switch event {
        case .message(let from, let to, .findNode(let lookup, let target)):
            let n = index[to]!
            if learnFromTraffic { route(n, nodes[n].table.onHeardOf(contact(from), now: now)) }
            net.send(.nodes(lookup: lookup, nodes[n].table.closest(to: target, count: k)), from: to, to: from)
        case .message(let from, let to, .nodes(let lookup, let contacts)):
            guard lookup == currentID, currentLookup != nil, to == nodes[currentOrigin].contact.id else { return }
            if learnFromTraffic {
                route(currentOrigin, nodes[currentOrigin].table.onResponded(contact(from), now: now))
                for c in contacts where c.id != to {
                    route(currentOrigin, nodes[currentOrigin].table.onHeardOf(c, now: now))
                }
            }
            apply(currentLookup!.onResponse(from: from, contacts: contacts, now: now))
        case .message(let from, let to, .ping):
            let n = index[to]!
            if learnFromTraffic { route(n, nodes[n].table.onHeardOf(contact(from), now: now)) }
            net.send(.pong, from: to, to: from)
        case .message(let from, let to, .pong):
            let n = index[to]!
            route(n, nodes[n].table.onPingResult(contact(from), alive: true, now: now))
        case .timer(_, _, .lookupTimeout(let lookup, let peer)):
            guard lookup == currentID, currentLookup != nil else { return }
            if learnFromTraffic { route(currentOrigin, nodes[currentOrigin].table.onFailure(peer, now: now)) }
            apply(currentLookup!.onTimeout(of: peer, now: now))
        case .message(_, _, .lookupTimeout), .timer:
            break
        }
    }

    private func apply(_ directives: [LookupDirective]) {
        let origin = nodes[currentOrigin].contact.id
        for directive in directives {
            switch directive {
            case .send(.findNode(let target), let to, let deadline):
                net.send(.findNode(lookup: currentID, target: target), from: origin, to: to.id)
                net.scheduleTimer(for: origin, at: deadline, .lookupTimeout(lookup: currentID, peer: to.id))
            case .send(.findValue, _, _):
                preconditionFailure("the simulation runs node lookups only")
            case .finished(let result):
                currentResult = result
                currentLookup = nil
                if learnFromTraffic {
                    nodes[currentOrigin].table.onLookupCompleted(target: result.target, now: net.now)
                }
            }
        }
    }

    private func route(_ node: Int, _ directives: [RoutingDirective]) {
        let me = nodes[node].contact.id
        for directive in directives {
            switch directive {
            case .verify(let c): net.send(.ping, from: me, to: c.id)
            case .pingToEvict(let old, _): net.send(.ping, from: me, to: old.id)
            case .refresh: break  // refreshes run in refreshAll
            }
        }
    }

    // MARK: Key helpers

    static func prefixMask(_ bits: Int) -> Key256 {
        func word(_ j: Int) -> UInt64 {
            let n = min(max(bits - 64 * j, 0), 64)
            return n == 0 ? 0 : n == 64 ? .max : ~(UInt64.max >> UInt64(n))
        }
        return Key256(words: (word(0), word(1), word(2), word(3)))
    }

    static func and(_ a: Key256, _ b: Key256) -> Key256 {
        Key256(words: (a.words.0 & b.words.0, a.words.1 & b.words.1, a.words.2 & b.words.2, a.words.3 & b.words.3))
    }

    static func or(_ a: Key256, _ b: Key256) -> Key256 {
        Key256(words: (a.words.0 | b.words.0, a.words.1 | b.words.1, a.words.2 | b.words.2, a.words.3 | b.words.3))
    }

    static func not(_ a: Key256) -> Key256 {
        Key256(words: (~a.words.0, ~a.words.1, ~a.words.2, ~a.words.3))
    }

    /// The first index whose key is `>= key` (or `> key` when `inclusive`).
    static func lowerBound(_ sorted: [Key256], _ key: Key256, inclusive: Bool = false) -> Int {
        var low = 0
        var high = sorted.count
        while low < high {
            let mid = (low + high) / 2
            if sorted[mid] < key || (inclusive && sorted[mid] == key) { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Up to `count` distinct indices of `range` in random order.
    static func sample(_ range: Range<Int>, count: Int, using rng: inout SeededRandom) -> [Int] {
        if range.count <= count { return Array(range).shuffled(using: &rng) }
        var picked: [Int] = []
        var seen: Set<Int> = []
        while picked.count < count {
            let i = Int.random(in: range, using: &rng)
            if seen.insert(i).inserted { picked.append(i) }
        }
        return picked
    }
}
