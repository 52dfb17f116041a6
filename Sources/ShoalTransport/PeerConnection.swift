import NIOCore
import ShoalCore
import ShoalWire

/// A handshaken connection to one peer, usable from any thread.
public final class PeerConnection: Sendable, Hashable {
    public let peer: PeerInfo
    /// The address this node dialled to open the connection, `nil` for one the peer dialled. Only
    /// this address is proven to be the peer's: an inbound peer's listen address is only claimed.
    public let dialledAddress: PeerAddress?
    let channel: any Channel
    private let handler: NIOLoopBound<PeerConnectionHandler>

    init(
        peer: PeerInfo, channel: any Channel, handler: NIOLoopBound<PeerConnectionHandler>,
        dialledAddress: PeerAddress? = nil
    ) {
        self.peer = peer
        self.channel = channel
        self.handler = handler
        self.dialledAddress = dialledAddress
    }

    public var isActive: Bool { channel.isActive }

    /// Sends `message` and waits for its response.
    /// - Returns: the response body.
    /// - Throws: `WireError` when the peer answers with an Error frame; ``TransportError`` on timeout
    ///   or when the connection closes first.
    ///   A cancelled task's request is withdrawn at once (a late answer is ignored) and throws
    ///   `CancellationError`.
    public func request(_ message: WireMessage, timeout: Duration) async throws -> WireMessage {
        let promise = channel.eventLoop.makePromise(of: WireMessage.self)
        let handler = self.handler
        let ticket = RequestTicket()
        let loop = channel.eventLoop
        loop.execute {
            handler.value.sendRequest(message, timeout: timeout, promise: promise, ticket: ticket)
        }
        let response = try await withTaskCancellationHandler {
            try await promise.futureResult.get()
        } onCancel: {
            loop.execute { handler.value.cancelRequest(ticket) }
        }
        if case .error(let error) = response { throw error }
        return response
    }

    /// Sends a one-way frame (id 0), such as Gossip LEAVE.
    public func send(oneWay message: WireMessage) {
        let handler = self.handler
        channel.eventLoop.execute { handler.value.sendOneWay(message) }
    }

    /// Sends a one-way frame and returns once it was written to the socket (or could not be: the
    /// connection closed first).
    public func sendWritten(oneWay message: WireMessage) async {
        let handler = self.handler
        let promise = channel.eventLoop.makePromise(of: Void.self)
        channel.eventLoop.execute { handler.value.sendOneWay(message, written: promise) }
        try? await promise.futureResult.get()
    }

    /// Whether the peer announced `capability` in its Hello.
    public func supports(_ capability: String) -> Bool { peer.capabilities.contains(capability) }

    /// Closes the connection.
    public func close() {
        let handler = self.handler
        channel.eventLoop.execute { handler.value.closeGracefully() }
    }

    public static func == (a: PeerConnection, b: PeerConnection) -> Bool { a === b }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}

/// The request id a request got once it was sent, so that a cancelled caller can withdraw it.
/// Touched only on the connection's event loop.
final class RequestTicket: @unchecked Sendable {
    var id: UInt64?
}
