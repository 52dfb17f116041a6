import DequeModule
import ShoalCore

/// The peers heard of but not yet verified, bounded in number per informer and in total, each
/// forgotten a fixed time after it was first heard of (see ``UnverifiedMember``).
struct UnverifiedMembers: Sendable {
    /// What became of a claim.
    enum Admission: Hashable, Sendable {
        case added
        /// The peer was already waiting; its claimed state was updated if newer.
        case updated
        /// Refused: the informer already has ``SWIMSettings/maximumUnverifiedPerInformer`` waiting.
        case informerFull
        /// Refused: ``SWIMSettings/maximumUnverifiedMembers`` are waiting.
        case full
    }

    private var byID: [NodeKey: UnverifiedMember] = [:]
    /// Waiting peers that introduced themselves or that the shell reported, then the others; both
    /// in arrival order, with stale entries skipped lazily.
    private var firstQueue = FIFO()
    private var gossipQueue = FIFO()
    /// Every peer in arrival order with its arrival time, for expiry (all share one lifetime).
    private var arrivals = FIFO()
    /// Peers waiting per informer (the first informer only).
    private var perInformer: [NodeKey: Int] = [:]
    let maximumTotal: Int
    let maximumPerInformer: Int

    init(maximumTotal: Int, maximumPerInformer: Int) {
        self.maximumTotal = max(0, maximumTotal)
        self.maximumPerInformer = max(0, maximumPerInformer)
    }

    var count: Int { byID.count }
    var isEmpty: Bool { byID.isEmpty }

    subscript(id: NodeID) -> UnverifiedMember? {
        get { byID.isEmpty ? nil : byID[NodeKey(id)] }
        set {
            guard let newValue, byID[NodeKey(id)] != nil else { return }
            byID[NodeKey(id)] = newValue
        }
    }

    /// Every waiting peer, in no particular order.
    var all: Dictionary<NodeKey, UnverifiedMember>.Values { byID.values }

    /// Peers waiting on behalf of `informer`.
    func waiting(informedBy informer: NodeID) -> Int { perInformer.isEmpty ? 0 : perInformer[NodeKey(informer)] ?? 0 }

    /// Admits `candidate` (a fresh record) unless a cap forbids, or merges it into the waiting one.
    mutating func admit(_ candidate: UnverifiedMember) -> Admission {
        let id = candidate.contact.id
        let key = NodeKey(id)
        if var existing = byID[key] {
            if candidate.incarnation > existing.incarnation
                || (candidate.incarnation == existing.incarnation && candidate.status > existing.status)
            {
                existing.status = candidate.status
                existing.incarnation = candidate.incarnation
                existing.accuser = candidate.accuser
            }
            if existing.attempt == .waiting, existing.contact != candidate.contact, candidate.introducedItself {
                existing.contact = candidate.contact
            }
            for informer in candidate.informers
            where existing.informers.count < 3 && !existing.informers.contains(where: { $0.hasSameWords(as: informer) })
            {
                existing.informers.append(informer)
            }
            byID[key] = existing
            return .updated
        }
        if let informer = candidate.informers.first, waiting(informedBy: informer) >= maximumPerInformer {
            return .informerFull
        }
        guard byID.count < maximumTotal else { return .full }
        byID[key] = candidate
        if let informer = candidate.informers.first { perInformer[NodeKey(informer), default: 0] += 1 }
        let ticket = FIFO.Ticket(id: id, learnedAt: candidate.learnedAt)
        let bound = 2 * maximumTotal + 64
        let members = byID
        if candidate.introducedItself || candidate.informers.isEmpty {
            firstQueue.push(ticket, bound: bound) { members[NodeKey($0.id)]?.attempt == .waiting }
        } else {
            gossipQueue.push(ticket, bound: bound) { members[NodeKey($0.id)]?.attempt == .waiting }
        }
        arrivals.push(ticket, bound: bound) { members[NodeKey($0.id)]?.learnedAt == $0.learnedAt }
        return .added
    }

    /// Removes and returns the peer `id`.
    @discardableResult
    mutating func remove(_ id: NodeID) -> UnverifiedMember? {
        guard let removed = byID.removeValue(forKey: NodeKey(id)) else { return nil }
        if let informer = removed.informers.first.map(NodeKey.init) {
            let left = (perInformer[informer] ?? 1) - 1
            perInformer[informer] = left > 0 ? left : nil
        }
        return removed
    }

    /// The next waiting peer to verify, marked as being verified directly.
    mutating func nextToVerify() -> UnverifiedMember? {
        for queue in [0, 1] {
            while let id = (queue == 0 ? firstQueue.pop() : gossipQueue.pop())?.id {
                guard var candidate = byID[NodeKey(id)], candidate.attempt == .waiting else { continue }
                candidate.attempt = .direct
                byID[NodeKey(id)] = candidate
                return candidate
            }
        }
        return nil
    }

    /// Removes the peers whose time is up at `now`.
    mutating func expire(now: Timestamp) -> [UnverifiedMember] {
        var expired: [UnverifiedMember] = []
        while let ticket = arrivals.peek() {
            guard let candidate = byID[NodeKey(ticket.id)], candidate.learnedAt == ticket.learnedAt else {
                _ = arrivals.pop()
                continue
            }
            guard candidate.expiresAt <= now else { break }
            _ = arrivals.pop()
            if let removed = remove(ticket.id) { expired.append(removed) }
        }
        return expired
    }

    /// Removes every peer whose first informer is `informer`.
    mutating func removeAll(informedBy informer: NodeID) -> [UnverifiedMember] {
        guard waiting(informedBy: informer) > 0 else { return [] }
        let ids = byID.values.filter { $0.informers.first.map { $0.hasSameWords(as: informer) } ?? false }.map(
            \.contact.id)
        return ids.sorted().compactMap { remove($0) }
    }

    /// A queue of node IDs, purged of entries that no longer matter when it outgrows its bound.
    private struct FIFO: Sendable {
        struct Ticket: Sendable {
            var id: NodeID
            var learnedAt: Timestamp
        }

        private var tickets = Deque<Ticket>()

        mutating func push(_ ticket: Ticket, bound: Int, stillMatters: (Ticket) -> Bool) {
            tickets.append(ticket)
            if tickets.count > bound { tickets = Deque(tickets.filter(stillMatters)) }
        }

        func peek() -> Ticket? { tickets.first }

        mutating func pop() -> Ticket? { tickets.popFirst() }
    }
}
