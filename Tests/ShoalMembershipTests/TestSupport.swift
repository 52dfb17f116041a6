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
    var verifications: [(contact: Contact, updates: [MemberUpdate], timeout: Duration)] {
        compactMap {
            guard case .verifyMember(let contact, let u, let t) = $0 else { return nil }
            return (contact, u, t)
        }
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
