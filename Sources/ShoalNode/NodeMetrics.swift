import CoreMetrics
import NIOConcurrencyHelpers
import Prometheus
import ShoalCore

/// The node's metrics, recorded through swift-metrics into one Prometheus registry and exposed at
/// `/metrics` by swift-prometheus.
///
/// Every handle is made with a factory over the node's own registry (``NodeConfiguration/metrics``),
/// so several nodes in one process keep separate figures. The `shoal` executable bootstraps the
/// global metrics system with a factory over the same registry, so that libraries recording
/// through `MetricsSystem` (Hummingbird's per-route request metrics) land there too.
///
/// Counters that another part of the node already keeps as totals (the transport's, membership's,
/// repair's) and gauges of current state are brought up to date when `/metrics` is read
/// (``refresh(totals:gauges:)``).
final class NodeMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory

    private let storedBytes: CoreMetrics.Counter
    private let servedBytes: CoreMetrics.Counter
    private let fetchFailures: CoreMetrics.Counter
    private let corruptChunks: CoreMetrics.Counter
    private let filesPut: CoreMetrics.Counter
    private let placementLookups: CoreMetrics.Counter
    private let lookupDuration: CoreMetrics.Timer
    private let lookupHops: Recorder
    private let lookupMessages: Recorder
    private let putThroughput: Recorder
    private let getThroughput: Recorder

    private struct PerType {
        var requests: [String: CoreMetrics.Counter] = [:]
        var latency: [String: CoreMetrics.Timer] = [:]
        var totals: [String: (counter: CoreMetrics.Counter, seen: Int64)] = [:]
        var gauges: [String: CoreMetrics.Gauge] = [:]
    }
    private let perType = NIOLockedValueBox(PerType())

    /// Histogram buckets of request and lookup latency: 100 µs to 10 s.
    static let latencyBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(10),
    ]
    /// Histogram buckets of lookup hops (rounds) and messages.
    static let countBuckets: [Double] = [1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50, 100]
    /// Histogram buckets of transfer throughput, bytes per second: 1 MB/s to 4 GB/s.
    static let throughputBuckets: [Double] = [1e6, 5e6, 10e6, 25e6, 50e6, 100e6, 200e6, 400e6, 800e6, 1.6e9, 4e9]

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = Self.latencyBuckets
        factory.valueHistogramBuckets = [
            "shoal_lookup_hops": Self.countBuckets,
            "shoal_lookup_messages": Self.countBuckets,
            "shoal_transfer_bytes_per_second": Self.throughputBuckets,
        ]
        self.factory = factory
        storedBytes = Counter(label: "shoal_stored_bytes_total", factory: factory)
        servedBytes = Counter(label: "shoal_served_bytes_total", factory: factory)
        fetchFailures = Counter(label: "shoal_fetch_failures_total", factory: factory)
        corruptChunks = Counter(label: "shoal_corrupt_chunks_total", factory: factory)
        filesPut = Counter(label: "shoal_files_put_total", factory: factory)
        placementLookups = Counter(label: "shoal_file_placement_lookups_total", factory: factory)
        lookupDuration = Timer(label: "shoal_lookup_duration_seconds", preferredDisplayUnit: .seconds, factory: factory)
        lookupHops = Recorder(label: "shoal_lookup_hops", aggregate: true, factory: factory)
        lookupMessages = Recorder(label: "shoal_lookup_messages", aggregate: true, factory: factory)
        putThroughput = Recorder(
            label: "shoal_transfer_bytes_per_second", dimensions: [("direction", "put")],
            aggregate: true, factory: factory)
        getThroughput = Recorder(
            label: "shoal_transfer_bytes_per_second", dimensions: [("direction", "get")],
            aggregate: true, factory: factory)
        for counter in [storedBytes, servedBytes, fetchFailures, corruptChunks, filesPut, placementLookups] {
            counter.increment(by: 0)
        }
    }

    /// One peer request of type `name` was answered after `elapsed`.
    func handled(request name: String, in elapsed: Duration) {
        let (counter, timer) = perType.withLockedValue { table in
            if let counter = table.requests[name], let timer = table.latency[name] { return (counter, timer) }
            let counter = Counter(label: "shoal_requests_total", dimensions: [("type", name)], factory: factory)
            let timer = Timer(
                label: "shoal_request_duration_seconds", dimensions: [("type", name)],
                preferredDisplayUnit: .seconds, factory: factory)
            table.requests[name] = counter
            table.latency[name] = timer
            return (counter, timer)
        }
        counter.increment()
        timer.recordNanoseconds(elapsed.nanosecondsClamped)
    }

    func add(storedBytes n: Int) { storedBytes.increment(by: n) }
    func add(servedBytes n: Int) { servedBytes.increment(by: n) }
    func fetchFailed() { fetchFailures.increment() }
    func corruptChunk() { corruptChunks.increment() }

    /// A file was put, and placing its objects took `lookups` network lookups.
    func placed(file size: UInt64, lookups: Int) {
        filesPut.increment()
        placementLookups.increment(by: lookups)
    }

    /// A network lookup finished.
    func lookedUp(in elapsed: Duration, hops: Int, messages: Int) {
        lookupDuration.recordNanoseconds(elapsed.nanosecondsClamped)
        lookupHops.record(hops)
        lookupMessages.record(messages)
    }

    /// A whole file of `bytes` was put or read in `elapsed`.
    func transferred(bytes: UInt64, in elapsed: Duration, put: Bool) {
        let seconds = elapsed.inSeconds
        guard bytes > 0, seconds > 0 else { return }
        (put ? putThroughput : getThroughput).record(Double(bytes) / seconds)
    }

    /// Brings the mirrored totals and the state gauges up to date, for a read of `/metrics`.
    /// - Parameters:
    ///   - totals: counters kept elsewhere as running totals: name, value (never decreasing).
    ///   - gauges: current values: name, labels, value.
    func refresh(totals: [(String, Int64)], gauges: [(String, [(String, String)], Double)]) {
        let (increments, settings) = perType.withLockedValue { table in
            var increments: [(CoreMetrics.Counter, Int64)] = []
            for (name, value) in totals {
                let entry = table.totals[name] ?? (Counter(label: name, factory: factory), 0)
                increments.append((entry.counter, max(0, value - entry.seen)))
                table.totals[name] = (entry.counter, max(value, entry.seen))
            }
            var settings: [(CoreMetrics.Gauge, Double)] = []
            for (name, labels, value) in gauges {
                let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
                let gauge = table.gauges[key] ?? Gauge(label: name, dimensions: labels, factory: factory)
                table.gauges[key] = gauge
                settings.append((gauge, value))
            }
            return (increments, settings)
        }
        for (counter, n) in increments { counter.increment(by: n) }
        for (gauge, value) in settings { gauge.record(value) }
    }

    /// The Prometheus text exposition of everything recorded.
    func exposition() -> String {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(16 << 10)
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}
