import ShoalCore

/// A Kademlia routing table: the contacts a node knows, kept in 256 k-buckets by XOR distance.
///
/// ## Algorithm
///
/// This follows *Kademlia: A Peer-to-peer Information System Based on the XOR Metric*
/// (Maymounkov & Mazières, IPTPS 2002), §2.2 and §4.1, with the admission and diversity rules of
/// libp2p's Kademlia DHT:
///
/// - The distance between two keys is their XOR, read as a 256-bit unsigned integer. A contact goes
///   to bucket `i` where `i` is the number of leading zero bits of its distance from the local node,
///   so bucket 0 covers the far half of the key space and bucket 255 the single nearest key. The 256
///   buckets are a fixed array (no splitting); the deep ones simply stay empty.
/// - Each bucket holds at most K contacts (default 20) in least-recently-seen order, plus a bounded
///   replacement cache. Only a contact that has *answered a request* is admitted
///   (``onResponded(_:now:)``); one merely heard of (``onHeardOf(_:now:)``) waits in the replacement
///   cache and is verified first (``RoutingDirective/verify(_:)``).
/// - A full bucket does not drop a live contact for a new one: it asks the shell to ping its least
///   recently seen entry (``RoutingDirective/pingToEvict(old:candidate:)``). A live old entry stays
///   (long-lived nodes are the most likely to stay up, §2.2), a dead one makes room for the candidate.
/// - Failed contacts are removed (``onFailure(_:now:)``, ``remove(_:now:)``) and replaced from the
///   replacement cache (§4.1).
/// - Against eclipse attacks, as libp2p's IP diversity filter (`go-libp2p-kbucket/peerdiversity`)
///   does, a bucket holds at most 2 and the whole table at most 3 contacts of one ``IPGroup``
///   (/24 for IPv4, /48 for IPv6). The caps are off for loopback and private addresses.
/// - Buckets not touched for the refresh interval (default one hour) ask for a lookup of a random
///   key in their range (``onTick(now:using:)``, §2.3).
///
/// The table is a pure value: it never reads a clock or does I/O. Time comes in as `now`, randomness
/// as a generator, and every input returns the ``RoutingDirective``s for the shell to carry out.
public struct RoutingTable: Sendable {
    /// A contact in the table with what the table knows about it.
    public struct Entry: Hashable, Sendable {
        public var contact: Contact
        /// When it last answered.
        public var lastSeen: Timestamp
        /// Consecutive failures since it last answered.
        public var failures: Int
    }

    /// The number of buckets: one per possible leading-zero count of a non-zero 256-bit distance.
    public static let bucketCount = 256

    /// The local node, whose distance to everything the buckets are sorted by.
    public let localID: NodeID
    public let configuration: Configuration
    /// The number of contacts in the table (replacement caches excluded).
    public private(set) var count: Int = 0

    private var buckets: [KBucket]
    private var groupCounts: [IPGroup: Int] = [:]

    /// Creates an empty table.
    /// - Parameters:
    ///   - localID: the local node's ID; it is never added to its own table.
    ///   - configuration: K, cache size, caps and intervals.
    ///   - now: the creation time; refresh intervals start here.
    public init(localID: NodeID, configuration: Configuration = Configuration(), now: Timestamp = .zero) {
        self.localID = localID
        self.configuration = configuration
        self.buckets = Array(repeating: KBucket(lastTouched: now), count: RoutingTable.bucketCount)
    }

    // MARK: Reading

    /// The bucket a key belongs to: the number of leading zero bits of its distance from the local node.
    /// - Returns: `nil` for the local ID itself.
    public func bucketIndex(for id: Key256) -> Int? {
        let zeros = (id ^ localID).leadingZeroBitCount
        return zeros < RoutingTable.bucketCount ? zeros : nil
    }

    /// `true` when `id` is in the table (not counting the replacement caches).
    public func contains(_ id: NodeID) -> Bool {
        entry(for: id) != nil
    }

    /// What the table knows about `id`, or `nil` when it is not in the table.
    public func entry(for id: NodeID) -> Entry? {
        guard let b = bucketIndex(for: id), let i = buckets[b].entryIndex(of: id) else { return nil }
        return publicEntry(buckets[b].entries[i])
    }

    /// The entries of bucket `index`, most recently seen first.
    /// - Precondition: `0 <= index < 256`.
    public func entries(inBucket index: Int) -> [Entry] {
        buckets[index].entries.reversed().map(publicEntry)
    }

    /// The contacts of bucket `index`, most recently seen first.
    /// - Precondition: `0 <= index < 256`.
    public func contacts(inBucket index: Int) -> [Contact] {
        buckets[index].entries.reversed().map(\.contact)
    }

    /// The contacts waiting in bucket `index`'s replacement cache, most recently seen first.
    /// - Precondition: `0 <= index < 256`.
    public func replacements(inBucket index: Int) -> [Contact] {
        buckets[index].replacements.reversed().map(\.contact)
    }

    /// Whether bucket `index` is full or has contacts waiting in its replacement cache: then some
    /// node of its range this node has heard of may be missing from the table.
    func isIncomplete(bucket index: Int) -> Bool {
        buckets[index].entries.count >= configuration.bucketSize || !buckets[index].replacements.isEmpty
    }

    /// Every contact in the table, nearest bucket first.
    public var allContacts: [Contact] {
        buckets.reversed().flatMap { $0.entries.map(\.contact) }
    }

    /// The `count` contacts closest to `target` by XOR distance, closest first.
    ///
    /// Visits only the buckets needed: the contacts in the target's own bucket are closest, then
    /// all deeper buckets (which share the target's distance prefix), then shallower buckets in order.
    /// - Parameters:
    ///   - target: any key.
    ///   - count: how many contacts to return at most.
    /// - Returns: up to `count` contacts sorted by distance to `target`, never the local node.
    public func closest(to target: Key256, count: Int) -> [Contact] {
        guard count > 0, self.count > 0 else { return [] }
        var result: [Contact] = []
        result.reserveCapacity(min(count, self.count))
        func appendSorted(_ entries: [KBucket.Entry]) {
            guard !entries.isEmpty, result.count < count else { return }
            var keyed = entries.map { (distance: $0.contact.id ^ target, contact: $0.contact) }
            keyed.sort { $0.distance < $1.distance }
            for item in keyed.prefix(count - result.count) { result.append(item.contact) }
        }
        let split = (target ^ localID).leadingZeroBitCount
        if split < RoutingTable.bucketCount {
            appendSorted(buckets[split].entries)
            var deeper: [KBucket.Entry] = []
            for i in (split + 1)..<RoutingTable.bucketCount where !buckets[i].entries.isEmpty {
                deeper.append(contentsOf: buckets[i].entries)
            }
            appendSorted(deeper)
        }
        var i = min(split, RoutingTable.bucketCount) - 1
        while i >= 0 && result.count < count {
            appendSorted(buckets[i].entries)
            i -= 1
        }
        return result
    }

    // MARK: Events

    /// Reports that `contact` answered a request (or initiated an authenticated exchange the shell
    /// trusts as proof of life).
    ///
    /// Call this for every answer, including lookup answers and pongs. A known contact becomes the most
    /// recently seen of its bucket; a new one is admitted when its bucket has room and the IP-group caps
    /// allow; otherwise it waits in the replacement cache and, if the bucket is full, the table asks to
    /// ping the bucket's least recently seen entry. A contact known under a new address is re-admitted
    /// at the new address. The local ID is ignored.
    /// - Parameters:
    ///   - contact: who answered and where.
    ///   - now: the current time.
    /// - Returns: at most one ``RoutingDirective/pingToEvict(old:candidate:)`` or verification request.
    public mutating func onResponded(_ contact: Contact, now: Timestamp) -> [RoutingDirective] {
        guard let b = bucketIndex(for: contact.id) else { return [] }
        buckets[b].lastTouched = now
        var directives: [RoutingDirective] = []
        if let i = buckets[b].entryIndex(of: contact.id) {
            if buckets[b].entries[i].contact.address == contact.address {
                var entry = buckets[b].entries.remove(at: i)
                entry.lastSeen = now
                entry.failures = 0
                buckets[b].entries.append(entry)
                if buckets[b].pendingEviction?.old == contact.id { buckets[b].pendingEviction = nil }
                return []
            }
            removeEntry(bucket: b, at: i)
        }
        let group = IPGroup.of(contact.address)
        if buckets[b].entries.count < configuration.bucketSize && canAdmit(group, bucket: b, replacing: nil) {
            if let r = buckets[b].replacementIndex(of: contact.id) { buckets[b].replacements.remove(at: r) }
            addEntry(KBucket.Entry(contact: contact, group: group, lastSeen: now, failures: 0), bucket: b)
            return []
        }
        buckets[b].remember(
            KBucket.Replacement(contact: contact, group: group, lastSeen: now, verified: true, verifyRequestedAt: nil),
            capacity: configuration.replacementCacheSize
        )
        if buckets[b].entries.count < configuration.bucketSize {
            // Room, but the caps refused the contact (possibly after an address change): fill otherwise.
            directives += fillFromReplacements(bucket: b, now: now)
        } else if let oldest = buckets[b].entries.first,
            canAdmit(group, bucket: b, replacing: oldest)
        {
            let pending = buckets[b].pendingEviction
            if pending == nil || now - pending!.since >= configuration.evictionPingTimeout {
                buckets[b].pendingEviction = KBucket.PendingEviction(old: oldest.contact.id, since: now)
                directives.append(.pingToEvict(old: oldest.contact, candidate: contact))
            }
        }
        return directives
    }

    /// Reports that `contact` was mentioned (in a lookup answer, by an inbound connection) without
    /// having answered this node.
    ///
    /// It is never admitted directly: it waits in its bucket's replacement cache, and when its bucket
    /// has room the table asks to verify it (at most once per verify interval).
    /// - Parameters:
    ///   - contact: the contact heard of.
    ///   - now: the current time.
    /// - Returns: `[.verify(contact)]` or nothing.
    public mutating func onHeardOf(_ contact: Contact, now: Timestamp) -> [RoutingDirective] {
        guard let b = bucketIndex(for: contact.id), buckets[b].entryIndex(of: contact.id) == nil else { return [] }
        let group = IPGroup.of(contact.address)
        buckets[b].remember(
            KBucket.Replacement(contact: contact, group: group, lastSeen: now, verified: false, verifyRequestedAt: nil),
            capacity: configuration.replacementCacheSize
        )
        guard buckets[b].entries.count < configuration.bucketSize,
            canAdmit(group, bucket: b, replacing: nil),
            let r = buckets[b].replacementIndex(of: contact.id),
            !buckets[b].replacements[r].verified
        else { return [] }
        return requestVerification(bucket: b, replacement: r, now: now)
    }

    /// Reports the outcome of a ping the table asked for (``RoutingDirective/pingToEvict(old:candidate:)``
    /// or ``RoutingDirective/verify(_:)``), or of any ping.
    ///
    /// `alive: true` is the same as ``onResponded(_:now:)``: an old entry stays as most recently seen,
    /// a verified contact is admitted when there is room. `alive: false` removes the contact from the
    /// table and the replacement cache and fills its place from the replacement cache.
    /// - Parameters:
    ///   - contact: the contact that was pinged.
    ///   - alive: whether it answered in time.
    ///   - now: the current time.
    /// - Returns: further directives (a verification of the next replacement, another eviction ping).
    public mutating func onPingResult(_ contact: Contact, alive: Bool, now: Timestamp) -> [RoutingDirective] {
        if alive { return onResponded(contact, now: now) }
        return remove(contact.id, now: now)
    }

    /// Reports that a request to `id` failed or timed out.
    ///
    /// The contact is removed when a verified replacement can take its place, or after
    /// `failuresBeforeRemoval` consecutive failures; a contact waiting in a replacement cache is
    /// dropped from it.
    /// - Parameters:
    ///   - id: the contact that failed.
    ///   - now: the current time.
    /// - Returns: directives to verify a replacement, if one is needed.
    public mutating func onFailure(_ id: NodeID, now: Timestamp) -> [RoutingDirective] {
        guard let b = bucketIndex(for: id) else { return [] }
        guard let i = buckets[b].entryIndex(of: id) else {
            if let r = buckets[b].replacementIndex(of: id) { buckets[b].replacements.remove(at: r) }
            return []
        }
        buckets[b].entries[i].failures += 1
        let entry = buckets[b].entries[i]
        let replaceable = buckets[b].replacements.contains {
            $0.verified && canAdmit($0.group, bucket: b, replacing: entry)
        }
        guard replaceable || entry.failures >= configuration.failuresBeforeRemoval else { return [] }
        return remove(id, now: now)
    }

    /// Removes `id` (a node known to be dead or gone) from the table and its replacement cache, and
    /// promotes the most recently seen verified replacement that the caps allow.
    /// - Parameters:
    ///   - id: the contact to remove.
    ///   - now: the current time.
    /// - Returns: a verification request when only unverified replacements are waiting.
    public mutating func remove(_ id: NodeID, now: Timestamp) -> [RoutingDirective] {
        guard let b = bucketIndex(for: id) else { return [] }
        if let r = buckets[b].replacementIndex(of: id) { buckets[b].replacements.remove(at: r) }
        if buckets[b].pendingEviction?.old == id { buckets[b].pendingEviction = nil }
        guard let i = buckets[b].entryIndex(of: id) else { return [] }
        removeEntry(bucket: b, at: i)
        return fillFromReplacements(bucket: b, now: now)
    }

    /// Reports that a lookup for `target` completed, which counts as a refresh of its bucket.
    /// - Parameters:
    ///   - target: the key that was looked up.
    ///   - now: the current time.
    public mutating func onLookupCompleted(target: Key256, now: Timestamp) {
        guard let b = bucketIndex(for: target) else { return }
        buckets[b].lastTouched = now
    }

    /// Periodic maintenance; call it every few minutes.
    ///
    /// Every bucket from 0 to the deepest non-empty one that has not been touched (an answer from one
    /// of its contacts, a lookup into it) for the refresh interval yields a refresh directive with a
    /// random target in its range, and counts as touched from now on. Deeper, empty buckets are covered
    /// by the lookup of the node's own ID that the shell runs on joining.
    /// - Parameters:
    ///   - now: the current time.
    ///   - rng: the source of the random targets.
    /// - Returns: ``RoutingDirective/refresh(bucket:target:)`` directives, shallowest bucket first.
    public mutating func onTick(now: Timestamp, using rng: inout some RandomNumberGenerator) -> [RoutingDirective] {
        guard let deepest = buckets.lastIndex(where: { !$0.entries.isEmpty }) else { return [] }
        var directives: [RoutingDirective] = []
        for b in 0...deepest where now - buckets[b].lastTouched >= configuration.refreshInterval {
            buckets[b].lastTouched = now
            directives.append(.refresh(bucket: b, target: randomKey(inBucket: b, using: &rng)))
        }
        return directives
    }

    /// A uniformly random key whose distance from the local node falls in bucket `index`.
    /// - Precondition: `0 <= index < 256`.
    public func randomKey(inBucket index: Int, using rng: inout some RandomNumberGenerator) -> Key256 {
        precondition((0..<RoutingTable.bucketCount).contains(index), "bucket index \(index) is not in 0..<256")
        var words = [rng.next(), rng.next(), rng.next(), rng.next()] as [UInt64]
        for j in 0..<4 {
            let start = 64 * j
            if index >= start + 64 {
                words[j] = 0
            } else if index >= start {
                let offset = index - start
                let keep: UInt64 = offset == 63 ? 0 : UInt64.max >> UInt64(offset + 1)
                words[j] = (words[j] & keep) | (UInt64(1) << UInt64(63 - offset))
            }
        }
        return localID ^ Key256(words: (words[0], words[1], words[2], words[3]))
    }

    // MARK: Internals

    private func publicEntry(_ e: KBucket.Entry) -> Entry {
        Entry(contact: e.contact, lastSeen: e.lastSeen, failures: e.failures)
    }

    /// Whether a contact of `group` may join bucket `b`, counting `replacing` as already gone.
    private func canAdmit(_ group: IPGroup?, bucket b: Int, replacing: KBucket.Entry?) -> Bool {
        guard let group else { return true }
        var inBucket = 0
        for e in buckets[b].entries where e.group == group && e.contact.id != replacing?.contact.id {
            inBucket += 1
        }
        guard inBucket < configuration.maxPerGroupInBucket else { return false }
        var inTable = groupCounts[group] ?? 0
        if let replacing, replacing.group == group { inTable -= 1 }
        return inTable < configuration.maxPerGroupInTable
    }

    private mutating func addEntry(_ entry: KBucket.Entry, bucket b: Int) {
        buckets[b].insertByLastSeen(entry)
        count += 1
        if let g = entry.group { groupCounts[g, default: 0] += 1 }
    }

    private mutating func removeEntry(bucket b: Int, at i: Int) {
        let entry = buckets[b].entries.remove(at: i)
        count -= 1
        if let g = entry.group {
            let left = (groupCounts[g] ?? 1) - 1
            groupCounts[g] = left > 0 ? left : nil
        }
        if buckets[b].pendingEviction?.old == entry.contact.id { buckets[b].pendingEviction = nil }
    }

    /// Moves verified replacements into bucket `b` while it has room; asks to verify an unverified one
    /// when no verified one fits.
    private mutating func fillFromReplacements(bucket b: Int, now: Timestamp) -> [RoutingDirective] {
        while buckets[b].entries.count < configuration.bucketSize {
            let candidates = buckets[b].replacements.indices.reversed()
            if let r = candidates.first(where: {
                buckets[b].replacements[$0].verified
                    && canAdmit(buckets[b].replacements[$0].group, bucket: b, replacing: nil)
            }) {
                let rep = buckets[b].replacements.remove(at: r)
                addEntry(
                    KBucket.Entry(contact: rep.contact, group: rep.group, lastSeen: rep.lastSeen, failures: 0),
                    bucket: b)
                continue
            }
            if let r = candidates.first(where: {
                !buckets[b].replacements[$0].verified
                    && canAdmit(buckets[b].replacements[$0].group, bucket: b, replacing: nil)
            }) {
                return requestVerification(bucket: b, replacement: r, now: now)
            }
            break
        }
        return []
    }

    private mutating func requestVerification(bucket b: Int, replacement r: Int, now: Timestamp) -> [RoutingDirective] {
        if let asked = buckets[b].replacements[r].verifyRequestedAt, now - asked < configuration.verifyInterval {
            return []
        }
        buckets[b].replacements[r].verifyRequestedAt = now
        return [.verify(buckets[b].replacements[r].contact)]
    }
}
