import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ShoalCore
import ShoalTransport
import ShoalWire

/// A peer speaking the real protocol over the real transport (TLS, Hello) that claims to hold
/// objects and serves them with one byte flipped: a lying or broken replica. It answers pings and
/// SWIM probes so that it stays in routing tables and membership.
final class LyingPeer: PeerRequestHandler {
    private struct State {
        var objects: [ContentID: [UInt8]] = [:]
        var corruptServed = 0
        var valueQueries = 0
    }
    private let state = NIOLockedValueBox(State())

    /// Objects the peer claims to hold; it serves them corrupted.
    func add(_ id: ContentID, bytes: [UInt8]) { state.withLockedValue { $0.objects[id] = bytes } }

    /// How many corrupted objects it has served.
    var corruptServed: Int { state.withLockedValue { $0.corruptServed } }
    /// How many FindValue requests it answered "held".
    var valueQueries: Int { state.withLockedValue { $0.valueQueries } }

    func handle(_ request: WireMessage, from peer: PeerInfo) async -> WireMessage {
        switch request {
        case .ping(let payload):
            return .pong(payload: payload)
        case .findNode:
            return .nodes([])
        case .findValue(let key):
            let size: Int? = state.withLockedValue { s in
                guard let bytes = s.objects[key] else { return nil }
                s.valueQueries += 1
                return bytes.count
            }
            guard let size else { return .valueResult(ValueResult(held: false)) }
            return .valueResult(ValueResult(held: true, size: UInt64(size)))
        case .getChunk(let get):
            let bytes: [UInt8]? = state.withLockedValue { s in
                guard var bytes = s.objects[get.id] else { return nil }
                s.corruptServed += 1
                if bytes.isEmpty { bytes = [0] } else { bytes[bytes.count / 2] ^= 0x01 }
                return bytes
            }
            guard let bytes else { return .error(WireError(.notFound, "not held")) }
            return .chunkData(
                ChunkData(id: get.id, offset: 0, totalSize: UInt64(bytes.count), data: ByteBuffer(bytes: bytes)))
        case .gossip(let gossip) where gossip.kind == .probe:
            return .gossip(GossipMessage(kind: .ack))
        case .gossip:
            return .gossip(GossipMessage(kind: .nack))
        case .storeChunk:
            return .storeAck(StoreAck(stored: false, reason: "this peer stores nothing"))
        default:
            return .error(WireError(.badRequest, "not supported by this peer"))
        }
    }
}
