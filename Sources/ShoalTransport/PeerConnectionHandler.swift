import Logging
import NIOCore
import NIOSSL
import NIOTLS
import ShoalCore
import ShoalWire

/// The last handler of a peer connection's pipeline: runs the Hello exchange, correlates requests
/// with responses, dispatches inbound requests to the node, and applies backpressure.
///
/// Pipeline: TLS → `FrameDecoder` → `FrameEncoder` → this. All state lives on the channel's event
/// loop; other threads reach it through ``PeerConnection``.
final class PeerConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = WireFrame
    typealias OutboundIn = Never
    typealias OutboundOut = WireFrame

    private enum State {
        /// TLS in progress.
        case handshaking
        /// TLS done, our Hello sent, waiting for theirs. Holds the certificate-derived ID.
        case awaitingHello(certificateID: NodeID)
        case ready(PeerInfo)
        case closed
    }

    private struct Pending {
        var promise: EventLoopPromise<WireMessage>
        var timeout: Scheduled<Void>
        var name: String
    }

    private var state: State = .handshaking
    private var context: ChannelHandlerContext?
    private let localHello: Hello
    private let expectedID: NodeID?
    private let inbound: Bool
    private let handler: any PeerRequestHandler
    private let configuration: TransportConfiguration
    private let logger: Logger
    private let ready: EventLoopPromise<PeerInfo>
    /// Resolves when the Hello exchange completes.
    var readyFuture: EventLoopFuture<PeerInfo> { ready.futureResult }
    private var readyCompleted = false
    private let onClose: @Sendable (PeerInfo?) -> Void

    private var pending: [UInt64: Pending] = [:]
    private var nextRequestID: UInt64 = 1
    private var inFlight = 0
    private var readHeld = false
    private var handshakeTimer: Scheduled<Void>?

    init(localHello: Hello, expectedID: NodeID?, inbound: Bool, handler: any PeerRequestHandler,
         configuration: TransportConfiguration, logger: Logger, ready: EventLoopPromise<PeerInfo>,
         onClose: @escaping @Sendable (PeerInfo?) -> Void) {
        self.localHello = localHello
        self.expectedID = expectedID
        self.inbound = inbound
        self.handler = handler
        self.configuration = configuration
        self.logger = logger
        self.ready = ready
        self.onClose = onClose
    }

    var peer: PeerInfo? {
        if case .ready(let info) = state { return info }
        return nil
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        handshakeTimer = context.eventLoop.scheduleTask(in: configuration.handshakeTimeout.timeAmount) {
            let this = loopBound.value
            guard case .ready = this.state else {
                this.logger.info("handshake timed out; closing", metadata: ["peer.remote": "\(this.remoteDescription)"])
                this.close(error: TransportError.timeout(request: "handshake", peer: this.remoteDescription))
                return
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        let info = peer
        state = .closed
        handshakeTimer?.cancel()
        let failure = TransportError.connectionClosed(peer: info?.description ?? remoteDescription)
        failReady(failure)
        let waiting = pending
        pending.removeAll()
        for (_, p) in waiting {
            p.timeout.cancel()
            p.promise.fail(failure)
        }
        onClose(info)
        if let info {
            logger.info("peer disconnected", metadata: ["peer.id": "\(info.nodeID.short)", "peer.address": "\(info.listenAddress?.description ?? "-")"])
            let handler = self.handler
            Task { await handler.peerDisconnected(info) }
        }
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted = tlsEvent, case .handshaking = state {
            do {
                let tls = try context.pipeline.syncOperations.handler(type: NIOSSLHandler.self)
                guard let certificate = tls.peerCertificate else {
                    throw TransportError.protocolViolation("peer presented no certificate")
                }
                let certificateID = try NodeIdentity.nodeID(of: certificate)
                if let expectedID, expectedID != certificateID {
                    throw TransportError.identityMismatch(expected: expectedID, actual: certificateID)
                }
                state = .awaitingHello(certificateID: certificateID)
                context.writeAndFlush(wrapOutboundOut(WireFrame(id: 0, .hello(localHello))), promise: nil)
            } catch {
                close(error: error)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let frameError = error as? FrameError {
            logger.info("closing connection after a bad frame", metadata: ["peer.remote": "\(remoteDescription)", "error": "\(frameError)"])
            sendErrorAndClose(id: frameError.requestID, WireError(frameError.code, frameError.description))
        } else {
            logger.debug("connection error", metadata: ["peer.remote": "\(remoteDescription)", "error": "\(error)"])
            close(error: error)
        }
    }

    // MARK: Inbound frames

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch state {
        case .handshaking, .closed:
            return
        case .awaitingHello(let certificateID):
            receiveHello(frame, certificateID: certificateID)
        case .ready(let info):
            receive(frame, from: info)
        }
    }

    private func receiveHello(_ frame: WireFrame, certificateID: NodeID) {
        guard case .hello(let hello) = frame.message else {
            if case .error(let error) = frame.message {
                close(error: TransportError.protocolViolation("peer refused the handshake: \(error)"))
                return
            }
            sendErrorAndClose(id: 0, WireError(.protocolViolation, "expected Hello, got \(frame.message.name)"))
            return
        }
        guard hello.protocolVersion == shoalProtocolVersion else {
            sendErrorAndClose(id: 0, WireError(.unsupportedVersion,
                "this node speaks protocol version \(shoalProtocolVersion), you sent \(hello.protocolVersion); upgrade the older side"),
                error: TransportError.unsupportedVersion(hello.protocolVersion))
            return
        }
        guard hello.nodeID == certificateID else {
            sendErrorAndClose(id: 0, WireError(.identityMismatch,
                "Hello claims NodeID \(hello.nodeID.hex) but your certificate's key hashes to \(certificateID.hex)"),
                error: TransportError.identityMismatch(expected: certificateID, actual: hello.nodeID))
            return
        }
        handshakeTimer?.cancel()
        let info = PeerInfo(nodeID: certificateID, listenAddress: hello.listenAddress, remoteAddress: remoteDescription,
                            agent: hello.agent, capabilities: hello.capabilities, inbound: inbound)
        state = .ready(info)
        logger.info(inbound ? "peer connected (inbound)" : "peer connected (outbound)",
                    metadata: ["peer.id": "\(info.nodeID.hex)", "peer.address": "\(info.listenAddress?.description ?? "client-only")", "peer.agent": "\(info.agent)"])
        readyCompleted = true
        ready.succeed(info)
        let handler = self.handler
        Task { await handler.peerConnected(info) }
    }

    private func receive(_ frame: WireFrame, from info: PeerInfo) {
        if frame.message.isResponse && frame.id != 0 {
            guard let p = pending.removeValue(forKey: frame.id) else {
                logger.debug("response to an unknown or expired request", metadata: ["request.id": "\(frame.id)", "peer.id": "\(info.nodeID.short)"])
                return
            }
            p.timeout.cancel()
            p.promise.succeed(frame.message)
            return
        }
        if case .error(let error) = frame.message {
            // A connection-level error: the peer is about to close.
            logger.info("peer reported an error", metadata: ["peer.id": "\(info.nodeID.short)", "error": "\(error)"])
            return
        }
        if case .hello = frame.message {
            sendErrorAndClose(id: 0, WireError(.protocolViolation, "Hello sent twice"))
            return
        }
        let handler = self.handler
        let message = frame.message
        // One-way messages count towards the in-flight bound too, so a flood of them stops reads
        // like a flood of requests does.
        inFlight += 1
        let loopBound = NIOLoopBound(self, eventLoop: context!.eventLoop)
        let eventLoop = context!.eventLoop
        let id = frame.id
        Task {
            var response: WireMessage?
            if id == 0 {
                await handler.handleOneWay(message, from: info)
            } else {
                response = await handler.handle(message, from: info)
            }
            eventLoop.execute {
                loopBound.value.finishRequest(id: id, response: response)
            }
        }
    }

    private func finishRequest(id: UInt64, response: WireMessage?) {
        inFlight -= 1
        guard let response else {
            releaseReadIfPossible()
            return
        }
        guard let context, case .ready = state else { return }
        context.writeAndFlush(wrapOutboundOut(WireFrame(id: id, response)), promise: nil)
        releaseReadIfPossible()
    }

    // MARK: Outbound requests

    /// Sends a request and completes `promise` with the response body (or an error).
    func sendRequest(_ message: WireMessage, timeout: Duration, promise: EventLoopPromise<WireMessage>,
                     ticket: RequestTicket? = nil) {
        guard let context, case .ready(let info) = state else {
            promise.fail(TransportError.connectionClosed(peer: remoteDescription))
            return
        }
        let id = nextRequestID
        ticket?.id = id
        nextRequestID &+= 1
        if nextRequestID == 0 { nextRequestID = 1 }
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let name = message.name
        let timer = context.eventLoop.scheduleTask(in: timeout.timeAmount) {
            if let p = loopBound.value.pending.removeValue(forKey: id) {
                p.promise.fail(TransportError.timeout(request: name, peer: info.description))
            }
        }
        pending[id] = Pending(promise: promise, timeout: timer, name: name)
        let writePromise = context.eventLoop.makePromise(of: Void.self)
        writePromise.futureResult.whenFailure { error in
            if let p = loopBound.value.pending.removeValue(forKey: id) {
                p.timeout.cancel()
                p.promise.fail(error)
            }
        }
        context.writeAndFlush(wrapOutboundOut(WireFrame(id: id, message)), promise: writePromise)
    }

    /// Withdraws a request whose caller was cancelled: it fails with `CancellationError`, and a late
    /// answer is dropped as one to an unknown request.
    func cancelRequest(_ ticket: RequestTicket) {
        guard let id = ticket.id, let p = pending.removeValue(forKey: id) else { return }
        p.timeout.cancel()
        p.promise.fail(CancellationError())
    }

    /// Sends a one-way frame (id 0).
    func sendOneWay(_ message: WireMessage) {
        guard let context, case .ready = state else { return }
        context.writeAndFlush(wrapOutboundOut(WireFrame(id: 0, message)), promise: nil)
    }

    func closeGracefully() {
        context?.close(promise: nil)
    }

    // MARK: Backpressure

    func read(context: ChannelHandlerContext) {
        if inFlight >= configuration.maximumInFlightPerConnection || !context.channel.isWritable {
            readHeld = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        releaseReadIfPossible()
        context.fireChannelWritabilityChanged()
    }

    private func releaseReadIfPossible() {
        guard readHeld, let context, inFlight < configuration.maximumInFlightPerConnection, context.channel.isWritable else { return }
        readHeld = false
        context.read()
    }

    // MARK: Helpers

    private var remoteDescription: String {
        context?.channel.remoteAddress?.description ?? "unknown"
    }

    private func sendErrorAndClose(id: UInt64, _ error: WireError, error local: Error? = nil) {
        guard let context else { return }
        if case .closed = state { return }
        let failure = local ?? TransportError.protocolViolation(error.message)
        failReady(failure)
        state = .closed
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(WireFrame(id: id, .error(error)))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    private func failReady(_ error: Error) {
        guard !readyCompleted else { return }
        readyCompleted = true
        ready.fail(error)
    }

    private func close(error: Error) {
        failReady(error)
        context?.close(promise: nil)
    }
}
