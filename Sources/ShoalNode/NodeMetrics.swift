import NIOConcurrencyHelpers

/// Counters exposed at `/metrics` in Prometheus text format.
final class NodeMetrics: Sendable {
    private struct Counters {
        var requests: [String: UInt64] = [:]
        var storedBytes: UInt64 = 0
        var servedBytes: UInt64 = 0
        var fetchFailures: UInt64 = 0
        var corruptChunks: UInt64 = 0
        var filesPut: UInt64 = 0
        var fileLookups: UInt64 = 0
    }
    private let counters = NIOLockedValueBox(Counters())

    func count(request name: String) { counters.withLockedValue { $0.requests[name, default: 0] += 1 } }
    func add(storedBytes n: Int) { counters.withLockedValue { $0.storedBytes += UInt64(n) } }
    func add(servedBytes n: Int) { counters.withLockedValue { $0.servedBytes += UInt64(n) } }
    func fetchFailed() { counters.withLockedValue { $0.fetchFailures += 1 } }
    func corruptChunk() { counters.withLockedValue { $0.corruptChunks += 1 } }
    /// A file was put, and placing its objects took `lookups` network lookups.
    func placed(file size: UInt64, lookups: Int) {
        counters.withLockedValue {
            $0.filesPut += 1
            $0.fileLookups += UInt64(lookups)
        }
    }

    /// Prometheus exposition text, with the counters and gauges kept elsewhere passed in.
    func render(counters extra: [(String, String, Double)], gauges: [(String, String, Double)]) -> String {
        let c = counters.withLockedValue { $0 }
        var out = ""
        out += "# HELP shoal_requests_total Peer requests received, by type.\n# TYPE shoal_requests_total counter\n"
        for (name, value) in c.requests.sorted(by: { $0.key < $1.key }) {
            out += "shoal_requests_total{type=\"\(name)\"} \(value)\n"
        }
        out += "# TYPE shoal_stored_bytes_total counter\nshoal_stored_bytes_total \(c.storedBytes)\n"
        out += "# TYPE shoal_served_bytes_total counter\nshoal_served_bytes_total \(c.servedBytes)\n"
        out += "# TYPE shoal_fetch_failures_total counter\nshoal_fetch_failures_total \(c.fetchFailures)\n"
        out += "# TYPE shoal_corrupt_chunks_total counter\nshoal_corrupt_chunks_total \(c.corruptChunks)\n"
        out += "# TYPE shoal_files_put_total counter\nshoal_files_put_total \(c.filesPut)\n"
        out += "# TYPE shoal_file_placement_lookups_total counter\nshoal_file_placement_lookups_total \(c.fileLookups)\n"
        for (name, help, value) in extra {
            out += "# HELP \(name) \(help)\n# TYPE \(name) counter\n\(name) \(value)\n"
        }
        for (name, help, value) in gauges {
            out += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n\(name) \(value)\n"
        }
        return out
    }
}
