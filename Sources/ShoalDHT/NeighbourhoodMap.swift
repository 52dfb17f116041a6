import ShoalCore

/// What a run of lookups proved about the key space, so that later keys near earlier ones need no
/// lookup of their own (placing or fetching the chunks of one file touches thousands of keys).
///
/// A lookup of `X` that ends with its K closest nodes, the farthest at distance `D`, proves that no
/// node nearer than `D` to `X` exists that the lookup did not see. Every key `Z` sharing `X`'s first
/// `p` bits, where `2^(256−p) ≤ D`, is nearer than `D` to `X`; so the lookup proves the *region* of
/// all keys with that prefix: every node in it is known. For a later key `Y` in a proven region, the
/// `r` closest nodes known are the true `r` closest when the `r`-th of them lies in the region too
/// (any node nearer to `Y` shares even more of `Y`'s prefix, so it is in the region, so it is known).
///
/// Pure and bounded: at most ``capacity`` regions and ``contactCapacity`` contacts are kept, oldest
/// dropped first.
public struct NeighbourhoodMap: Sendable {
    private struct Region: Sendable {
        var prefix: Key256
        var length: Int

        func contains(_ key: Key256) -> Bool {
            length == 0 || (key ^ prefix).leadingZeroBitCount >= length
        }
    }

    public let capacity: Int
    public let contactCapacity: Int
    private var regions: [Region] = []
    private var contacts: [NodeID: Contact] = [:]
    private var contactOrder: [NodeID] = []

    public init(capacity: Int = 1024, contactCapacity: Int = 8192) {
        self.capacity = max(1, capacity)
        self.contactCapacity = max(1, contactCapacity)
    }

    /// Regions proven so far.
    public var regionCount: Int { regions.count }

    /// Records a finished lookup of `target` that found `closest` (closest first, at most K, the
    /// local node excluded). Only a lookup that found `k` nodes proves a region.
    public mutating func record(target: Key256, closest: [Contact], k: Int) {
        for contact in closest where contacts[contact.id] == nil {
            if contactOrder.count >= contactCapacity {
                contacts[contactOrder.removeFirst()] = nil
            }
            contacts[contact.id] = contact
            contactOrder.append(contact.id)
        }
        guard closest.count >= k, let farthest = closest.last else { return }
        let radius = farthest.id ^ target
        // 2^(255 − zeros) ≤ radius, so keys sharing `zeros + 1` leading bits with the target are nearer.
        let length = radius.leadingZeroBitCount + 1
        guard length <= 256 else { return }
        if regions.count >= capacity { regions.removeFirst() }
        regions.append(Region(prefix: target, length: length))
    }

    /// The `count` nodes closest to `key` among what the lookups found and `others` (e.g. the routing
    /// table's closest and this node), when the map proves they are the true closest; else `nil`.
    public func provenClosest(to key: Key256, count: Int, others: [Contact]) -> [Contact]? {
        guard count > 0, let region = regions.last(where: { $0.contains(key) }) else { return nil }
        var candidates = others
        var seen = Set(others.map(\.id))
        for contact in contacts.values where region.contains(contact.id) && seen.insert(contact.id).inserted {
            candidates.append(contact)
        }
        let nearest = candidates.sorted { ($0.id ^ key) < ($1.id ^ key) }.prefix(count)
        guard nearest.count == count, let last = nearest.last, region.contains(last.id) else { return nil }
        return Array(nearest)
    }
}
