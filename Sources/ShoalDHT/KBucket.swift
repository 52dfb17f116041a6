import ShoalCore

/// One k-bucket: the contacts whose XOR distance from the local node has a given number of leading
/// zero bits, in least-recently-seen-first order, with a bounded replacement cache.
struct KBucket: Sendable {
    /// A contact that has answered a request.
    struct Entry: Sendable {
        var contact: Contact
        var group: IPGroup?
        var lastSeen: Timestamp
        var failures: Int
    }

    /// A contact waiting for room: either one that answered (`verified`) or one merely heard of.
    struct Replacement: Sendable {
        var contact: Contact
        var group: IPGroup?
        var lastSeen: Timestamp
        var verified: Bool
        var verifyRequestedAt: Timestamp?
    }

    /// An outstanding "ping the oldest entry" request.
    struct PendingEviction: Sendable {
        var old: NodeID
        var since: Timestamp
    }

    /// Least recently seen first; the last element is the most recently seen.
    var entries: [Entry] = []
    /// Least recently seen first.
    var replacements: [Replacement] = []
    var lastTouched: Timestamp
    var pendingEviction: PendingEviction?

    init(lastTouched: Timestamp) {
        self.lastTouched = lastTouched
    }

    func entryIndex(of id: NodeID) -> Int? {
        entries.firstIndex { $0.contact.id == id }
    }

    func replacementIndex(of id: NodeID) -> Int? {
        replacements.firstIndex { $0.contact.id == id }
    }

    /// Inserts `entry` keeping the least-recently-seen-first order.
    mutating func insertByLastSeen(_ entry: Entry) {
        var index = entries.count
        while index > 0 && entries[index - 1].lastSeen > entry.lastSeen { index -= 1 }
        entries.insert(entry, at: index)
    }

    /// Records `replacement`, replacing an older record of the same contact. A verified record is
    /// never displaced by an unverified one; when full, the oldest unverified record goes first,
    /// then the oldest verified one (only to make room for a verified record).
    mutating func remember(_ replacement: Replacement, capacity: Int) {
        guard capacity > 0 else { return }
        var replacement = replacement
        if let i = replacementIndex(of: replacement.contact.id) {
            let existing = replacements.remove(at: i)
            if existing.verified && !replacement.verified {
                replacements.insert(existing, at: i)
                return
            }
            if !replacement.verified { replacement.verifyRequestedAt = existing.verifyRequestedAt }
        }
        if replacements.count >= capacity {
            if let oldestUnverified = replacements.firstIndex(where: { !$0.verified }) {
                replacements.remove(at: oldestUnverified)
            } else if replacement.verified {
                replacements.removeFirst()
            } else {
                return
            }
        }
        replacements.append(replacement)
    }
}
