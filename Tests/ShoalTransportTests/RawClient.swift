import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import ShoalCore
import ShoalTransport
import ShoalWire

/// A test client that speaks raw bytes, optionally over TLS with a chosen identity, so tests can
/// send what a well-behaved peer never would.
final class RawClient: Sendable {
    let channel: any Channel
    private let received: NIOLockedValueBox<ByteBuffer>

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let received: NIOLockedValueBox<ByteBuffer>
        init(_ received: NIOLockedValueBox<ByteBuffer>) { self.received = received }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = unwrapInboundIn(data)
            received.withLockedValue { $0.writeBuffer(&bytes) }
        }
        func errorCaught(context: ChannelHandlerContext, error: Error) {
            context.close(promise: nil)
        }
    }

    private init(channel: any Channel, received: NIOLockedValueBox<ByteBuffer>) {
        self.channel = channel
        self.received = received
    }

    /// Connects to `address`, over TLS presenting `identity`'s certificate when given.
    static func connect(to address: PeerAddress, tls identity: NodeIdentity?) async throws -> RawClient {
        let received = NIOLockedValueBox(ByteBuffer())
        var sslContext: NIOSSLContext?
        if let identity {
            var config = TLSConfiguration.makeClientConfiguration()
            config.minimumTLSVersion = .tlsv13
            config.certificateChain = [
                .certificate(try NIOSSLCertificate(bytes: identity.certificateDER, format: .der))
            ]
            config.privateKey = .privateKey(
                try NIOSSLPrivateKey(bytes: Array(identity.privateKey.pemRepresentation.utf8), format: .pem))
            config.certificateVerification = .none
            sslContext = try NIOSSLContext(configuration: config)
        }
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: sslContext, serverHostname: nil))
                    }
                    try channel.pipeline.syncOperations.addHandler(Collector(received))
                }
            }
            .connect(host: address.host, port: address.port).get()
        return RawClient(channel: channel, received: received)
    }

    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    func send(_ frame: WireFrame) async throws {
        try await send(try FrameEncoder.encode(frame))
    }

    /// Waits up to `timeout` for the next whole frame.
    func nextFrame(timeout: Duration = .seconds(10)) async throws -> WireFrame? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let frame = try received.withLockedValue { buffer in
                try FrameDecoder.readFrame(from: &buffer, maximumFrameSize: WireLimits.maximumFrameSize)
            }
            if let frame { return frame }
            if !channel.isActive { return nil }
            try await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }

    /// Waits up to `timeout` for the connection to close; returns whether it did.
    func waitForClose(timeout: Duration = .seconds(10)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if !channel.isActive { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return !channel.isActive
    }

    func close() async { try? await channel.close() }
}
