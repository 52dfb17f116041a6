import NIOCore
import ShoalCore
import ShoalWire

/// A handshaken connection to one peer, usable from any thread.
public final class PeerConnection: Sendable, Hashable {
    public let peer: PeerInfo
    let channel: any Channel
    private let handler: NIOLoopBound<PeerConnectionHandler>

    init(peer: PeerInfo, channel: any Channel, handler: NIOLoopBound<PeerConnectionHandler>) {
        self.peer = peer
        self.channel = channel
        self.handler = handler
    }

    public var isActive: Bool { channel.isActive }

    /// Sends `message` and waits for its response.
    /// - Returns: the response body.
    /// - Throws: `WireError` when the peer answers with an Error frame; ``TransportError`` on timeout
    ///   or when the connection closes first.
    public func request(_ message: WireMessage, timeout: Duration) async throws -> WireMessage {
        let promise = channel.eventLoop.makePromise(of: WireMessage.self)
        let handler = self.handler
        channel.eventLoop.execute {
            handler.value.sendRequest(message, timeout: timeout, promise: promise)
        }
        let response = try await promise.futureResult.get()
        if case .error(let error) = response { throw error }
        return response
    }

    /// Sends a one-way frame (id 0), such as Gossip LEAVE.
    public func send(oneWay message: WireMessage) {
        let handler = self.handler
        channel.eventLoop.execute { handler.value.sendOneWay(message) }
    }

    /// Closes the connection.
    public func close() {
        let handler = self.handler
        channel.eventLoop.execute { handler.value.closeGracefully() }
    }

    public static func == (a: PeerConnection, b: PeerConnection) -> Bool { a === b }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}
