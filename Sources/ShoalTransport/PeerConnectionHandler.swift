import Logging
import NIOCore
import NIOSSL
import NIOTLS
import ShoalCore
import ShoalWire

/// The last handler of a peer connection's pipeline: runs the Hello exchange, correlates requests
/// with responses, hands inbound requests to the node, and keeps the connection within the
/// transport's budget (``TransportBudget``):
/// - reads stop while the requests in flight, the responses queued to this peer, or the node's
///   queued responses are over their bounds, and while the next large frame has no room in the
///   node's inbound budget;
/// - requests beyond the in-flight bounds wait in a short backlog (frames already decoded from
///   one read); beyond that they are answered `OVERLOADED`;
/// - a frame that does not finish within the frame timeout, a connection idle past the idle
///   timeout, and a peer that takes none of its queued responses for the stalled-reader timeout
///   are disconnected.
///
/// Pipeline: TLS → `FrameDecoder` → `FrameWriter` → this. All state lives on the channel's event
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
    private let events: PeerEvents
    private let budget: TransportBudget
    private var configuration: TransportConfiguration { budget.configuration }
    private let progress: FrameProgress
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
    private var housekeeping: RepeatedTask?
    private var lastActive = NIODeadline.now()
    /// Inbound bytes reserved for the frame being received, and which frame that is.
    private var reservation = 0
    private var reservedFrame = 0
    private var awaitingRoom = false
    /// Response bytes written to this peer and not yet taken, and when it last took some.
    private var queuedOut = 0
    private var lastDrain = NIODeadline.now()
    /// Outbound room reserved for the answers of requests being handled.
    private var reservedOut = 0
    private var awaitingOutbound = false
    /// A close was asked for (TLS may take a few seconds to finish it).
    private var closing = false
    /// Requests decoded while the in-flight bounds were reached, waiting their turn; each holds
    /// its share of the node's inbound budget.
    private var backlog: [(frame: WireFrame, held: Int)] = []
    private var backlogHead = 0
    private var backlogBytes = 0
    /// The most bytes of small waiting requests one connection holds.
    static let backlogLimit = 2 << 20
    /// What a small waiting request is charged.
    static let smallFrameCharge = 128

    init(
        localHello: Hello, expectedID: NodeID?, inbound: Bool, events: PeerEvents, budget: TransportBudget,
        progress: FrameProgress, logger: Logger, ready: EventLoopPromise<PeerInfo>,
        onClose: @escaping @Sendable (PeerInfo?) -> Void
    ) {
        self.localHello = localHello
        self.expectedID = expectedID
        self.inbound = inbound
        self.events = events
        self.budget = budget
        self.progress = progress
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
        housekeeping = context.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
            loopBound.value.checkLimits()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        let info = peer
        state = .closed
        handshakeTimer?.cancel()
        housekeeping?.cancel()
        releaseReservation()
        for (_, held) in backlog[backlogHead...] { budget.inbound.release(held) }
        backlog.removeAll()
        backlogHead = 0
        backlogBytes = 0
        if queuedOut + reservedOut > 0 {
            // Answers still being prepared release their reservation when they finish.
            budget.outbound.release(queuedOut)
            queuedOut = 0
        }
        let failure = TransportError.connectionClosed(peer: info?.description ?? remoteDescription)
        failReady(failure)
        let waiting = pending
        pending.removeAll()
        for (_, p) in waiting {
            p.timeout.cancel()
            p.promise.fail(failure)
        }
        budget.connections.remove(context.channel)
        onClose(info)
        if let info {
            logger.info(
                "peer disconnected",
                metadata: [
                    "peer.id": "\(info.nodeID.short)", "peer.address": "\(info.listenAddress?.description ?? "-")",
                ])
            events.post(.disconnected(info))
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
            logger.info(
                "closing connection after a bad frame",
                metadata: ["peer.remote": "\(remoteDescription)", "error": "\(frameError)"])
            sendErrorAndClose(id: frameError.requestID, WireError(frameError.code, frameError.description))
        } else {
            logger.debug("connection error", metadata: ["peer.remote": "\(remoteDescription)", "error": "\(error)"])
            close(error: error)
        }
    }

    // MARK: Inbound frames

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        touch(usedByUs: false)
        // The inbound room reserved for this frame goes with it until it has been handled.
        var held = 0
        if reservation > 0, progress.framesDecoded == reservedFrame {
            held = reservation
            reservation = 0
        }
        switch state {
        case .handshaking, .closed:
            budget.inbound.release(held)
        case .awaitingHello(let certificateID):
            budget.inbound.release(held)
            receiveHello(frame, certificateID: certificateID)
        case .ready(let info):
            receive(frame, from: info, holding: held)
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
            sendErrorAndClose(
                id: 0,
                WireError(
                    .unsupportedVersion,
                    "this node speaks protocol version \(shoalProtocolVersion), you sent \(hello.protocolVersion); upgrade the older side"
                ),
                error: TransportError.unsupportedVersion(hello.protocolVersion))
            return
        }
        guard hello.nodeID == certificateID else {
            sendErrorAndClose(
                id: 0,
                WireError(
                    .identityMismatch,
                    "Hello claims NodeID \(hello.nodeID.hex) but your certificate's key hashes to \(certificateID.hex)"),
                error: TransportError.identityMismatch(expected: certificateID, actual: hello.nodeID))
            return
        }
        handshakeTimer?.cancel()
        let info = PeerInfo(
            nodeID: certificateID, listenAddress: hello.listenAddress, remoteAddress: remoteDescription,
            agent: hello.agent, capabilities: hello.capabilities, inbound: inbound)
        state = .ready(info)
        if let context { budget.connections.handshakeCompleted(context.channel) }
        logger.info(
            inbound ? "peer connected (inbound)" : "peer connected (outbound)",
            metadata: [
                "peer.id": "\(info.nodeID.hex)", "peer.address": "\(info.listenAddress?.description ?? "client-only")",
                "peer.agent": "\(info.agent)",
            ])
        readyCompleted = true
        ready.succeed(info)
        events.post(.connected(info))
    }

    private func receive(_ frame: WireFrame, from info: PeerInfo, holding held: Int) {
        if frame.message.isResponse && frame.id != 0 {
            budget.inbound.release(held)
            guard let p = pending.removeValue(forKey: frame.id) else {
                logger.debug(
                    "response to an unknown or expired request",
                    metadata: ["request.id": "\(frame.id)", "peer.id": "\(info.nodeID.short)"])
                return
            }
            p.timeout.cancel()
            p.promise.succeed(frame.message)
            return
        }
        if case .error(let error) = frame.message {
            budget.inbound.release(held)
            // A connection-level error: the peer is about to close.
            logger.info("peer reported an error", metadata: ["peer.id": "\(info.nodeID.short)", "error": "\(error)"])
            return
        }
        if case .hello = frame.message {
            budget.inbound.release(held)
            sendErrorAndClose(id: 0, WireError(.protocolViolation, "Hello sent twice"))
            return
        }
        // Every frame is checked against the bounds, not just every read: one read may hold many.
        if backlog.count - backlogHead > 0 || !startRequest(frame.message) {
            let charge = held > 0 ? 0 : Self.smallFrameCharge
            guard backlogBytes + charge <= Self.backlogLimit, charge == 0 || budget.inbound.tryReserve(charge) else {
                budget.inbound.release(held)
                budget.count(\.overloaded)
                if frame.id != 0 {
                    write(
                        WireFrame(
                            id: frame.id, .error(WireError(.overloaded, "too many requests in flight; retry later"))))
                }
                return
            }
            backlogBytes += charge
            backlog.append((frame, held + charge))
            return
        }
        dispatch(frame, from: info, holding: held)
    }

    /// Takes what a request needs to be handled now: an in-flight slot on this connection and on
    /// the node (one-way messages count too, so a flood of them stops reads like a flood of
    /// requests does) and, for a request whose answer carries object bytes, room for that answer
    /// in this peer's and the node's outbound budgets. So a peer that asks for many large objects
    /// and reads nothing gets only as many read from disk as its budget holds.
    /// - Returns: `false` when the request has to wait (nothing was taken).
    private func startRequest(_ message: WireMessage) -> Bool {
        guard inFlight < configuration.maximumInFlightPerConnection else { return false }
        let cost = message.responseBound
        if cost > 0 {
            let committed = queuedOut + reservedOut
            guard committed == 0 || committed + cost <= configuration.maximumOutboundBytesPerConnection else {
                return false
            }
            guard budget.outbound.tryReserve(cost) else {
                waitForOutboundRoom()
                return false
            }
        }
        guard budget.startRequest() else {
            if cost > 0 { budget.outbound.release(cost) }
            return false
        }
        reservedOut += cost
        return true
    }

    /// Asks to be told when the node's outbound budget has room again (once at a time).
    private func waitForOutboundRoom() {
        guard !awaitingOutbound, let context else { return }
        awaitingOutbound = true
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loop = context.eventLoop
        budget.outbound.whenBelowLimit {
            loop.execute {
                let this = loopBound.value
                this.awaitingOutbound = false
                this.drainBacklog()
                this.releaseReadIfPossible()
            }
        }
    }

    /// Hands waiting requests to the node as slots and room free up.
    private func drainBacklog() {
        guard case .ready(let info) = state else { return }
        while backlogHead < backlog.count, startRequest(backlog[backlogHead].frame.message) {
            let (frame, held) = backlog[backlogHead]
            backlogHead += 1
            if held == Self.smallFrameCharge { backlogBytes -= held }
            dispatch(frame, from: info, holding: held)
        }
        if backlogHead == backlog.count {
            backlog.removeAll(keepingCapacity: true)
            backlogHead = 0
        }
    }

    private func dispatch(_ frame: WireFrame, from info: PeerInfo, holding held: Int) {
        inFlight += 1
        touch(usedByUs: false)
        let loopBound = NIOLoopBound(self, eventLoop: context!.eventLoop)
        let eventLoop = context!.eventLoop
        let id = frame.id
        let prepaid = frame.message.responseBound
        events.submit(
            PeerEvents.Job(message: frame.message, id: id, peer: info) { response in
                eventLoop.execute {
                    loopBound.value.finishRequest(id: id, response: response, held: held, prepaid: prepaid)
                }
            })
    }

    private func finishRequest(id: UInt64, response: WireMessage?, held: Int, prepaid: Int) {
        inFlight -= 1
        reservedOut -= prepaid
        budget.finishRequest()
        budget.inbound.release(held)
        if let response, case .ready = state {
            write(WireFrame(id: id, response), countedAsResponse: true, prepaid: prepaid)
        } else if prepaid > 0 {
            budget.outbound.release(prepaid)
        }
        touch(usedByUs: false)
        drainBacklog()
        releaseReadIfPossible()
    }

    /// Writes and flushes one frame; a response's bytes count against the outbound budgets until
    /// the peer has taken them (`prepaid` of them were reserved before the request was handled).
    private func write(_ frame: WireFrame, countedAsResponse: Bool = false, prepaid: Int = 0) {
        guard let context else { return }
        guard countedAsResponse else {
            context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
            return
        }
        let size = frame.message.approximateSize
        if size > prepaid {
            budget.outbound.charge(size - prepaid)
        } else if prepaid > size {
            budget.outbound.release(prepaid - size)
        }
        if queuedOut == 0 { lastDrain = .now() }
        queuedOut += size
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let promise = context.eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenComplete { _ in
            let this = loopBound.value
            guard this.queuedOut >= size else { return }
            this.queuedOut -= size
            this.lastDrain = .now()
            this.budget.outbound.release(size)
            this.drainBacklog()
            this.releaseReadIfPossible()
        }
        context.writeAndFlush(wrapOutboundOut(frame), promise: promise)
    }

    // MARK: Outbound requests

    /// Sends a request and completes `promise` with the response body (or an error).
    func sendRequest(
        _ message: WireMessage, timeout: Duration, promise: EventLoopPromise<WireMessage>,
        ticket: RequestTicket? = nil
    ) {
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
        touch(usedByUs: true)
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
    func sendOneWay(_ message: WireMessage, written: EventLoopPromise<Void>? = nil) {
        guard case .ready = state, let context else {
            written?.succeed()
            return
        }
        touch(usedByUs: true)
        context.writeAndFlush(wrapOutboundOut(WireFrame(id: 0, message)), promise: written)
    }

    func closeGracefully() {
        context?.close(promise: nil)
    }

    // MARK: Backpressure and limits

    func read(context: ChannelHandlerContext) {
        if shouldHoldReads(context) {
            readHeld = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        releaseReadIfPossible()
        context.fireChannelWritabilityChanged()
    }

    private func shouldHoldReads(_ context: ChannelHandlerContext) -> Bool {
        if inFlight >= configuration.maximumInFlightPerConnection || backlogHead < backlog.count
            || !context.channel.isWritable
        {
            return true
        }
        if queuedOut + reservedOut > configuration.maximumOutboundBytesPerConnection { return true }
        if budget.outbound.isOverLimit {
            let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
            let loop = context.eventLoop
            budget.outbound.whenBelowLimit { loop.execute { loopBound.value.releaseReadIfPossible() } }
            return true
        }
        return !haveRoomForNextFrame(context)
    }

    /// Reserves inbound room for a large frame being received before reading more of it. Frames
    /// that may be answers to this node's own requests are not held back: this node bounds those
    /// itself.
    private func haveRoomForNextFrame(_ context: ChannelHandlerContext) -> Bool {
        if awaitingRoom { return false }
        guard reservation == 0, pending.isEmpty, let length = progress.announcedLength,
            length > configuration.unreservedFrameSize
        else { return true }
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loop = context.eventLoop
        let frame = progress.framesDecoded + 1
        let budget = self.budget
        let reserved = budget.inbound.reserve(length) {
            loop.execute {
                let this = loopBound.value
                this.awaitingRoom = false
                guard case .ready = this.state else {
                    budget.inbound.release(length)
                    return
                }
                this.reservation = length
                this.reservedFrame = frame
                this.releaseReadIfPossible()
            }
        }
        if reserved {
            reservation = length
            reservedFrame = frame
            return true
        }
        awaitingRoom = true
        return false
    }

    private func releaseReservation() {
        if reservation > 0 {
            budget.inbound.release(reservation)
            reservation = 0
        }
    }

    private func releaseReadIfPossible() {
        guard readHeld, let context, !shouldHoldReads(context) else { return }
        readHeld = false
        context.read()
    }

    /// Runs every second: closes the connection when a frame takes too long to arrive, when it has
    /// been idle too long, or when the peer stopped taking its responses.
    private func checkLimits() {
        guard let context, case .ready = state, !closing else { return }
        let now = NIODeadline.now()
        if let started = progress.startedAt, !awaitingRoom, now - started > configuration.frameTimeout.timeAmount {
            budget.count(\.frameTimeouts)
            logger.info("a frame took too long to arrive; closing", metadata: ["peer.remote": "\(remoteDescription)"])
            close(error: TransportError.timeout(request: "frame", peer: remoteDescription))
            return
        }
        if queuedOut > 0, now - lastDrain > configuration.stalledReaderTimeout.timeAmount {
            budget.count(\.stalledReaders)
            logger.info(
                "peer does not read its responses; closing",
                metadata: ["peer.remote": "\(remoteDescription)", "queued": "\(queuedOut)"])
            close(error: TransportError.timeout(request: "response delivery", peer: remoteDescription))
            return
        }
        if inFlight == 0, pending.isEmpty, queuedOut == 0, progress.startedAt == nil,
            now - lastActive > configuration.idleTimeout.timeAmount
        {
            budget.count(\.idleClosed)
            closing = true
            context.close(promise: nil)
        }
    }

    private func touch(usedByUs: Bool) {
        lastActive = .now()
        guard let context else { return }
        budget.connections.update(context.channel, busy: inFlight + pending.count, usedByUs: usedByUs)
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
        closing = true
        context?.close(promise: nil)
    }
}

extension WireMessage {
    /// The most bytes the answer to this request can carry, when that is object data (0 for the
    /// rest): what is reserved in the outbound budgets before it is handled.
    var responseBound: Int {
        guard case .getChunk(let get) = self else { return 0 }
        let whole = ObjectSize.maximum
        return (get.length == 0 ? whole : Int(min(get.length, UInt64(whole)))) + 64
    }

    /// About how many bytes this body takes on the wire (exact for object data, a small allowance
    /// for the rest), for the outbound budget.
    var approximateSize: Int {
        switch self {
        case .chunkData(let c): return c.data.readableBytes + 64
        case .storeChunk(let s): return s.data.readableBytes + 128 + 80 * s.claims.count
        case .nodes(let contacts): return 64 + 300 * contacts.count
        default: return 256
        }
    }
}
