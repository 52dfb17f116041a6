import ShoalCore
import ShoalDHT
import ShoalTestKit

/// A contact on loopback (IP caps off) unless a host is given.
func makeContact(_ id: NodeID, host: String = "127.0.0.1", port: Int = 4000) -> Contact {
    Contact(id: id, address: PeerAddress(host: host, port: port))
}

/// A distinct loopback address per index.
func loopbackHost(_ index: Int) -> String {
    "127.\((index >> 16) & 0xff).\((index >> 8) & 0xff).\(index & 0xff)"
}

extension Timestamp {
    static func seconds(_ s: Int64) -> Timestamp { Timestamp(nanoseconds: s * 1_000_000_000) }
}

/// The `count` IDs of `ids` closest to `target`, by brute force.
func bruteForceClosest(_ ids: [NodeID], to target: Key256, count: Int) -> [NodeID] {
    Array(ids.sorted { ($0 ^ target) < ($1 ^ target) }.prefix(count))
}

/// The `count` closest IDs to `target` in one linear pass (count is small).
func linearClosest(_ ids: [NodeID], to target: Key256, count: Int) -> [NodeID] {
    var best: [(Key256, NodeID)] = []
    for id in ids {
        let d = id ^ target
        if best.count == count, let last = best.last, !(d < last.0) { continue }
        var i = best.count
        while i > 0 && d < best[i - 1].0 { i -= 1 }
        best.insert((d, id), at: i)
        if best.count > count { best.removeLast() }
    }
    return best.map(\.1)
}

/// How a scripted peer answers a lookup request.
enum ScriptedAnswer {
    case nodes([Contact])
    case held
    case timeout
    case failure
}

/// Drives a lookup synchronously: answers the oldest in-flight request first.
/// - Returns: the result, every contact asked (in order), and the most requests ever in flight.
func drive(
    _ lookup: inout LookupStateMachine,
    now: Timestamp = .zero,
    answer: (Contact, LookupRequest) -> ScriptedAnswer
) -> (result: LookupResult?, asked: [Contact], maxInFlight: Int) {
    var queue: [(Contact, LookupRequest)] = []
    var asked: [Contact] = []
    var maxInFlight = 0
    var result: LookupResult?
    func apply(_ directives: [LookupDirective]) {
        for directive in directives {
            switch directive {
            case .send(let request, let to, _):
                queue.append((to, request))
                asked.append(to)
            case .finished(let r):
                result = r
            }
        }
        maxInFlight = max(maxInFlight, lookup.inFlight.count)
    }
    apply(lookup.start(now: now))
    var steps = 0
    while result == nil, !queue.isEmpty, steps < 100_000 {
        steps += 1
        let (peer, request) = queue.removeFirst()
        switch answer(peer, request) {
        case .nodes(let contacts): apply(lookup.onResponse(from: peer.id, contacts: contacts, now: now))
        case .held: apply(lookup.onValueHeld(from: peer.id, now: now))
        case .timeout: apply(lookup.onTimeout(of: peer.id, now: now))
        case .failure: apply(lookup.onFailure(of: peer.id, now: now))
        }
    }
    return (result, asked, maxInFlight)
}
