import Foundation
import ShoalCore
import ShoalNode
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The built `shoal` executable as a user runs it: a node in the background, then put, get and
/// status against it, and the documented exit codes.
final class CLITests: NodeTestCase, @unchecked Sendable {
    /// `<package>/.build/debug/shoal`, next to the test bundle's sources.
    private static let binary = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".build/debug/shoal")

    func testPutGetStatusAndExitCodes() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary.path) else {
            throw XCTSkip("\(Self.binary.path) is not built; run 'swift build' first")
        }
        let data = try makeTemporaryDirectory("shoal-cli-data")
        let work = try makeTemporaryDirectory("shoal-cli-work")
        let node = try ChildProcess(
            Self.binary,
            [
                "node", "--listen", "127.0.0.1:0", "--data", data.path, "--api", "127.0.0.1:0",
                "--log-level", "warning",
            ], logsIn: work, name: "node")
        addCleanup { await node.stop() }
        let apiFile = data.appendingPathComponent("api")
        try await waitUntil("the node to write \(apiFile.path)") {
            guard node.isRunning else { throw TestFailure("shoal node exited early: \(node.stderr)") }
            return FileManager.default.fileExists(atPath: apiFile.path)
        }

        let input = work.appendingPathComponent("input.bin")
        let bytes = testBytes(count: 300_000, seed: 9)
        try Data(bytes).write(to: input)

        // put prints the address alone.
        let put = try await run(["put", "--data", data.path, input.path], in: work)
        XCTAssertEqual(put.status, 0, put.stderr)
        let lines = put.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "put must print only the address: \(put.stdout)")
        let address = try FileAddress(parsing: String(lines.first ?? ""))
        XCTAssertFalse(address.isPublic)

        let publicPut = try await run(["put", "--public", "--data", data.path, input.path], in: work)
        XCTAssertEqual(publicPut.status, 0, publicPut.stderr)
        let publicAddress = publicPut.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(publicAddress.count, 64)

        // get -o reproduces the file, and leaves no partial file behind.
        for (i, text) in [address.description, publicAddress].enumerated() {
            let output = work.appendingPathComponent("out\(i).bin")
            let get = try await run(["get", "--data", data.path, text, "-o", output.path], in: work)
            XCTAssertEqual(get.status, 0, get.stderr)
            XCTAssertTrue((try? Data(contentsOf: output)) == Data(bytes), "get -o did not reproduce the file")
            XCTAssertFalse(FileManager.default.fileExists(atPath: output.path + ".part"))
        }

        let status = try await run(["status", "--json", "--data", data.path], in: work)
        XCTAssertEqual(status.status, 0, status.stderr)
        let json = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
        let nodeID = json?["nodeID"] as? String
        XCTAssertEqual(nodeID?.count, 64, status.stdout)
        XCTAssertNotNil(nodeID.flatMap { Key256(hex: $0) }, status.stdout)

        // Exit codes: 6 bad address, 4 not found, 3 no node.
        let badAddress = try await run(["get", "--data", data.path, "not-an-address"], in: work)
        XCTAssertEqual(badAddress.status, 6, badAddress.stderr)
        XCTAssertTrue(badAddress.stderr.contains("not a Shoal address"), badAddress.stderr)
        let unknown = Key256.sha256(of: Array("absent".utf8)).hex
        let notFound = try await run(
            ["get", "--data", data.path, unknown, "-o", work.appendingPathComponent("absent").path], in: work)
        XCTAssertEqual(notFound.status, 4, notFound.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: work.appendingPathComponent("absent").path))
        let empty = try makeTemporaryDirectory("shoal-cli-empty")
        let noNode = try await run(["status", "--data", empty.path], in: work)
        XCTAssertEqual(noNode.status, 3, noNode.stderr)
        XCTAssertTrue(
            noNode.stderr.contains("shoal node"), "the message should say how to start a node: \(noNode.stderr)")
        // Nothing listens at the API address: a refused loopback connection must end the command
        // (20 s is a bound on a hang, not a speed requirement).
        for command in [["status"], ["get", unknown, "-o", work.appendingPathComponent("refused").path]] {
            let refused = try await run(command + ["--api", "127.0.0.1:1"], in: work, seconds: 20)
            XCTAssertEqual(refused.status, 3, "shoal \(command[0]) against a closed port: \(refused.stderr)")
        }

        // rm by the owner, then the file is gone.
        let rm = try await run(["rm", "--data", data.path, publicAddress], in: work)
        XCTAssertEqual(rm.status, 0, rm.stderr)
        let afterRm = try await run(
            ["get", "--data", data.path, publicAddress, "-o", work.appendingPathComponent("gone").path], in: work)
        XCTAssertEqual(afterRm.status, 4, afterRm.stderr)

        // /metrics of the real executable: swift-prometheus text with the node's histograms and the
        // per-route metrics of the API, which reach the registry through the bootstrapped system.
        let apiAddress = try String(contentsOf: apiFile, encoding: .utf8).trimmingCharacters(
            in: .whitespacesAndNewlines)
        let metrics = try await APIClient(address: apiAddress, token: nil).rawJSON("/metrics")
        for family in [
            "# TYPE shoal_request_duration_seconds histogram", "# TYPE shoal_transfer_bytes_per_second histogram",
            "# TYPE shoal_files_put_total counter", "# TYPE shoal_members_by_state gauge",
            "http_server_request_duration",
        ] {
            XCTAssertTrue(metrics.contains(family), "\(family) missing from /metrics:\n\(metrics.prefix(4000))")
        }
        XCTAssertTrue(
            metrics.contains("shoal_transfer_bytes_per_second_count{direction=\"put\"} 2"),
            "two puts should be in the put throughput histogram:\n\(metrics.prefix(4000))")

        // SIGTERM: the node leaves, exits 0 and removes its api file.
        let exit = await node.stop()
        XCTAssertEqual(exit, 0, node.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: apiFile.path))
    }

    /// Out-of-range numbers on the command line are usage errors (exit 64) with a message, never a trap.
    func testOutOfRangeOptionsAreUsageErrors() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary.path) else {
            throw XCTSkip("\(Self.binary.path) is not built; run 'swift build' first")
        }
        let work = try makeTemporaryDirectory("shoal-cli-usage")
        let cases: [([String], String)] = [
            (["--max-storage", "99999999999999G"], "max-storage"),
            (["--cache-size", "18446744073709551615K"], "cache-size"),
            (["--chunk-size", "9999999999999999999"], "chunk-size"),
            (["--chunk-size", "16M"], "chunk-size"),
            (["--cache-size", "12Q"], "cache-size"),
            (["--log-level", "loud"], "log-level"),
            (["--protocol-period-ms", "9223372036854775807"], "protocol-period-ms"),
            (["--repair-interval", "9223372036854775807"], "repair-interval"),
            (["--connections-low", "50", "--connections-high", "40"], "connections-low"),
            (["--connections-high", "0"], "connections-high"),
        ]
        for (arguments, option) in cases {
            let outcome = try await run(
                ["node", "--data", work.path, "--listen", "127.0.0.1:0"] + arguments, in: work, seconds: 30)
            XCTAssertEqual(outcome.status, 64, "shoal node \(arguments.joined(separator: " ")): \(outcome.stderr)")
            XCTAssertTrue(outcome.stderr.contains(option), "the message names --\(option): \(outcome.stderr)")
        }
        let version = try await run(["--version"], in: work, seconds: 30)
        XCTAssertEqual(version.status, 0, version.stderr)
        XCTAssertEqual(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines), ShoalVersion.string)
        let completion = try await run(["--generate-completion-script", "bash"], in: work, seconds: 30)
        XCTAssertEqual(completion.status, 0, completion.stderr)
        XCTAssertTrue(
            completion.stdout.contains("-F _shoal shoal"), "a bash completion script: \(completion.stdout.prefix(300))")
    }

    private struct Outcome {
        var status: Int32?
        var stdout: String
        var stderr: String
    }

    /// Runs the CLI to completion, or kills it after `seconds` (status `nil`).
    private func run(_ arguments: [String], in dir: URL, seconds: Int = 120) async throws -> Outcome {
        let child = try ChildProcess(Self.binary, arguments, logsIn: dir, name: "cli-\(UUID().uuidString.prefix(6))")
        guard let status = await child.wait(seconds: seconds) else {
            await child.kill()
            return Outcome(
                status: nil, stdout: child.stdout,
                stderr: "did not finish within \(seconds) s and was killed; stderr: " + child.stderr)
        }
        return Outcome(status: status, stdout: child.stdout, stderr: child.stderr)
    }
}

/// A child process with stdout and stderr in files; only this process is ever signalled.
final class ChildProcess: @unchecked Sendable {
    private let process = Process()
    private let stdoutURL: URL
    private let stderrURL: URL

    init(_ executable: URL, _ arguments: [String], logsIn dir: URL, name: String) throws {
        stdoutURL = dir.appendingPathComponent("\(name).stdout")
        stderrURL = dir.appendingPathComponent("\(name).stderr")
        FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        process.executableURL = executable
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        for key in environment.keys where key.hasPrefix("SHOAL_") { environment[key] = nil }
        environment["HOME"] = dir.path
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        try process.run()
    }

    var isRunning: Bool { process.isRunning }
    var stdout: String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

    /// The exit status once the process has exited, or `nil` after `seconds`.
    func wait(seconds: Int) async -> Int32? {
        for _ in 0..<(seconds * 20) {
            if !process.isRunning { return process.terminationStatus }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// SIGKILL, then waits (bounded) for the exit.
    func kill() async {
        guard process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        _ = await wait(seconds: 10)
    }

    /// SIGTERM, then SIGKILL if it has not exited after 30 s.
    /// - Returns: the exit status (`nil` if it had to be killed).
    @discardableResult
    func stop() async -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        Glibc.kill(process.processIdentifier, SIGTERM)
        if let status = await wait(seconds: 30) { return status }
        await kill()
        return nil
    }
}
