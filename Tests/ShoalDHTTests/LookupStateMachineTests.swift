import ShoalCore
import ShoalDHT
import ShoalTestKit
import XCTest

final class LookupStateMachineTests: XCTestCase {
    /// A small network where every node's table was filled from everyone else.
    private struct World {
        var contacts: [NodeID: Contact] = [:]
        var tables: [NodeID: RoutingTable] = [:]
        var ids: [NodeID] = []

        init(nodes: Int, seed: UInt64) {
            var rng = SeededRandom(seed: seed)
            ids = (0..<nodes).map { _ in Key256.random(using: &rng) }
            for (i, id) in ids.enumerated() { contacts[id] = makeContact(id, host: loopbackHost(i + 1)) }
            for id in ids {
                var table = RoutingTable(localID: id)
                for other in ids.shuffled(using: &rng) where other != id {
                    _ = table.onResponded(contacts[other]!, now: .zero)
                }
                tables[id] = table
            }
        }

        func answer(_ peer: Contact, _ request: LookupRequest) -> ScriptedAnswer {
            switch request {
            case .findNode(let target), .findValue(let target):
                return .nodes(tables[peer.id]!.closest(to: target, count: 20))
            }
        }

        func lookup(
            from origin: NodeID, target: Key256, kind: LookupStateMachine.Kind = .node,
            wanted: Int? = nil
        ) -> LookupStateMachine {
            LookupStateMachine(
                target: target, kind: kind, localID: origin,
                seeds: tables[origin]!.closest(to: target, count: 20), wanted: wanted)
        }
    }

    private var rng = SeededRandom(seed: 11)

    func testConvergesOnTheTrueClosestNodes() {
        let world = World(nodes: 300, seed: 1)
        for round in 0..<30 {
            let origin = world.ids[round]
            let target = Key256.random(using: &rng)
            var lookup = world.lookup(from: origin, target: target)
            let (result, asked, maxInFlight) = drive(&lookup) { world.answer($0, $1) }
            guard let result else { return XCTFail("lookup did not finish") }
            let truth = bruteForceClosest(world.ids.filter { $0 != origin }, to: target, count: 20)
            XCTAssertEqual(result.closest.map(\.id), truth)
            XCTAssertEqual(result.ending, .converged)
            XCTAssertLessThanOrEqual(maxInFlight, 20, "K bounds the requests in flight, even in the final sweep")
            XCTAssertEqual(result.stats.messagesSent, asked.count)
            XCTAssertEqual(Set(asked.map(\.id)).count, asked.count, "nobody is asked twice")
            XCTAssertFalse(asked.contains { $0.id == origin }, "the local node is never asked")
            XCTAssertGreaterThanOrEqual(result.stats.hops, 1)
            XCTAssertTrue(lookup.isFinished)
        }
    }

    func testAnAnswerNamingNoCloserNodeStartsTheFinalSweep() {
        let target = Key256.random(using: &rng)
        let seeds = (0..<20).map { i in makeContact(Key256.random(using: &rng), host: loopbackHost(i + 1)) }
        var lookup = LookupStateMachine(target: target, localID: Key256.random(using: &rng), seeds: seeds)
        let first = lookup.start(now: .zero)
        XCTAssertEqual(first.count, 3, "α requests before anything is learned")
        guard case .send(_, let asked, _) = first[0] else { return XCTFail("expected a request") }
        // An answer naming only nodes already known brings no one closer: ask all the rest of the K.
        let sweep = lookup.onResponse(from: asked.id, contacts: Array(seeds.prefix(5)), now: .zero)
        XCTAssertEqual(sweep.count, 17, "the 17 seeds not yet asked are asked at once")
        XCTAssertEqual(lookup.inFlight.count, 19)
    }

    func testAnAnswerNamingACloserNodeKeepsTheAlphaWindow() {
        let target = Key256.random(using: &rng)
        let seeds = (0..<20).map { i in makeContact(Key256.random(using: &rng), host: loopbackHost(i + 1)) }
        var lookup = LookupStateMachine(target: target, localID: Key256.random(using: &rng), seeds: seeds)
        guard case .send(_, let asked, _)? = lookup.start(now: .zero).first else {
            return XCTFail("expected a request")
        }
        // A contact one bit from the target is closer than any random seed.
        let closer = target ^ Key256(words: (0, 0, 0, 1))
        let next = lookup.onResponse(
            from: asked.id, contacts: [makeContact(closer, host: loopbackHost(99))], now: .zero)
        XCTAssertEqual(next.count, 1, "one slot was freed and goes to the closer node")
        XCTAssertEqual(lookup.inFlight.count, 3)
    }

    func testALookupWantingFewNodesSettlesOnceTheClosestAnswered() {
        let world = World(nodes: 300, seed: 3)
        var fewer = 0
        for round in 0..<30 {
            let origin = world.ids[round]
            let target = Key256.random(using: &rng)
            var full = world.lookup(from: origin, target: target)
            var few = world.lookup(from: origin, target: target, wanted: 3)
            XCTAssertEqual(few.settleCount, 3)
            let (fullResult, _, _) = drive(&full) { world.answer($0, $1) }
            let (fewResult, _, _) = drive(&few) { world.answer($0, $1) }
            guard let fullResult, let fewResult else { return XCTFail("lookup did not finish") }
            let truth = bruteForceClosest(world.ids.filter { $0 != origin }, to: target, count: 3)
            XCTAssertEqual(
                Array(fewResult.closest.prefix(3).map(\.id)), truth, "the 3 closest are still the true 3 closest")
            XCTAssertEqual(fewResult.ending, .converged)
            XCTAssertLessThanOrEqual(fewResult.stats.messagesSent, fullResult.stats.messagesSent)
            if fewResult.stats.messagesSent < fullResult.stats.messagesSent { fewer += 1 }
        }
        XCTAssertGreaterThan(fewer, 20, "settling on 3 saves requests in most lookups")
        let clamped = LookupStateMachine(target: .zero, localID: .zero, seeds: [], wanted: 1)
        XCTAssertEqual(clamped.settleCount, 3, "never fewer than β")
    }

    func testStartsWithAlphaRequestsToTheClosestSeeds() {
        let target = Key256.random(using: &rng)
        let seeds = (0..<10).map { i in makeContact(Key256.random(using: &rng), host: loopbackHost(i + 1)) }
        var lookup = LookupStateMachine(
            target: target, localID: Key256.random(using: &rng), seeds: seeds.shuffled(using: &rng))
        let directives = lookup.start(now: .seconds(100))
        let expected = bruteForceClosest(seeds.map(\.id), to: target, count: 3)
        XCTAssertEqual(
            directives,
            expected.map { id in
                .send(.findNode(target: target), to: seeds.first { $0.id == id }!, deadline: .seconds(105))
            })
        XCTAssertEqual(lookup.start(now: .seconds(101)), [], "start is idempotent")
    }

    func testWithoutSeedsFinishesAtOnce() {
        var lookup = LookupStateMachine(target: .zero, localID: Key256(words: (1, 1, 1, 1)), seeds: [])
        guard case .finished(let result)? = lookup.start(now: .zero).first else { return XCTFail("expected finished") }
        XCTAssertEqual(result.ending, .exhausted)
        XCTAssertEqual(result.closest, [])
    }

    func testTimedOutAndFailedNodesAreDropped() {
        let world = World(nodes: 200, seed: 2)
        var deadRng = SeededRandom(seed: 5)
        let dead = Set(world.ids.shuffled(using: &deadRng).prefix(40))
        let origin = world.ids.first { !dead.contains($0) }!
        let live = world.ids.filter { !dead.contains($0) && $0 != origin }
        for round in 0..<20 {
            let target = Key256.random(using: &rng)
            var lookup = world.lookup(from: origin, target: target)
            var timedOut = 0
            var failed = 0
            let (result, asked, _) = drive(&lookup) { peer, request in
                guard dead.contains(peer.id) else { return world.answer(peer, request) }
                if round % 2 == 0 {
                    timedOut += 1
                    return .timeout
                }
                failed += 1
                return .failure
            }
            guard let result else { return XCTFail("lookup did not finish") }
            // Answers list the 20 closest nodes their tables know, dead ones included, so the live
            // nodes ranked just below 20 may never be named; the closest ones are always found.
            XCTAssertEqual(Array(result.closest.map(\.id).prefix(10)), bruteForceClosest(live, to: target, count: 10))
            XCTAssertGreaterThanOrEqual(result.closest.count, 10)
            XCTAssertEqual(result.closest.map(\.id), result.closest.map(\.id).sorted { ($0 ^ target) < ($1 ^ target) })
            XCTAssertFalse(result.closest.contains { dead.contains($0.id) })
            XCTAssertEqual(result.stats.timeouts, timedOut)
            XCTAssertEqual(result.stats.failures, failed)
            XCTAssertEqual(Set(asked.map(\.id)).count, asked.count, "a dropped node is not asked again")
        }
    }

    func testLateAnswersAndStrayTimeoutsAreIgnored() {
        let seeds = (0..<2).map { i in makeContact(Key256.random(using: &rng), host: loopbackHost(i + 1)) }
        var lookup = LookupStateMachine(target: .zero, localID: Key256.random(using: &rng), seeds: seeds)
        XCTAssertEqual(lookup.start(now: .zero).count, 2)
        XCTAssertEqual(lookup.onTimeout(of: seeds[0].id, now: .seconds(5)), [])
        XCTAssertEqual(lookup.onResponse(from: seeds[0].id, contacts: [], now: .seconds(6)), [], "late answer")
        XCTAssertEqual(lookup.onTimeout(of: Key256.random(using: &rng), now: .seconds(6)), [], "unknown node")
        let end = lookup.onResponse(from: seeds[1].id, contacts: [], now: .seconds(7))
        guard case .finished(let result)? = end.first else { return XCTFail("expected finished") }
        XCTAssertEqual(result.closest, [seeds[1]])
        XCTAssertEqual(result.ending, .exhausted)
        XCTAssertEqual(result.stats.timeouts, 1)
        XCTAssertEqual(result.stats.startedAt, .zero)
        XCTAssertEqual(result.stats.finishedAt, .seconds(7))
        XCTAssertEqual(lookup.onTimeout(of: seeds[1].id, now: .seconds(8)), [], "nothing after finishing")
    }

    func testValueLookupStopsAtTheFirstHolder() {
        let world = World(nodes: 200, seed: 3)
        let key = Key256.random(using: &rng)
        let holders = Set(bruteForceClosest(world.ids, to: key, count: 3))
        let origin = world.ids.first { !holders.contains($0) }!
        var lookup = world.lookup(from: origin, target: key, kind: .value)
        let (result, asked, _) = drive(&lookup) { peer, request in
            guard case .findValue(key) = request else { return .failure }
            return holders.contains(peer.id) ? .held : world.answer(peer, request)
        }
        guard let result else { return XCTFail("lookup did not finish") }
        XCTAssertEqual(result.ending, .valueFound)
        XCTAssertEqual(result.holders.count, 1)
        XCTAssertTrue(holders.contains(result.holders[0].id))
        XCTAssertTrue(asked.contains { holders.contains($0.id) })
        XCTAssertEqual(result.kind, .value)
    }

    // MARK: Hostile answers

    /// Runs a lookup where `hostile` answers with `hostileAnswer` and everyone else honestly; fake
    /// contacts (not in the world) never answer.
    private func runWithHostile(
        world: World, hostileAnswer: (Key256) -> [Contact]
    )
        -> (result: LookupResult, askedFakes: Int, truth: [NodeID])
    {
        let target = Key256.random(using: &rng)
        let byDistance = bruteForceClosest(world.ids, to: target, count: world.ids.count)
        let origin = byDistance.last!
        let hostile = byDistance[byDistance.count / 2]
        var lookup = LookupStateMachine(target: target, localID: origin, seeds: [world.contacts[hostile]!])
        var askedFakes = 0
        let (result, _, _) = drive(&lookup) { peer, request in
            if peer.id == hostile { return .nodes(hostileAnswer(target)) }
            guard world.contacts[peer.id] != nil else {
                askedFakes += 1
                return .timeout
            }
            return world.answer(peer, request)
        }
        let truth = bruteForceClosest(world.ids.filter { $0 != origin }, to: target, count: 20)
        return (result!, askedFakes, truth)
    }

    /// A fake contact closer to `target` than any real node is likely to be.
    private func fakeNear(_ target: Key256, host: String) -> Contact {
        let noise = Key256(words: (0, 0, rng.next() >> 8, rng.next()))
        return makeContact(target ^ noise, host: host)
    }

    func testHostileAnswerWithThousandContactsIsCutToK() {
        let world = World(nodes: 150, seed: 4)
        let outcome = runWithHostile(world: world) { target in
            // 1,000 contacts, each in its own /24, all closer than any real node; then real ones.
            let fakes = (0..<1000).map { i in self.fakeNear(target, host: "\(11 + i / 250).\(i % 250).1.1") }
            return fakes + world.ids.prefix(3).map { world.contacts[$0]! }
        }
        XCTAssertLessThanOrEqual(outcome.askedFakes, 20, "at most K contacts of one answer are taken")
        XCTAssertEqual(outcome.result.stats.contactsIgnored, 983)
        XCTAssertEqual(outcome.result.closest.count, 1, "only the hostile node itself answered")
        XCTAssertEqual(outcome.result.ending, .exhausted)
    }

    func testHostileAnswerNamingOnlyItselfIsIgnored() {
        let world = World(nodes: 150, seed: 5)
        let target = Key256.random(using: &rng)
        let origin = world.ids[0]
        // The node closest to the target, so that it is asked first.
        let hostile = world.contacts[bruteForceClosest(Array(world.ids.dropFirst()), to: target, count: 1)[0]]!
        let selfOnly = Array(repeating: hostile, count: 50)

        var alone = LookupStateMachine(target: target, localID: origin, seeds: [hostile])
        let (aloneResult, _, _) = drive(&alone) { _, _ in .nodes(selfOnly) }
        XCTAssertEqual(aloneResult?.closest, [hostile])
        XCTAssertEqual(aloneResult?.ending, .exhausted)
        XCTAssertEqual(aloneResult?.stats.contactsIgnored, 50)

        let honest = world.tables[origin]!.closest(to: target, count: 20).filter { $0 != hostile }
        var mixed = LookupStateMachine(target: target, localID: origin, seeds: [hostile] + honest)
        let (result, asked, _) = drive(&mixed) { peer, request in
            peer == hostile ? .nodes(selfOnly) : world.answer(peer, request)
        }
        XCTAssertEqual(asked.filter { $0 == hostile }.count, 1)
        XCTAssertEqual(
            result?.closest.map(\.id), bruteForceClosest(world.ids.filter { $0 != origin }, to: target, count: 20))
        XCTAssertEqual(result?.ending, .converged)
    }

    func testHostileAnswerFromOneSubnetCannotCaptureTheResult() {
        let world = World(nodes: 150, seed: 6)
        let outcome = runWithHostile(world: world) { target in
            // 20 fake contacts from one /24, closer than everyone.
            (0..<20).map { i in self.fakeNear(target, host: "198.51.100.\(i + 1)") }
        }
        XCTAssertLessThanOrEqual(outcome.askedFakes, 3, "at most 3 contacts of one /24 are taken from an answer")
        XCTAssertEqual(outcome.result.stats.contactsIgnored, 17)
    }

    func testCaptureAttemptMixedWithHonestContactsStillFindsTheTruth() {
        let world = World(nodes: 200, seed: 7)
        let outcome = runWithHostile(world: world) { target in
            // Fake contacts from one /24, closer than everyone, interleaved with an honest answer.
            let honest = world.tables[world.ids[0]]!.closest(to: target, count: 20)
            var answer: [Contact] = []
            for (i, contact) in honest.enumerated() {
                answer.append(self.fakeNear(target, host: "198.51.100.\(i + 1)"))
                answer.append(contact)
            }
            return answer
        }
        XCTAssertLessThanOrEqual(outcome.askedFakes, 3)
        XCTAssertEqual(outcome.result.closest.map(\.id), outcome.truth)
    }

    func testPendingCandidatesAreBounded() {
        // 200 seeds, but only the closest 6 unqueried candidates are kept: once they all time out, the
        // lookup is over instead of working through the far ones.
        var lookup = LookupStateMachine(
            target: .zero, localID: Key256(words: (.max, 0, 0, 0)),
            seeds: (0..<200).map { i in
                makeContact(Key256(words: (UInt64(1000 + i), 0, 0, 0)), host: loopbackHost(i + 1))
            },
            configuration: .init(alpha: 1, k: 2, maxPendingCandidates: 6))
        let (result, asked, _) = drive(&lookup) { _, _ in .timeout }
        XCTAssertEqual(asked.map { $0.id.words.0 }, Array(1000...1005))
        XCTAssertEqual(result?.ending, .exhausted)
        XCTAssertEqual(result?.stats.timeouts, 6)
    }

    func testRequestBudgetEndsTheLookup() {
        var counter: UInt64 = 0
        var lookup = LookupStateMachine(
            target: .zero, localID: Key256(words: (.max, 0, 0, 0)),
            seeds: [makeContact(Key256(words: (1 << 40, 0, 0, 0)))],
            configuration: .init(maxRequests: 25))
        // Every answer names ever closer (distinct, loopback) nodes: a lookup that would never end.
        let (result, asked, _) = drive(&lookup) { peer, _ in
            let base = peer.id.words.0 / 2
            return .nodes(
                (0..<20).map { _ in
                    counter += 1
                    return makeContact(
                        Key256(words: (base, counter, 0, 0)), host: loopbackHost(Int(counter % 60_000) + 1))
                })
        }
        XCTAssertEqual(asked.count, 25)
        XCTAssertEqual(result?.ending, .requestLimitReached)
    }
}
