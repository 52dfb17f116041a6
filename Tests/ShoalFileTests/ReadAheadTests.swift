import XCTest

@testable import ShoalFile

final class ReadAheadTests: XCTestCase {
    private let mib = 1 << 20

    /// A link that delivers one chunk per `latency` per request in flight, up to `capacity` bytes
    /// per second in all (beyond that, requests queue behind each other), and a consumer that takes
    /// at most `consumer` bytes per second: runs `rounds` fetch-and-consume steps and returns the
    /// window the controller settled on.
    private func settle(
        latency: Double, capacity: Double, consumer: Double, maximum: Int = 16, rounds: Int = 400
    ) -> Int {
        var window = ReadAhead(minimum: 2, maximum: maximum)
        for _ in 0..<rounds {
            let inFlight = Double(window.current)
            // What the link delivers with `inFlight` requests, and what the consumer takes of it.
            let linkRate = min(inFlight * Double(mib) / latency, capacity)
            let rate = min(linkRate, consumer)
            // Queueing: a request waits for the others sharing the link.
            let observedLatency = max(latency, inFlight * Double(mib) / linkRate)
            window.fetched(bytes: mib, after: observedLatency)
            window.consumed(bytes: mib, over: Double(mib) / rate)
        }
        return window.current
    }

    func testStartsSmall() {
        XCTAssertEqual(ReadAhead(minimum: 2, maximum: 8).current, 2)
        XCTAssertEqual(ReadAhead(minimum: 4, maximum: 2).maximum, 4, "maximum is at least minimum")
    }

    func testGrowsToCoverTheBandwidthDelayProduct() {
        // 20 ms per chunk, a 400 MB/s link and a fast consumer: 400e6 × 0.02 / 1 MiB ≈ 7.6 → 9.
        let window = settle(latency: 0.020, capacity: 400e6, consumer: 10e9)
        XCTAssertEqual(window, 9)
    }

    func testStaysSmallOnAFastLink() {
        // 1 ms per chunk at 400 MB/s: two in flight already fill the link (each then takes 5 ms),
        // and one more keeps it busy.
        XCTAssertEqual(settle(latency: 0.001, capacity: 400e6, consumer: 10e9), 3)
    }

    func testASlowConsumerKeepsTheWindowSmall() {
        // The same long link, but the consumer takes 20 MB/s: 20e6 × 0.02 / 1 MiB < 1 → the minimum.
        XCTAssertEqual(settle(latency: 0.020, capacity: 400e6, consumer: 20e6), 2)
    }

    func testNeverBeyondTheMaximum() {
        XCTAssertEqual(settle(latency: 0.5, capacity: 1e9, consumer: 10e9, maximum: 8), 8)
    }

    func testIgnoresEmptyAndInstantMeasurements() {
        var window = ReadAhead(minimum: 2, maximum: 8)
        window.fetched(bytes: 0, after: 1)
        window.fetched(bytes: mib, after: 0)
        window.consumed(bytes: mib, over: 0)
        XCTAssertEqual(window.current, 2)
    }
}
