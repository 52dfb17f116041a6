import Foundation

/// A test bed made by `Scripts/netns-cluster.sh`: one network namespace per node, two bridges
/// (sides a and b) linked only by a user-space relay with delay and loss, and a management link
/// from here to each node for its HTTP API. Created by the test, removed by ``remove()``.
final class NamespaceTestBed: @unchecked Sendable {
    /// One node's place in the test bed.
    struct Slot: Sendable {
        let index: Int
        let namespace: String
        /// The node's address on the data network (peer traffic).
        let host: String
        /// The node's address on its management link (its API).
        let managementHost: String
        let side: String
    }

    let tag: String
    let slots: [Slot]
    private let script: URL
    private let lock = NSLock()
    private var removed = false

    static var script: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent("Scripts/netns-cluster.sh")
    }

    /// Why namespaces cannot be made here (the script's `check` says), or `nil` when they can.
    static func unavailableReason() -> String? {
        guard let result = try? run(["check"]) else { return "could not run \(script.path)" }
        return result.status == 0 ? nil : result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Creates a test bed of `nodes` namespaces; the relay between the sides delays each frame by
    /// `delayMs` and drops a `loss` fraction of them.
    init(nodes: Int, delayMs: Int, loss: Double) throws {
        script = Self.script
        tag = "t" + String(UInt32.random(in: 0..<UInt32.max), radix: 36).prefix(5)
        let result = try Self.run(["up", tag, "\(nodes)", "\(delayMs)", "\(loss)"])
        guard result.status == 0 else {
            _ = try? Self.run(["down", tag])
            throw ClusterError("netns-cluster.sh up failed: \(result.output)")
        }
        slots = result.output.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ").map(String.init)
            guard fields.count == 5, let index = Int(fields[0]) else { return nil }
            return Slot(index: index, namespace: fields[1], host: fields[2], managementHost: fields[3], side: fields[4])
        }
        guard slots.count == nodes else {
            _ = try? Self.run(["down", tag])
            throw ClusterError("netns-cluster.sh up printed \(slots.count) nodes, expected \(nodes): \(result.output)")
        }
    }

    /// Takes the links between the two sides down.
    func partition() throws { try expectSuccess(["partition", tag]) }

    /// Brings the links between the sides up again.
    func heal() throws { try expectSuccess(["heal", tag]) }

    /// Ends what still runs in the namespaces and removes them, the bridges, the relay and the
    /// management links. Idempotent.
    func remove() {
        let first = lock.withLock { () -> Bool in
            defer { removed = true }
            return !removed
        }
        if first { _ = try? Self.run(["down", tag]) }
    }

    private func expectSuccess(_ arguments: [String]) throws {
        let result = try Self.run(arguments)
        guard result.status == 0 else {
            throw ClusterError("netns-cluster.sh \(arguments.joined(separator: " ")) failed: \(result.output)")
        }
    }

    /// Runs the script (bounded: it only makes or removes devices, 60 s at most) and returns its
    /// status and output. The output goes through a file, not a pipe: the relay the script leaves
    /// running must not keep the reader waiting.
    private static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let outputURL = FileManager.default.temporaryDirectory.appendingPathComponent(
            "shoal-netns-\(UUID().uuidString.prefix(8)).out")
        FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: outputURL) }
        let output = try FileHandle(forWritingTo: outputURL)
        defer { try? output.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script.path] + arguments
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        if process.isRunning {
            process.terminate()
            throw ClusterError("netns-cluster.sh \(arguments.joined(separator: " ")) did not finish within 60 s")
        }
        let text = (try? String(contentsOf: outputURL, encoding: .utf8)) ?? ""
        return (process.terminationStatus, text)
    }
}
