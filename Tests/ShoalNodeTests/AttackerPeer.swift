import Foundation
import Logging
import ShoalCore
import ShoalTransport
import ShoalWire

/// A peer with its own identity and listen address that speaks the real protocol (TLS, Hello) and
/// sends whatever a test asks, including what no honest node would send. It answers pings and
/// probes so that it looks alive.
final class AttackerPeer: Sendable {
    let transport: Transport
    let contact: Contact

    private struct Responder: PeerRequestHandler {
        func handle(_ request: WireMessage, from peer: PeerInfo) async -> WireMessage {
            switch request {
            case .ping(let payload): return .pong(payload: payload)
            case .gossip(let gossip) where gossip.kind == .probe: return .gossip(GossipMessage(kind: .ack))
            case .gossip: return .gossip(GossipMessage(kind: .nack))
            case .findNode: return .nodes([])
            default: return .error(WireError(.badRequest, "not supported by this peer"))
            }
        }
    }

    private init(transport: Transport, contact: Contact) {
        self.transport = transport
        self.contact = contact
    }

    /// Starts listening on `host` (a free port).
    static func start(
        host: String = "127.0.0.1", configure: (inout TransportConfiguration) -> Void = { _ in }
    ) async throws -> AttackerPeer {
        var configuration = TransportConfiguration()
        configure(&configuration)
        var logger = Logger(label: "shoal.test.attacker")
        logger.logLevel = .critical
        let transport = try Transport(
            identity: try .ephemeral(), configuration: configuration, handler: Responder(), logger: logger)
        Task { await transport.run() }
        let bound = try await transport.listen(on: PeerAddress(host: host, port: 0))
        return AttackerPeer(transport: transport, contact: Contact(id: transport.nodeID, address: bound))
    }

    var identity: NodeIdentity { transport.identity }

    /// Sends one request to `node` and returns its answer (an `Error` body is thrown as `WireError`).
    func send(_ message: WireMessage, to node: Contact, timeout: Duration = .seconds(10)) async throws -> WireMessage {
        try await transport.request(message, to: node, timeout: timeout)
    }

    /// A Delete signed with this peer's key, carrying any `issuedAt`.
    func signedDelete(root: ContentID, objects: [ContentID], issuedAt: Int64) throws -> DeleteRequest {
        let statement = DeleteRequest.statementBytes(root: root, objects: objects, issuedAt: issuedAt)
        let signature = try OwnerSignature.sign(message: statement, with: identity.privateKey)
        return DeleteRequest(
            root: root, objects: objects, issuedAt: issuedAt, ownerKey: identity.ownerPublicKey,
            signature: Data(signature))
    }

    func stop() async { await transport.shutdown() }
}
