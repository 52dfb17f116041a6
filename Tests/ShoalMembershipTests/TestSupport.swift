import Foundation
import ShoalCore
import ShoalMembership
import ShoalTestKit
import XCTest

/// A distinct contact for test node `index`.
func testContact(_ index: Int) -> Contact {
    Contact(
        id: Key256.sha256(of: Array("node-\(index)".utf8)),
        address: PeerAddress(host: "127.0.\(index / 250).\(index % 250 + 1)", port: 7000))
}

func seconds(_ s: Double) -> Timestamp { Timestamp(nanoseconds: Int64(s * 1e9)) }

extension Array where Element == SWIMDirective {
    var probes: [(to: Contact, updates: [MemberUpdate], timeout: Duration)] {
        compactMap { if case .sendProbe(let to, let u, let t) = $0 { return (to, u, t) } else { return nil } }
    }
    var probeRequests: [(to: Contact, target: Contact, updates: [MemberUpdate], timeout: Duration)] {
        compactMap {
            guard case .sendProbeRequest(let to, let target, let u, let t) = $0 else { return nil }
            return (to, target, u, t)
        }
    }
    var indirectProbes: [(to: Contact, origin: Contact, updates: [MemberUpdate], timeout: Duration)] {
        compactMap {
            guard case .sendIndirectProbe(let to, let origin, let u, let t) = $0 else { return nil }
            return (to, origin, u, t)
        }
    }
    var replies: [(to: Contact, message: SWIMMessage)] {
        compactMap { if case .reply(let to, let m) = $0 { return (to, m) } else { return nil } }
    }
    var leaves: [(to: Contact, updates: [MemberUpdate])] {
        compactMap { if case .sendLeave(let to, let u) = $0 { return (to, u) } else { return nil } }
    }
    var changes: [(old: MemberUpdate?, new: MemberUpdate)] {
        compactMap { if case .memberChanged(let old, let new) = $0 { return (old, new) } else { return nil } }
    }
    var verifications: [(contact: Contact, timeout: Duration)] {
        compactMap { if case .verifyMember(let contact, let t) = $0 { return (contact, t) } else { return nil } }
    }
    var fanOuts: [(to: Contact, updates: [MemberUpdate], timeout: Duration)] {
        compactMap { if case .sendFanOut(let to, let u, let t) = $0 { return (to, u, t) } else { return nil } }
    }
    var exchanges: [(to: Contact, updates: [MemberUpdate], timeout: Duration)] {
        compactMap { if case .sendExchange(let to, let u, let t) = $0 { return (to, u, t) } else { return nil } }
    }
    var disconnects: [(id: NodeID, until: Timestamp)] {
        compactMap { if case .disconnect(let id, let until) = $0 { return (id, until) } else { return nil } }
    }
    var ticks: [Timestamp] {
        compactMap { if case .scheduleTick(let at) = $0 { return at } else { return nil } }
    }
}

/// An instance for node 0 that knows nodes 1…`memberCount`.
func makeInstance(
    memberCount: Int,
    settings: SWIMSettings = SWIMSettings(),
    rng: inout SeededRandom
) -> SWIMInstance {
    SWIMInstance(
        myself: testContact(0), members: memberCount > 0 ? (1...memberCount).map(testContact) : [],
        settings: settings, using: &rng)
}

/// Ticks `swim` once per second from `start` through `end`, as its shell would on an idle
/// machine, acking every probe except those to `silent`, for which the helpers nack.
func tickEveryPeriod(
    _ swim: inout SWIMInstance, from start: Timestamp, through end: Timestamp, silent: Contact?,
    rng: inout SeededRandom
) -> [SWIMDirective] {
    var all: [SWIMDirective] = []
    var now = start
    while now <= end {
        let d = swim.onTick(now: now, using: &rng)
        all += d
        for probe in d.probes {
            guard probe.to == silent else {
                all += swim.onProbeAck(from: probe.to, updates: [], now: now + .milliseconds(10), using: &rng)
                continue
            }
            let requests = swim.onProbeTimeout(target: probe.to, now: now + .milliseconds(500), using: &rng)
            for request in requests.probeRequests {
                all += swim.onProbeRequestNack(
                    from: request.to, target: probe.to, updates: [], now: now + .milliseconds(900), using: &rng)
            }
        }
        now = now + .seconds(1)
    }
    return all
}

/// Ticks `swim` every second from `start` (acking every other member) until it has probed
/// `target` without an answer and accused it.
/// - Returns: the time of the accusation (the end of that period).
func accuse(_ swim: inout SWIMInstance, _ target: Contact, from start: Timestamp, rng: inout SeededRandom) -> Timestamp
{
    var now = start
    for _ in 0..<(2 * swim.memberCount + 2) {
        let d = tickEveryPeriod(&swim, from: now, through: now, silent: target, rng: &rng)
        now = now + .seconds(1)
        if d.probes.contains(where: { $0.to == target }) {
            for probe in swim.onTick(now: now, using: &rng).probes where probe.to != target {
                _ = swim.onProbeAck(from: probe.to, updates: [], now: now + .milliseconds(10), using: &rng)
            }
            precondition(swim.member(target.id)?.suspicion?.accusedAt == now, "the target was accused")
            return now
        }
    }
    preconditionFailure("the target was never probed")
}

/// How many protocol periods a large simulation runs: `full` in an optimised build or when the
/// environment variable `SHOAL_FULL_SIMULATIONS=1` asks for it, else `quick` (an unoptimised
/// build is about ten times slower). `SHOAL_SIMULATION_PERIODS` sets the number outright.
func simulationPeriods(quick: Int, full: Int) -> (periods: Int, isFull: Bool) {
    let environment = ProcessInfo.processInfo.environment
    if let text = environment["SHOAL_SIMULATION_PERIODS"], let periods = Int(text), periods > 0 {
        return (periods, periods >= full)
    }
    #if DEBUG
    let optimised = false
    #else
    let optimised = true
    #endif
    return optimised || environment["SHOAL_FULL_SIMULATIONS"] == "1" ? (full, true) : (quick, false)
}
