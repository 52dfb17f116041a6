import ArgumentParser
import Foundation
import Logging
import ShoalNode

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the three-node demo (ports 3000, 4000, 5000) in one process, with temporary data directories.")

    @Option(help: "Size of the large generated file, in MiB (at least 256 for the full demo).")
    var largeMiB: UInt64 = 256

    @Option(help: "Log level for the nodes' logs on stderr.")
    var logLevel: Logger.Level = .warning

    func run() async throws {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var demo = ShoalDemo()
        demo.largeFileSize = largeMiB << 20
        do {
            try await demo.run { print($0) }
            print("demo complete")
        } catch {
            printError("demo failed: \(error)")
            throw ExitCode.failure
        }
    }
}
