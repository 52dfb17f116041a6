import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import ShoalCore
import ShoalTransport
import ShoalWire

/// A peer that does what an attacker does, over the real TLS transport with its own identity:
/// completes the handshake (or not), then sends whatever bytes it likes, and can stop reading.
final class HostilePeer: Sendable {
    let channel: any Channel
    let identity: NodeIdentity
    private let received: NIOLockedValueBox<ByteBuffer>

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let received: NIOLockedValueBox<ByteBuffer>
        init(_ received: NIOLockedValueBox<ByteBuffer>) { self.received = received }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = unwrapInboundIn(data)
            received.withLockedValue { $0.writeBuffer(&bytes) }
        }
        func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }
    }

    private init(channel: any Channel, identity: NodeIdentity, received: NIOLockedValueBox<ByteBuffer>) {
        self.channel = channel
        self.identity = identity
        self.received = received
    }

    /// Connects over TLS and, when `hello` is set, exchanges Hellos (announcing `listenAddress`).
    static func connect(
        port: Int, hello: Bool = true, listenAddress: PeerAddress? = nil,
        identity: NodeIdentity? = nil
    ) async throws -> HostilePeer {
        let identity = try identity ?? .ephemeral()
        var config = TLSConfiguration.makeClientConfiguration()
        config.minimumTLSVersion = .tlsv13
        config.certificateChain = [.certificate(try NIOSSLCertificate(bytes: identity.certificateDER, format: .der))]
        config.privateKey = .privateKey(
            try NIOSSLPrivateKey(bytes: Array(identity.privateKey.pemRepresentation.utf8), format: .pem))
        config.certificateVerification = .none
        config.applicationProtocols = ["shoal/1"]
        let context = try NIOSSLContext(configuration: config)
        let received = NIOLockedValueBox(ByteBuffer())
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.so_rcvbuf), value: 64 << 10)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        try NIOSSLClientHandler(context: context, serverHostname: nil))
                    try channel.pipeline.syncOperations.addHandler(Collector(received))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        let peer = HostilePeer(channel: channel, identity: identity, received: received)
        if hello {
            try await peer.send(WireFrame(id: 0, .hello(Hello(nodeID: identity.nodeID, listenAddress: listenAddress))))
            guard case .hello? = try await peer.nextFrame(timeout: .seconds(20))?.message else {
                throw ClusterError("the node did not answer the hostile peer's Hello")
            }
        }
        return peer
    }

    func send(_ bytes: ByteBuffer) async throws {
        try await channel.writeAndFlush(bytes)
    }

    func send(_ frame: WireFrame) async throws {
        var buffer = ByteBuffer()
        try FrameEncoder.write(frame, to: &buffer)
        try await send(buffer)
    }

    /// Stops taking bytes from the socket: the node's responses pile up on its side.
    func stopReading() async throws {
        try await channel.setOption(.autoRead, value: false)
    }

    var isActive: Bool { channel.isActive }

    func nextFrame(timeout: Duration) async throws -> WireFrame? {
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

    func close() async { try? await channel.close() }
}
