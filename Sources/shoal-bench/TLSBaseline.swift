import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import ShoalTransport

/// One bare TLS 1.3 stream between two processes, with swift-nio-ssl and the node's own kind of
/// certificates: what a single encrypted connection carries on this machine, with no framing,
/// hashing or disk. The receiving process is this executable, run as `shoal-bench tls-sink`.
enum TLSBaseline {
    /// Sends `total` bytes to a child `tls-sink` process over TLS.
    /// - Returns: MB/s from the first byte until the sink confirmed the last.
    static func measure(total: UInt64) async throws -> Double {
        let sink = try Spawned(
            BenchSupport.executablePath(), ["tls-sink", "--bytes", String(total)], errorLog: "/dev/null")
        var portLine = ""
        var byte: UInt8 = 0
        while read(sink.output, &byte, 1) == 1, byte != 10 { portLine.append(Character(UnicodeScalar(byte))) }
        guard let port = Int(portLine) else {
            _ = sink.wait()
            throw ClusterError("the TLS sink did not report its port")
        }
        let identity = try NodeIdentity.ephemeral()
        var config = TLSConfiguration.makeClientConfiguration()
        config.minimumTLSVersion = .tlsv13
        config.certificateVerification = .none
        config.certificateChain = [.certificate(try NIOSSLCertificate(bytes: identity.certificateDER, format: .der))]
        config.privateKey = .privateKey(
            try NIOSSLPrivateKey(bytes: Array(identity.privateKey.pemRepresentation.utf8), format: .pem))
        let context = try NIOSSLContext(configuration: config)
        let acknowledged = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: Void.self)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        try NIOSSLClientHandler(context: context, serverHostname: nil))
                    try channel.pipeline.syncOperations.addHandler(AckHandler(promise: acknowledged))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        let block = ByteBuffer(bytes: ByteGenerator.block(count: 1 << 20, seed: 9))
        let clock = ContinuousClock()
        let start = clock.now
        var sent: UInt64 = 0
        var inFlight: [EventLoopFuture<Void>] = []
        while sent < total {
            let count = Int(min(UInt64(block.readableBytes), total - sent))
            inFlight.append(channel.writeAndFlush(block.getSlice(at: 0, length: count)!))
            sent += UInt64(count)
            if inFlight.count >= 4 { try await inFlight.removeFirst().get() }
        }
        for future in inFlight { try await future.get() }
        try await acknowledged.futureResult.get()
        let time = clock.now - start
        try? await channel.close()
        _ = sink.wait()
        return BenchSupport.megabytesPerSecond(total, time)
    }

    private final class AckHandler: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let promise: EventLoopPromise<Void>
        init(promise: EventLoopPromise<Void>) { self.promise = promise }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { promise.succeed(()) }
        func channelInactive(context: ChannelHandlerContext) { promise.fail(ClusterError("the TLS sink closed early")) }
    }

    /// The receiving side: listens on 127.0.0.1, prints its port, takes `total` bytes from one
    /// connection, answers one byte, and returns.
    static func sink(total: UInt64) async throws {
        let identity = try NodeIdentity.ephemeral()
        let certificate = try NIOSSLCertificate(bytes: identity.certificateDER, format: .der)
        let key = try NIOSSLPrivateKey(bytes: Array(identity.privateKey.pemRepresentation.utf8), format: .pem)
        var config = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(certificate)], privateKey: .privateKey(key))
        config.minimumTLSVersion = .tlsv13
        config.certificateVerification = .noHostnameVerification
        let context = try NIOSSLContext(configuration: config)
        let done = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: Void.self)
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        NIOSSLServerHandler(
                            context: context,
                            customVerificationCallback: { _, p in
                                p.succeed(.certificateVerified)
                            }))
                    try channel.pipeline.syncOperations.addHandler(Counter(total: total, done: done))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        FileHandle.standardOutput.write(Data("\(server.localAddress?.port ?? 0)\n".utf8))
        try await done.futureResult.get()
        try await server.close()
    }

    private final class Counter: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let total: UInt64
        let done: EventLoopPromise<Void>
        var received: UInt64 = 0
        init(total: UInt64, done: EventLoopPromise<Void>) {
            self.total = total
            self.done = done
        }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            received += UInt64(unwrapInboundIn(data).readableBytes)
            if received >= total {
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: [1])), promise: nil)
                done.succeed(())
            }
        }
    }
}
