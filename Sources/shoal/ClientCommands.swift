import ArgumentParser
import Foundation
import NIOCore
import ShoalCore
import ShoalNode

struct Put: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Store a file; print its address alone on stdout.")

    @Argument(help: "The file to store, or - for standard input.")
    var file: String

    @Flag(help: "Store plaintext, addressed by its hash alone (anyone with the hash can read it).")
    var `public` = false

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            let api = try client.client()
            let (chunks, length, name) = try FileChunks.open(file)
            let progress = Progress(label: "put", total: length.map(UInt64.init))
            let counted = ProgressSequence(base: chunks, progress: progress)
            let result = try await api.put(counted, length: length, isPublic: `public`, name: name)
            progress.finish()
            print(result.address)
        }
    }
}

struct Get: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Fetch a file by its address.")

    @Argument(help: "The file's address (64 hex digits, plus '.KEY' for a private file).")
    var address: String

    @Option(name: .shortAndLong, help: "Write to this file instead of standard output.")
    var output: String?

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            let parsed = try FileAddress(parsing: address)
            let api = try client.client()
            let progress = Progress(label: "get", total: nil)
            let sink = try OutputSink(path: output)
            do {
                try await api.get(parsed.description) { buffer, total in
                    if let total { progress.total = total }
                    try sink.write(buffer)
                    progress.advance(by: UInt64(buffer.readableBytes))
                }
                try sink.commit()
                progress.finish()
            } catch {
                sink.abandon()
                throw error
            }
        }
    }
}

struct Remove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Delete a file you own from every node that holds it.")

    @Argument(help: "The file's address.")
    var address: String

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            let parsed = try FileAddress(parsing: address)
            let report = try await client.client().delete(parsed.description)
            print(
                "deleted \(report.address): your claim on its \(report.objects) objects is removed; \(report.removed) copies removed from \(report.holders.count) nodes"
            )
            if report.retainedForOtherOwners > 0 {
                print(
                    "\(report.retainedForOtherOwners) of its objects stay: other owners keep them (the same content was put under other keys)"
                )
            }
            if report.keptForOtherFiles > 0 {
                print(
                    "\(report.keptForOtherFiles) of its objects stay: another file put through this node also consists of them"
                )
            }
            if report.removed == 0 && report.retainedForOtherOwners == 0 && report.keptForOtherFiles == 0 {
                print("no holder had a copy to remove")
            }
            if !report.unreachable.isEmpty {
                printError(
                    "\(report.unreachable.count) nodes were unreachable; when they are back they learn of the deletion from the other holders before serving the file, and free their copies"
                )
            }
        }
    }
}

struct Stat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a file's size, chunks and which nodes hold them.")

    @Argument(help: "The file's address.")
    var address: String

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            let parsed = try FileAddress(parsing: address)
            let api = try client.client()
            if json {
                print(try await api.rawJSON("/v1/files/\(parsed.description)/stat"))
                return
            }
            let report = try await api.stat(parsed.description)
            print("address   \(report.address)")
            print("size      \(report.size) bytes (\(Progress.human(report.size)))")
            print(
                "chunks    \(report.chunks) of up to \(report.chunkSize) bytes, \(report.isPublic ? "public" : "private")"
            )
            for object in report.objects.prefix(50) {
                print(
                    "  \(object.kind.padding(toLength: 8, withPad: " ", startingAt: 0)) \(object.id.prefix(16))…  on \(object.holders.map { String($0.prefix(8)) }.joined(separator: ", "))"
                )
            }
            if report.objects.count > 50 { print("  … \(report.objects.count - 50) more objects (use --json)") }
        }
    }
}

struct Peers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the node's connected peers.")

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            let api = try client.client()
            if json {
                print(try await api.rawJSON("/v1/peers"))
                return
            }
            for peer in try await api.peers() {
                print("\(peer.nodeID)  \(peer.address ?? "client")  \(peer.inbound ? "in" : "out")  \(peer.agent)")
            }
        }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the node's identity, peers and storage.")

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runClient {
            let api = try client.client()
            if json {
                print(try await api.rawJSON("/v1/status"))
                return
            }
            let s = try await api.status()
            print("node      \(s.nodeID)")
            print("listen    \(s.listenAddress)")
            print("peers     \(s.peers) connected, \(s.routingTableSize) in routing table, \(s.members) members")
            print(
                "stored    \(Progress.human(s.bytesStored)) in \(s.objectsStored) objects, cache \(Progress.human(s.cachedBytes))"
            )
            print("replicas  \(s.replicas), repair backlog \(s.repairBacklog)")
        }
    }
}

// MARK: - Streaming helpers

/// Reads a file or standard input in 1 MiB buffers.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let fd: Int32

    static func open(_ path: String) throws -> (FileChunks, Int64?, String) {
        if path == "-" { return (FileChunks(fd: 0), nil, "stdin") }
        let fd = Foundation.open(path, O_RDONLY)
        guard fd >= 0 else {
            throw ClientFailure(
                code: ExitCodes.failure, message: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        var info = stat()
        fstat(fd, &info)
        let isRegular = (info.st_mode & S_IFMT) == S_IFREG
        return (FileChunks(fd: fd), isRegular ? Int64(info.st_size) : nil, URL(fileURLWithPath: path).lastPathComponent)
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        let fd: Int32
        mutating func next() async throws -> ByteBuffer? {
            var buffer = ByteBuffer()
            buffer.reserveCapacity(1 << 20)
            let n = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 1 << 20) { ptr -> Int in
                var got = 0
                while got < ptr.count {
                    let r = read(fd, ptr.baseAddress! + got, ptr.count - got)
                    if r < 0 {
                        if errno == EINTR { continue }
                        throw ClientFailure(
                            code: ExitCodes.failure, message: "read failed: \(String(cString: strerror(errno)))")
                    }
                    if r == 0 { break }
                    got += r
                }
                return got
            }
            return n == 0 ? nil : buffer
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(fd: fd) }
}

struct ProgressSequence<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == ByteBuffer {
    typealias Element = ByteBuffer
    let base: Base
    let progress: Progress

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let progress: Progress
        mutating func next() async throws -> ByteBuffer? {
            let buffer = try await base.next()
            if let buffer { progress.advance(by: UInt64(buffer.readableBytes)) }
            return buffer
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator(), progress: progress) }
}

/// Where `get` writes: standard output, or `FILE.part` renamed to `FILE` once complete, so a failed
/// download never leaves a truncated file under the final name.
final class OutputSink {
    private let fd: Int32
    private let path: String?
    private let partial: String?

    init(path: String?) throws {
        self.path = path
        if let path {
            let partial = path + ".part"
            let fd = open(partial, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            guard fd >= 0 else {
                throw ClientFailure(
                    code: ExitCodes.failure, message: "cannot write \(partial): \(String(cString: strerror(errno)))")
            }
            self.fd = fd
            self.partial = partial
        } else {
            self.fd = 1
            self.partial = nil
        }
    }

    func write(_ buffer: ByteBuffer) throws {
        try buffer.withUnsafeReadableBytes { ptr in
            var done = 0
            while done < ptr.count {
                let n = Foundation.write(fd, ptr.baseAddress! + done, ptr.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ClientFailure(
                        code: ExitCodes.failure, message: "write failed: \(String(cString: strerror(errno)))")
                }
                done += n
            }
        }
    }

    func commit() throws {
        guard let path, let partial else { return }
        fsync(fd)
        close(fd)
        guard rename(partial, path) == 0 else {
            throw ClientFailure(
                code: ExitCodes.failure,
                message: "cannot rename \(partial) to \(path): \(String(cString: strerror(errno)))")
        }
    }

    func abandon() {
        guard let partial else { return }
        close(fd)
        unlink(partial)
    }
}
