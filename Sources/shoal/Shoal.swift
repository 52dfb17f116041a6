import ArgumentParser
import Foundation
import Logging
import ShoalCore
import ShoalNode

@main
struct Shoal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shoal",
        abstract: "A decentralized, content-addressable file store.",
        discussion: """
            Run a node with 'shoal node', then put and get files through it. Client commands find the
            node's API through --api, the SHOAL_API environment variable, or the 'api' file in the
            node's data directory (--data, SHOAL_DATA, default ~/.shoal).

            Shell completions: 'shoal --generate-completion-script bash' (or zsh, fish).
            """,
        version: ShoalVersion.string,
        subcommands: [NodeCommand.self, Put.self, Get.self, Remove.self, Stat.self, Peers.self, Status.self, Demo.self]
    )
}

/// Exit codes of the client commands, distinct per failure class.
enum ExitCodes {
    static let failure: Int32 = 1
    static let noNode: Int32 = 3
    static let notFound: Int32 = 4
    static let forbidden: Int32 = 5
    static let badAddress: Int32 = 6
    static let incomplete: Int32 = 7
}

/// Options shared by every client command.
struct ClientOptions: ParsableArguments {
    @Option(
        name: .long,
        help: "The node's API address HOST:PORT (default: SHOAL_API, else the 'api' file in the data directory).")
    var api: String?

    @Option(name: .long, help: "The node's data directory, to find its API address (default: SHOAL_DATA or ~/.shoal).")
    var data: String?

    @Option(name: .long, help: "Bearer token for an API not on loopback (default: SHOAL_API_TOKEN).")
    var apiToken: String?

    func client() throws -> APIClient {
        let env = ProcessInfo.processInfo.environment
        let token = apiToken ?? env["SHOAL_API_TOKEN"]
        if let api = api ?? env["SHOAL_API"] { return APIClient(address: api, token: token) }
        let dir = data ?? env["SHOAL_DATA"] ?? (NSHomeDirectory() + "/.shoal")
        let file = URL(fileURLWithPath: dir).appendingPathComponent(NodeCommand.apiFileName)
        guard let text = try? String(contentsOf: file, encoding: .utf8) else {
            throw ClientFailure(
                code: ExitCodes.noNode,
                message:
                    "no running node found: \(file.path) does not exist. Start one with 'shoal node --data \(dir)', or pass --api HOST:PORT"
            )
        }
        return APIClient(address: text.trimmingCharacters(in: .whitespacesAndNewlines), token: token)
    }
}

/// A client failure with its exit code; printed as "shoal: message".
struct ClientFailure: Error, CustomStringConvertible {
    var code: Int32
    var message: String
    var description: String { message }
}

/// Runs a client action, mapping errors to a message on stderr and a distinct exit code.
func runClient(_ body: () async throws -> Void) async throws {
    ProcessMemory.configureAllocator()
    do {
        try await body()
    } catch let failure as ClientFailure {
        printError(failure.message)
        throw ExitCode(failure.code)
    } catch let error as AddressError {
        printError("\(error)")
        throw ExitCode(ExitCodes.badAddress)
    } catch let error as APIClientError {
        printError("\(error)")
        switch error {
        case .noNode: throw ExitCode(ExitCodes.noNode)
        case .api(let status, let code, _):
            if status == 404 || status == 410 { throw ExitCode(ExitCodes.notFound) }
            if status == 403 || status == 401 { throw ExitCode(ExitCodes.forbidden) }
            if status == 400 && code == "bad_address" { throw ExitCode(ExitCodes.badAddress) }
            if status == 503 { throw ExitCode(ExitCodes.incomplete) }
            throw ExitCode(ExitCodes.failure)
        case .transport: throw ExitCode(ExitCodes.failure)
        }
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data("shoal: \(message)\n".utf8))
}
