import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import ShoalCore
import ShoalWire

/// The peer-to-peer transport: TCP + mutually authenticated TLS 1.3, length-delimited protobuf
/// frames, one reusable connection per peer, requests correlated by id.
///
/// Each side derives the other's NodeID from its certificate and checks it against the Hello and,
/// when dialling a known contact, against the ID it meant to reach.
public final class Transport: Sendable {
    public let identity: NodeIdentity
    public let configuration: TransportConfiguration
    private let group: any EventLoopGroup
    private let handler: any PeerRequestHandler
    private let logger: Logger
    private let serverContext: NIOSSLContext
    private let clientContext: NIOSSLContext
    let budget: TransportBudget
    private let events = PeerEvents()

    private struct State {
        var serverChannel: (any Channel)?
        var listenAddress: PeerAddress?
        var connections: [NodeID: PeerConnection] = [:]
        var dials: [PeerAddress: EventLoopFuture<PeerConnection>] = [:]
        var shutDown = false
        var blocked: Set<NodeID> = []
        /// Peers refused until the given instant (see `refuse(_:for:)`).
        var refused: [NodeID: ContinuousClock.Instant] = [:]
    }
    private let state = NIOLockedValueBox(State())

    /// - Parameters:
    ///   - identity: this node's key and certificate.
    ///   - handler: answers requests arriving from peers.
    ///   - group: the event loops to run on (defaults to the shared multi-threaded group).
    public init(
        identity: NodeIdentity, configuration: TransportConfiguration = .init(), handler: any PeerRequestHandler,
        logger: Logger, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) throws {
        self.identity = identity
        self.configuration = configuration
        self.handler = handler
        self.logger = logger
        self.group = group
        self.budget = TransportBudget(configuration: configuration)
        let certificate = try NIOSSLCertificate(bytes: identity.certificateDER, format: .der)
        let key = try NIOSSLPrivateKey(bytes: Array(identity.privateKey.pemRepresentation.utf8), format: .pem)

        var server = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(certificate)], privateKey: .privateKey(key))
        server.minimumTLSVersion = .tlsv13
        server.certificateVerification = .noHostnameVerification
        server.applicationProtocols = ["shoal/1"]
        self.serverContext = try NIOSSLContext(configuration: server)

        var client = TLSConfiguration.makeClientConfiguration()
        client.minimumTLSVersion = .tlsv13
        client.certificateChain = [.certificate(certificate)]
        client.privateKey = .privateKey(key)
        client.certificateVerification = .noHostnameVerification
        client.applicationProtocols = ["shoal/1"]
        self.clientContext = try NIOSSLContext(configuration: client)
    }

    public var nodeID: NodeID { identity.nodeID }

    /// The address peers are told to dial, once listening.
    public var listenAddress: PeerAddress? { state.withLockedValue { $0.listenAddress } }

    /// What the resource budget is using, and what it refused.
    public var usage: TransportUsage { budget.snapshot }

    /// Answers inbound requests (each in its own child task, bounded by the in-flight limits) and
    /// reports connections and disconnections in order, until ``shutdown()``. Run it for the life
    /// of the transport; requests that arrive before it runs wait for it.
    public func run() async {
        await withDiscardingTaskGroup { group in
            let handler = self.handler
            group.addTask {
                for await event in self.events.events {
                    switch event {
                    case .connected(let peer): await handler.peerConnected(peer)
                    case .disconnected(let peer): await handler.peerDisconnected(peer)
                    }
                }
            }
            for await job in events.jobs {
                group.addTask {
                    if job.id == 0 {
                        await handler.handleOneWay(job.message, from: job.peer)
                        job.finish(nil)
                    } else {
                        job.finish(await handler.handle(job.message, from: job.peer))
                    }
                }
            }
        }
    }

    /// Peers with an open, handshaken connection.
    public var connectedPeers: [PeerInfo] {
        state.withLockedValue { $0.connections.values.filter(\.isActive).map(\.peer) }
    }

    // MARK: Listening

    /// Starts accepting connections.
    /// - Returns: the bound address (port 0 becomes the actual port).
    @discardableResult
    public func listen(on address: PeerAddress) async throws -> PeerAddress {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 256 << 10, high: 4 << 20))
            .childChannelInitializer { [self] channel in
                let admitted = !state.withLockedValue(\.shutDown) && budget.connections.admit(channel)
                guard admitted else {
                    logger.info(
                        "connection refused: at the connection limit and no idle connection to evict",
                        metadata: ["peer.remote": "\(channel.remoteAddress?.description ?? "?")"])
                    return channel.close()
                }
                channel.closeFuture.whenComplete { [budget] _ in budget.connections.remove(channel) }
                return channel.eventLoop.makeCompletedFuture {
                    let tls = NIOSSLServerHandler(
                        context: serverContext,
                        customVerificationCallback: { certificates, promise in
                            // Any self-signed certificate is acceptable; the NodeID it proves is checked
                            // against the Hello once the handshake completes.
                            promise.succeed(certificates.isEmpty ? .failed : .certificateVerified)
                        })
                    try channel.pipeline.syncOperations.addHandler(tls)
                    _ = try self.addFrameHandlers(to: channel, expectedID: nil, inbound: true)
                }
            }
        let channel = try await bootstrap.bind(host: address.host, port: address.port).get()
        let port = channel.localAddress?.port ?? address.port
        let bound = PeerAddress(host: address.host, port: port)
        let advertised = configuration.advertisedAddress ?? bound
        state.withLockedValue {
            $0.serverChannel = channel
            $0.listenAddress = advertised
        }
        logger.info("listening", metadata: ["node.id": "\(nodeID.hex)", "listen.address": "\(advertised)"])
        return bound
    }

    private func localHello() -> Hello {
        Hello(
            nodeID: nodeID, listenAddress: configuration.announcesListenAddress ? listenAddress : nil,
            capabilities: configuration.capabilities)
    }

    private func addFrameHandlers(
        to channel: any Channel, expectedID: NodeID?, inbound: Bool
    ) throws -> (EventLoopFuture<PeerInfo>, NIOLoopBound<PeerConnectionHandler>) {
        let ready = channel.eventLoop.makePromise(of: PeerInfo.self)
        let progress = FrameProgress()
        let connectionHandler = PeerConnectionHandler(
            localHello: localHello(), expectedID: expectedID, inbound: inbound, events: events, budget: budget,
            progress: progress, logger: logger, ready: ready,
            onClose: { [weak self] info in self?.connectionClosed(info, channel: channel) })
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(
            ByteToMessageHandler(FrameDecoder(maximumFrameSize: configuration.maximumFrameSize, progress: progress)))
        try sync.addHandler(FrameWriter(maximumFrameSize: configuration.maximumFrameSize))
        try sync.addHandler(connectionHandler)
        let bound = NIOLoopBound(connectionHandler, eventLoop: channel.eventLoop)
        if inbound {
            ready.futureResult.whenSuccess { [weak self] info in
                self?.register(PeerConnection(peer: info, channel: channel, handler: bound))
            }
        }
        return (ready.futureResult, bound)
    }

    private func register(_ connection: PeerConnection) {
        if connection.peer.inbound, isRefused(connection.peer.nodeID) {
            connection.close()
            return
        }
        let loser: PeerConnection? = state.withLockedValue { s in
            guard let existing = s.connections[connection.peer.nodeID], existing.isActive, existing !== connection
            else {
                s.connections[connection.peer.nodeID] = connection
                return nil
            }
            // Both sides dialled at once: keep the connection dialled by the smaller NodeID, so
            // both ends agree on one; the other is closed once its in-flight requests had time.
            let existingDialer = existing.peer.inbound ? existing.peer.nodeID : nodeID
            let newDialer = connection.peer.inbound ? connection.peer.nodeID : nodeID
            if newDialer < existingDialer {
                s.connections[connection.peer.nodeID] = connection
                return existing
            }
            return connection
        }
        if let loser {
            loser.channel.eventLoop.scheduleTask(in: configuration.requestTimeout.timeAmount) { loser.close() }
        }
    }

    private func connectionClosed(_ info: PeerInfo?, channel: any Channel) {
        guard let info else { return }
        state.withLockedValue { s in
            if let existing = s.connections[info.nodeID], existing.channel === channel {
                s.connections[info.nodeID] = nil
            }
        }
    }

    // MARK: Dialling

    /// Returns the open connection to `contact`, dialling it if needed.
    /// - Throws: ``TransportError`` when it cannot connect or the peer is not `contact.id`.
    /// Dials of addresses not yet proven to belong to `contact.id` are budgeted (``DialPolicy``).
    public func connection(to contact: Contact) async throws -> PeerConnection {
        try checkReachable(contact.id, contact.address)
        try checkNotRefused(contact.id, contact.address)
        if let existing = state.withLockedValue({ $0.connections[contact.id] }), existing.isActive {
            return existing
        }
        let connection = try await dial(contact.address, expecting: contact.id, budgeted: true)
        return connection
    }

    /// Dials an address whose NodeID may be unknown (bootstrap peers); concurrent dials of one
    /// address share a connection attempt.
    /// - Parameter budgeted: count the dial against the budget of dials to unproven addresses
    ///   (`false` for addresses the operator gave, such as bootstrap peers).
    /// - Parameter provingAddress: reuse only a connection this node dialled to `address` (an
    ///   inbound connection's listen address is only claimed), so that the connection returned
    ///   proves that `address` belongs to its peer.
    public func dial(
        _ address: PeerAddress, expecting expectedID: NodeID?, budgeted: Bool = false, provingAddress: Bool = false
    ) async throws -> PeerConnection {
        let reusable = state.withLockedValue { s in
            s.connections.values.first { c in
                c.isActive && (expectedID == nil || c.peer.nodeID == expectedID)
                    && (provingAddress ? c.dialledAddress == address : c.peer.listenAddress == address)
            }
        }
        if let reusable {
            try checkReachable(reusable.peer.nodeID, address)
            return reusable
        }
        let future: EventLoopFuture<PeerConnection> = try state.withLockedValue { s in
            if s.shutDown { throw TransportError.shutDown }
            if let inProgress = s.dials[address] { return inProgress }
            if let refusal = budget.dials.permit(address, expecting: expectedID, budgeted: budgeted) {
                throw TransportError.connectFailed(address: address, reason: refusal)
            }
            let f = makeDial(address, expecting: expectedID)
            s.dials[address] = f
            return f
        }
        defer {
            state.withLockedValue { s in
                if s.dials[address] === future { s.dials[address] = nil }
            }
        }
        let connection: PeerConnection
        do {
            connection = try await future.get()
        } catch let TransportError.identityMismatch(_, actual) {
            budget.dials.proved(address, is: actual)
            throw TransportError.identityMismatch(expected: expectedID ?? actual, actual: actual)
        } catch {
            budget.dials.failed(address)
            throw error
        }
        budget.dials.proved(address, is: connection.peer.nodeID)
        try checkReachable(connection.peer.nodeID, address)
        if let expectedID, connection.peer.nodeID != expectedID {
            throw TransportError.identityMismatch(expected: expectedID, actual: connection.peer.nodeID)
        }
        return connection
    }

    private func makeDial(_ address: PeerAddress, expecting expectedID: NodeID?) -> EventLoopFuture<PeerConnection> {
        let loop = group.next()
        let bound = loop.makePromise(of: NIOLoopBound<PeerConnectionHandler>.self)
        let clientContext = self.clientContext
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(configuration.connectTimeout.timeAmount)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.writeBufferWaterMark, value: .init(low: 256 << 10, high: 4 << 20))
            .channelInitializer { [self] channel in
                guard budget.connections.admit(channel) else {
                    return channel.eventLoop.makeFailedFuture(
                        TransportError.connectFailed(
                            address: address,
                            reason: "this node is at its connection limit and has no idle connection to close"))
                }
                channel.closeFuture.whenComplete { [budget] _ in budget.connections.remove(channel) }
                return channel.eventLoop.makeCompletedFuture {
                    let tls = try NIOSSLClientHandler(
                        context: clientContext, serverHostname: nil,
                        customVerificationCallback: { certificates, promise in
                            guard let leaf = certificates.first, let id = try? NodeIdentity.nodeID(of: leaf) else {
                                promise.succeed(.failed)
                                return
                            }
                            promise.succeed(expectedID == nil || expectedID == id ? .certificateVerified : .failed)
                        })
                    try channel.pipeline.syncOperations.addHandler(tls)
                    let (_, handler) = try addFrameHandlers(to: channel, expectedID: expectedID, inbound: false)
                    bound.succeed(handler)
                }
            }
        return bootstrap.connect(host: address.host, port: address.port)
            .flatMapErrorThrowing { error in
                bound.fail(error)
                throw TransportError.connectFailed(address: address, reason: "\(error)")
            }
            .flatMap { channel in
                bound.futureResult.flatMap { handler in
                    channel.eventLoop.submit { handler.value.readyFuture }.flatMap { $0 }
                        .map { info in
                            PeerConnection(peer: info, channel: channel, handler: handler, dialledAddress: address)
                        }
                        .flatMapErrorThrowing { error in
                            channel.close(promise: nil)
                            throw error
                        }
                }
            }
            .map { [weak self] connection in
                self?.register(connection)
                return connection
            }
    }

    /// Verifies that `contact.id` listens at `contact.address`: reaches that address over TLS
    /// (reusing only a connection this node dialled there), where the handshake checks that the
    /// certificate's key hashes to `contact.id`, then exchanges a `Ping` and its `Pong`.
    /// - Throws: ``TransportError`` when the address cannot be reached, answers under another
    ///   NodeID or does not answer within `timeout`; `WireError` when it answers with an error.
    public func verify(_ contact: Contact, timeout: Duration) async throws {
        try checkReachable(contact.id, contact.address)
        try checkNotRefused(contact.id, contact.address)
        let connection = try await dial(contact.address, expecting: contact.id, budgeted: true, provingAddress: true)
        let payload = Data("verify".utf8)
        let response = try await connection.request(.ping(payload: payload), timeout: timeout)
        guard case .pong = response else {
            throw TransportError.connectFailed(address: contact.address, reason: "answered \(response.name) to Ping")
        }
    }

    /// Closes every connection with `peer` and refuses it, inbound and outbound, for `duration`.
    public func refuse(_ peer: NodeID, for duration: Duration) {
        let deadline = ContinuousClock.now + duration
        let open: [PeerConnection] = state.withLockedValue { s in
            s.refused[peer] = deadline
            return s.connections.values.filter { $0.peer.nodeID == peer }
        }
        for connection in open { connection.close() }
    }

    /// Whether `peer` is refused now (see ``refuse(_:for:)``).
    public func isRefused(_ peer: NodeID) -> Bool {
        state.withLockedValue { s in
            guard let until = s.refused[peer] else { return false }
            if ContinuousClock.now < until { return true }
            s.refused[peer] = nil
            return false
        }
    }

    private func checkNotRefused(_ id: NodeID, _ address: PeerAddress) throws {
        if isRefused(id) {
            throw TransportError.connectFailed(
                address: address, reason: "refused for a while: its gossip kept failing verification")
        }
    }

    // MARK: Fault injection

    /// Refuses every request to the given peers, as if the network between them were cut. Apply it
    /// on both sides of a simulated partition; `[]` heals it. For tests and failure drills.
    public func simulatePartition(from peers: Set<NodeID>) {
        state.withLockedValue { $0.blocked = peers }
    }

    private func checkReachable(_ id: NodeID, _ address: PeerAddress) throws {
        if state.withLockedValue({ $0.blocked.contains(id) }) {
            throw TransportError.connectFailed(address: address, reason: "partitioned (simulated)")
        }
    }

    // MARK: Requests

    /// Sends a request to `contact` (dialling if needed) and returns the response body.
    /// - Throws: `WireError` if the peer answers with an Error frame, ``TransportError`` otherwise.
    ///   A request that finds its reused connection closed under it (the peer trimmed it as idle
    ///   just as the request went out) is sent once more on a new connection.
    public func request(
        _ message: WireMessage, to contact: Contact, timeout: Duration? = nil
    ) async throws -> WireMessage {
        try await onFreshConnectionIfClosed(to: contact) { connection in
            try await connection.request(message, timeout: timeout ?? self.configuration.requestTimeout)
        }
    }

    /// Runs `body` on the connection to `contact`; if that connection was closed under it, runs it
    /// once more on a new one. A peer closes an idle connection only with nothing in flight on it,
    /// so a request lost that way was never handled and asking again is safe.
    private func onFreshConnectionIfClosed(
        to contact: Contact, _ body: (PeerConnection) async throws -> WireMessage
    ) async throws -> WireMessage {
        let connection = try await connection(to: contact)
        do {
            return try await body(connection)
        } catch TransportError.connectionClosed(let peer) {
            guard !Task.isCancelled else { throw TransportError.connectionClosed(peer: peer) }
            let fresh = try await self.connection(to: contact)
            guard fresh !== connection else { throw TransportError.connectionClosed(peer: peer) }
            return try await body(fresh)
        }
    }

    /// Sends a request to `contact` (dialling if needed) only if it announced `capability` in its
    /// Hello, and returns the response body.
    /// - Throws: ``TransportError/unsupported(capability:peer:)`` when it did not (nothing is
    ///   sent); otherwise as ``request(_:to:timeout:)``.
    public func request(
        _ message: WireMessage, to contact: Contact, requiring capability: String,
        timeout: Duration? = nil
    ) async throws -> WireMessage {
        try await onFreshConnectionIfClosed(to: contact) { connection in
            guard connection.supports(capability) else {
                throw TransportError.unsupported(capability: capability, peer: contact.id.short)
            }
            return try await connection.request(message, timeout: timeout ?? self.configuration.requestTimeout)
        }
    }

    /// Sends a one-way message to `peer` if a connection to it is open and it announced `capability`
    /// (when given); otherwise does nothing.
    public func sendIfConnected(_ message: WireMessage, to peer: NodeID, requiring capability: String? = nil) {
        guard let connection = state.withLockedValue({ $0.connections[peer] }), connection.isActive else { return }
        if let capability, !connection.supports(capability) { return }
        connection.send(oneWay: message)
    }

    /// Sends a one-way message to every connected peer (e.g. Gossip LEAVE).
    public func broadcast(oneWay message: WireMessage) {
        for c in state.withLockedValue({ Array($0.connections.values) }) where c.isActive {
            c.send(oneWay: message)
        }
    }

    /// Stops listening, closes every connection, and ends ``run()``.
    public func shutdown() async {
        let (server, connections) = state.withLockedValue { s -> ((any Channel)?, [PeerConnection]) in
            s.shutDown = true
            return (s.serverChannel, Array(s.connections.values))
        }
        try? await server?.close()
        for c in connections { try? await c.channel.close() }
        events.finish()
    }
}
