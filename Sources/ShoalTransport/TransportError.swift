import ShoalCore
import ShoalWire

/// Why a request or connection failed.
public enum TransportError: Error, Equatable, CustomStringConvertible {
    /// No response within the timeout.
    case timeout(request: String, peer: String)
    /// The connection closed before the response arrived.
    case connectionClosed(peer: String)
    /// The peer's certificate or Hello named another node than the one dialled.
    case identityMismatch(expected: NodeID, actual: NodeID)
    /// The peer speaks an incompatible protocol version.
    case unsupportedVersion(UInt32)
    /// The peer broke the protocol (e.g. an unexpected response type).
    case protocolViolation(String)
    /// Could not connect.
    case connectFailed(address: PeerAddress, reason: String)
    /// The transport is shutting down.
    case shutDown
    /// The peer did not announce the capability a message belongs to; nothing was sent.
    case unsupported(capability: String, peer: String)

    public var description: String {
        switch self {
        case .timeout(let request, let peer): return "\(request) to \(peer) timed out"
        case .connectionClosed(let peer): return "connection to \(peer) closed before the answer arrived"
        case .identityMismatch(let expected, let actual):
            return "peer identity mismatch: dialled \(expected.short), certificate says \(actual.short)"
        case .unsupportedVersion(let v):
            return "peer speaks protocol version \(v), this node speaks \(shoalProtocolVersion)"
        case .protocolViolation(let why): return "protocol violation: \(why)"
        case .connectFailed(let address, let reason): return "cannot connect to \(address): \(reason)"
        case .shutDown: return "the transport is shut down"
        case .unsupported(let capability, let peer):
            return "\(peer) does not announce the \"\(capability)\" capability; not sent"
        }
    }
}

/// Who is on the other end of a connection, established by TLS and Hello.
public struct PeerInfo: Sendable, Hashable, CustomStringConvertible {
    public var nodeID: NodeID
    /// Where the peer accepts connections; `nil` for a client-only peer.
    public var listenAddress: PeerAddress?
    /// The socket address the connection comes from or goes to.
    public var remoteAddress: String
    public var agent: String
    public var capabilities: [String]
    /// `true` if the peer dialled us.
    public var inbound: Bool

    public init(
        nodeID: NodeID, listenAddress: PeerAddress?, remoteAddress: String, agent: String, capabilities: [String],
        inbound: Bool
    ) {
        self.nodeID = nodeID
        self.listenAddress = listenAddress
        self.remoteAddress = remoteAddress
        self.agent = agent
        self.capabilities = capabilities
        self.inbound = inbound
    }

    /// The peer as a DHT contact, if it listens.
    public var contact: Contact? { listenAddress.map { Contact(id: nodeID, address: $0) } }

    public var description: String { "\(nodeID.short)@\(listenAddress?.description ?? remoteAddress)" }
}

/// What the node does with requests arriving from peers.
public protocol PeerRequestHandler: Sendable {
    /// Answers one request. Called concurrently; must return a response body (`.error(…)` for failures).
    func handle(_ request: WireMessage, from peer: PeerInfo) async -> WireMessage
    /// A one-way message (frame id 0), such as Gossip LEAVE.
    func handleOneWay(_ message: WireMessage, from peer: PeerInfo) async
    /// A connection completed its handshake.
    func peerConnected(_ peer: PeerInfo) async
    /// A connection closed.
    func peerDisconnected(_ peer: PeerInfo) async
}

extension PeerRequestHandler {
    public func handleOneWay(_ message: WireMessage, from peer: PeerInfo) async {}
    public func peerConnected(_ peer: PeerInfo) async {}
    public func peerDisconnected(_ peer: PeerInfo) async {}
}
