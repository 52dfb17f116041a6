import ShoalCore
import ShoalRepair
import ShoalTestKit
import XCTest

/// A peer that answers garbage, too much, or outside what was asked: the session ends with a
/// clear error after bounded work.
final class HostilePeerTests: XCTestCase {
    private let ids = randomIDs(1_500, seed: 21)
    private lazy var local = RecordTree(records: ids.map { record($0) })
    /// The peer lacks a few records, so the session descends and fetches.
    private lazy var peer: RecordTree = {
        var tree = local
        for id in ids.prefix(40) { tree.remove(id) }
        return tree
    }()

    private func failure(
        limits: ExchangeLimits = ExchangeLimits(),
        tamper: @escaping (ExchangeRequest, ExchangeAnswer) -> ExchangeAnswer
    ) throws -> (ExchangeFailure, Int) {
        var l = local
        var p = peer
        let result = try XCTUnwrap(failingExchange(&l, with: &p, limits: limits, tamper: tamper))
        return (result.failure, result.run.requests)
    }

    func testTooManyOrTooFewSummaries() throws {
        let (extra, requests) = try failure { _, answer in
            guard case .summaries(let s) = answer else { return answer }
            return .summaries(s + [.empty])
        }
        XCTAssertEqual(extra.code, .malformedAnswer)
        XCTAssertEqual(requests, 1)
        XCTAssertTrue(extra.message.contains("summaries"), extra.message)
        let (flood, _) = try failure { _, _ in .summaries(Array(repeating: .empty, count: 100_000)) }
        XCTAssertEqual(flood.code, .malformedAnswer)
    }

    func testAnswersOfTheWrongKind() throws {
        let (wrong, _) = try failure { _, _ in .records([]) }
        XCTAssertEqual(wrong.code, .malformedAnswer)
        let (refused, _) = try failure { _, _ in .refused("busy") }
        XCTAssertEqual(refused.code, .refused)
        XCTAssertTrue(refused.message.contains("busy"))
    }

    func testRecordsOutsideTheRangeOutOfOrderOrTooMany() throws {
        let stranger = record(Key256(words: (.max, .max, .max, .max)))
        let (outside, _) = try failure { request, answer in
            guard case .records(var pages) = answer, case .records(let queries) = request.body,
                !queries[0].range.contains(stranger.id)
            else { return answer }
            pages[0].records.append(stranger)
            return .records(pages)
        }
        XCTAssertEqual(outside.code, .malformedAnswer)
        XCTAssertTrue(outside.message.contains("outside"), outside.message)

        let (unordered, _) = try failure { _, answer in
            guard case .records(var pages) = answer, pages[0].records.count > 1 else { return answer }
            pages[0].records.reverse()
            return .records(pages)
        }
        XCTAssertEqual(unordered.code, .malformedAnswer)

        let (repeated, _) = try failure { _, answer in
            guard case .records(var pages) = answer, let first = pages[0].records.first else { return answer }
            pages[0].records.insert(first, at: 0)
            return .records(pages)
        }
        XCTAssertEqual(repeated.code, .malformedAnswer)

        let (tooMany, _) = try failure(limits: ExchangeLimits(maximumRecordsPerAnswer: 4)) { request, answer in
            guard case .records = answer, case .records(let queries) = request.body else { return answer }
            let inRange = self.ids.filter { queries[0].range.contains($0) }.prefix(5).map { record($0) }
            return .records(
                [RecordPage(records: inRange, isComplete: true)]
                    + Array(repeating: RecordPage(records: [], isComplete: true), count: queries.count - 1))
        }
        XCTAssertEqual(tooMany.code, .malformedAnswer)
        XCTAssertTrue(tooMany.message.contains("at most 4"), tooMany.message)
    }

    func testOversizedRecords() throws {
        let owners = (0..<20).map { ObjectOwner(key: [UInt8($0), 1, 2])! }
        let (bloated, _) = try failure(limits: ExchangeLimits(maximumOwnerEntriesPerRecord: 8)) { _, answer in
            guard case .records(var pages) = answer, let first = pages[0].records.first else { return answer }
            pages[0].records[0] = record(first.id, owners: owners)
            return .records(pages)
        }
        XCTAssertEqual(bloated.code, .malformedAnswer)
        XCTAssertTrue(bloated.message.contains("owner entries"), bloated.message)
    }

    func testEndlessEmptyPagesAreNoProgress() throws {
        let (stall, requests) = try failure { _, answer in
            guard case .records(let pages) = answer else { return answer }
            return .records(pages.map { _ in RecordPage(records: [], isComplete: false) })
        }
        XCTAssertEqual(stall.code, .noProgress)
        XCTAssertLessThanOrEqual(requests, 8)
    }

    func testRandomSummariesAreCaughtByTheParentHash() throws {
        var rng = SeededRandom(seed: 22)
        let randomChildren: (ExchangeRequest, ExchangeAnswer) -> ExchangeAnswer = { request, answer in
            guard case .summaries(let s) = answer, case .children = request.body else { return answer }
            return .summaries(s.map { RangeSummary(count: $0.count, hash: RangeHash(Key256.random(using: &rng))) })
        }
        let (liar, requests) = try failure(
            limits: ExchangeLimits(maximumInconsistentAnswers: 0), tamper: randomChildren)
        XCTAssertEqual(liar.code, .inconsistentAnswers)
        XCTAssertEqual(requests, 2)

        // Tolerated (the peer's records may have changed between two answers), but nothing is
        // learned from the contradicted range.
        var l = local
        var p = peer
        var session = ExchangeSession(peer: node(4), ranges: [.everything], horizon: l.horizon)
        let run = LoopbackExchange.run(&session, local: &l, peer: &p, tamper: randomChildren)
        guard case .success(let outcome) = run.outcome else { return XCTFail("expected an outcome") }
        XCTAssertEqual(outcome.unexplored, [.everything])
        XCTAssertEqual(outcome.differenceCount, 0)
        XCTAssertFalse(outcome.isComplete)
    }

    func testAHugeClaimedCountIsGarbage() throws {
        let (huge, requests) = try failure { _, answer in
            guard case .summaries(let s) = answer else { return answer }
            return .summaries(s.map { RangeSummary(count: UInt64.max, hash: $0.hash) })
        }
        XCTAssertEqual(huge.code, .malformedAnswer)
        XCTAssertEqual(requests, 1)
    }

    func testAPeerListingMoreThanItSummarizedIsStopped() throws {
        // Local is empty: it fetches everything, and the peer keeps inventing records.
        var empty = RecordTree()
        var p = peer
        var session = ExchangeSession(
            peer: node(5), ranges: [.everything], horizon: empty.horizon,
            limits: ExchangeLimits(maximumInconsistentAnswers: 0))
        let run = LoopbackExchange.run(&session, local: &empty, peer: &p) { request, answer in
            guard case .records(let queries) = request.body else { return answer }
            let base = queries[0].after ?? queries[0].range.prefix
            let made = (1...1024).map {
                Key256(words: (base.words.0, base.words.1, base.words.2, base.words.3 &+ UInt64($0)))
            }
            return .records([RecordPage(records: made.map { record($0) }, isComplete: false)])
        }
        guard case .failure(let failure) = run.outcome else { return XCTFail("expected a failure") }
        XCTAssertEqual(failure.code, .inconsistentAnswers)
        XCTAssertLessThanOrEqual(run.requests, 3)
    }

    func testTheResponderRefusesOversizedRequests() {
        var tree = local
        let limits = ExchangeLimits(maximumRangesPerRequest: 4)
        let many = (0..<5).map { KeyRange(containing: ids[$0], bitLength: 8) }
        guard
            case .refused = tree.answer(ExchangeRequest(horizon: tree.horizon, body: .summaries(many)), limits: limits)
        else {
            return XCTFail("expected a refusal")
        }
        guard
            case .refused = tree.answer(
                ExchangeRequest(horizon: tree.horizon, body: .children([KeyRange(containing: ids[0], bitLength: 256)])))
        else {
            return XCTFail("a single key has no children")
        }
        let wide = ExchangeLimits(maximumSummariesPerAnswer: 32)
        guard
            case .refused = tree.answer(
                ExchangeRequest(horizon: tree.horizon, body: .children(Array(many.prefix(3)))), limits: wide)
        else {
            return XCTFail("48 children over a 32 bound")
        }
        guard
            case .records(let pages) = tree.answer(
                ExchangeRequest(horizon: tree.horizon, body: .records([RecordQuery(range: .everything)])),
                limits: ExchangeLimits(maximumRecordsPerAnswer: 10))
        else {
            return XCTFail("expected records")
        }
        XCTAssertEqual(pages[0].records.count, 10)
        XCTAssertFalse(pages[0].isComplete)
        guard
            case .records(let byBytes) = tree.answer(
                ExchangeRequest(horizon: tree.horizon, body: .records([RecordQuery(range: .everything)])),
                limits: ExchangeLimits(maximumAnswerBytes: 1_000))
        else {
            return XCTFail("expected records")
        }
        XCTAssertGreaterThan(byBytes[0].records.count, 0)
        XCTAssertLessThan(byBytes[0].records.count, 10, "about 130 bytes per record")
        XCTAssertFalse(byBytes[0].isComplete)
    }

    func testLateOrStrayAnswersAreIgnored() {
        var session = ExchangeSession(peer: node(3), ranges: [.everything], horizon: .origin)
        var tree = local
        XCTAssertEqual(session.onAnswer(.summaries([]), local: &tree, now: .zero), [], "nothing asked yet")
        let first = session.start(now: .zero)
        XCTAssertEqual(first.count, 1)
        guard case .failed(let failure) = session.onTimeout(now: .zero).first else {
            return XCTFail("expected a failure")
        }
        XCTAssertEqual(failure.code, .timedOut)
        XCTAssertEqual(session.onAnswer(.summaries([.empty]), local: &tree, now: .zero), [], "too late")
        XCTAssertTrue(session.isFinished)
    }
}
