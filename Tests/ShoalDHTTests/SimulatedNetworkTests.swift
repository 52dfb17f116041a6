import ShoalCore
import ShoalTestKit
import XCTest

final class SimulatedNetworkTests: XCTestCase {
    private let a = Key256(words: (1, 0, 0, 0))
    private let b = Key256(words: (2, 0, 0, 0))
    private let c = Key256(words: (3, 0, 0, 0))

    private func fixedDelay() -> SimulatedNetwork<String>.Configuration {
        .init(baseDelay: .milliseconds(10), jitter: .zero)
    }

    func testEventsComeInTimeOrderThenSendOrder() {
        var net = SimulatedNetwork<String>(configuration: fixedDelay(), seed: 1)
        net.send("slow", from: a, to: b, delay: .milliseconds(50))
        net.send("first", from: a, to: b)
        net.send("second", from: c, to: b)
        net.scheduleTimer(for: a, after: .milliseconds(20), "tick")
        var seen: [String] = []
        var times: [Timestamp] = []
        let summary = net.run(until: .seconds(1), maxEvents: 100) { net, event in
            times.append(net.now)
            switch event {
            case .message(_, _, let m): seen.append(m)
            case .timer(_, _, let m): seen.append(m)
            }
        }
        XCTAssertEqual(seen, ["first", "second", "tick", "slow"])
        XCTAssertEqual(times.map(\.nanoseconds), [10_000_000, 10_000_000, 20_000_000, 50_000_000])
        XCTAssertEqual(summary, .init(eventsHandled: 4, stopReason: .queueEmpty))
        XCTAssertEqual(net.statistics.messagesDelivered, 3)
        XCTAssertEqual(net.statistics.timersFired, 1)
    }

    func testHandlersCanReplyAndRunsAreBounded() {
        var net = SimulatedNetwork<Int>(configuration: .init(baseDelay: .milliseconds(1), jitter: .zero), seed: 1)
        net.send(0, from: a, to: b)
        // Ping-pong forever; the event limit stops it.
        let limited = net.run(until: .seconds(100), maxEvents: 50) { net, event in
            guard case .message(let from, let to, let n) = event else { return }
            net.send(n + 1, from: to, to: from)
        }
        XCTAssertEqual(limited, .init(eventsHandled: 50, stopReason: .eventLimitReached))
        XCTAssertEqual(net.now, Timestamp(nanoseconds: 50_000_000))
        // The deadline stops it too, and time moves to the deadline.
        let timed = net.run(until: Timestamp(nanoseconds: 60_500_000), maxEvents: 1000) { net, event in
            guard case .message(let from, let to, let n) = event else { return }
            net.send(n + 1, from: to, to: from)
        }
        XCTAssertEqual(timed, .init(eventsHandled: 10, stopReason: .deadlineReached))
        XCTAssertEqual(net.now, Timestamp(nanoseconds: 60_500_000))
        XCTAssertEqual(net.pendingEventCount, 1)
    }

    func testSameSeedSameRun() {
        func trace(seed: UInt64) -> [Int64] {
            var net = SimulatedNetwork<Int>(
                configuration: .init(
                    baseDelay: .milliseconds(5), jitter: .milliseconds(20),
                    lossProbability: 0.3), seed: seed)
            for i in 0..<200 { net.send(i, from: a, to: b) }
            var out: [Int64] = []
            while let event = net.step() {
                if case .message(_, _, let n) = event { out.append(Int64(n) << 32 | net.now.nanoseconds) }
            }
            return out
        }
        XCTAssertEqual(trace(seed: 3), trace(seed: 3))
        XCTAssertNotEqual(trace(seed: 3), trace(seed: 4))
        let delivered = trace(seed: 3).count
        XCTAssertTrue((100...180).contains(delivered), "about 30% lost, got \(200 - delivered) lost")
    }

    func testJitterStaysWithinBounds() {
        var net = SimulatedNetwork<Int>(
            configuration: .init(baseDelay: .milliseconds(5), jitter: .milliseconds(20)), seed: 9)
        for i in 0..<500 { net.send(i, from: a, to: b) }
        var times: Set<Int64> = []
        while let _ = net.step() { times.insert(net.now.nanoseconds) }
        XCTAssertGreaterThanOrEqual(times.min()!, 5_000_000)
        XCTAssertLessThanOrEqual(times.max()!, 25_000_000)
        XCTAssertGreaterThan(times.count, 400, "delays vary")
    }

    func testDeadNodesDropEverythingSilently() {
        var net = SimulatedNetwork<String>(configuration: fixedDelay(), seed: 1)
        net.send("in flight to b", from: a, to: b)
        net.scheduleTimer(for: b, after: .seconds(1), "b's timer")
        net.kill(b)
        net.send("from dead b", from: b, to: a)
        net.send("to c", from: a, to: c)
        XCTAssertFalse(net.isAlive(b))
        XCTAssertFalse(net.canReach(a, b))
        var seen: [String] = []
        while let event = net.step() {
            if case .message(_, _, let m) = event { seen.append(m) }
            if case .timer(_, _, let m) = event { seen.append(m) }
        }
        XCTAssertEqual(seen, ["to c"])
        XCTAssertEqual(net.statistics.messagesDroppedDead, 2)
        XCTAssertEqual(net.statistics.timersDroppedDead, 1)

        net.revive(b)
        net.send("after revival", from: a, to: b)
        XCTAssertEqual(
            net.step().map { if case .message(_, _, let m) = $0 { return m } else { return "" } }, "after revival")
    }

    func testTimersOfAKilledNodeNeverFireEvenAfterRevival() {
        var net = SimulatedNetwork<String>(configuration: fixedDelay(), seed: 1)
        net.scheduleTimer(for: a, after: .seconds(1), "old")
        net.kill(a)
        net.revive(a)
        net.scheduleTimer(for: a, after: .seconds(2), "new")
        var fired: [String] = []
        while let event = net.step() { if case .timer(_, _, let m) = event { fired.append(m) } }
        XCTAssertEqual(fired, ["new"])
    }

    func testCancelledTimersDoNotFire() {
        var net = SimulatedNetwork<String>(configuration: fixedDelay(), seed: 1)
        let t1 = net.scheduleTimer(for: a, after: .seconds(1), "one")
        net.scheduleTimer(for: a, at: .seconds(2), "two")
        net.cancelTimer(t1)
        net.cancelTimer(t1)
        var fired: [String] = []
        while let event = net.step() { if case .timer(_, _, let m) = event { fired.append(m) } }
        XCTAssertEqual(fired, ["two"])
        XCTAssertEqual(net.statistics.timersCancelled, 1)
    }

    func testPartitionsCutBothDirectionsUntilHealed() {
        var net = SimulatedNetwork<String>(configuration: fixedDelay(), seed: 1)
        net.partition([a], from: [b])
        XCTAssertFalse(net.canReach(a, b))
        XCTAssertFalse(net.canReach(b, a))
        XCTAssertTrue(net.canReach(a, c))
        net.send("a->b", from: a, to: b)
        net.send("b->a", from: b, to: a)
        net.send("a->c", from: a, to: c)
        var seen: [String] = []
        while let event = net.step() { if case .message(_, _, let m) = event { seen.append(m) } }
        XCTAssertEqual(seen, ["a->c"])
        XCTAssertEqual(net.statistics.messagesDroppedPartition, 2)

        net.healPartitions()
        net.isolate([c])
        XCTAssertTrue(net.canReach(a, b))
        XCTAssertFalse(net.canReach(a, c))
        XCTAssertFalse(net.canReach(c, b))
        net.send("a->b again", from: a, to: b)
        net.send("c->a", from: c, to: a)
        seen = []
        while let event = net.step() { if case .message(_, _, let m) = event { seen.append(m) } }
        XCTAssertEqual(seen, ["a->b again"])
    }

    func testPartitionStartedWhileInFlightDropsTheMessage() {
        var net = SimulatedNetwork<String>(configuration: fixedDelay(), seed: 1)
        net.send("late", from: a, to: b)
        net.partition([a], from: [b])
        XCTAssertNil(net.step())
        XCTAssertEqual(net.statistics.messagesDroppedPartition, 1)
    }
}
