import ShoalCore

/// A SWIM message as it travels between nodes; it mirrors the wire's `Gossip` body
/// (`kind`, `target`, `updates`). Every message carries piggybacked membership updates.
public enum SWIMMessage: Hashable, Sendable, CustomStringConvertible {
    /// Request: are you alive? Answered by `.ack`.
    case probe(updates: [MemberUpdate])
    /// Request: probe `target` for me. Answered by `.ack` (the target answered) or `.nack`.
    case probeRequest(target: Contact, updates: [MemberUpdate])
    /// Response: alive (to a probe), or the target answered (to a probe request).
    case ack(updates: [MemberUpdate])
    /// Response to a probe request: the target did not answer in time.
    case nack(updates: [MemberUpdate])
    /// One-way notice: the sender is leaving the cluster.
    case leave(updates: [MemberUpdate])

    /// The piggybacked updates.
    public var updates: [MemberUpdate] {
        switch self {
        case .probe(let u), .probeRequest(_, let u), .ack(let u), .nack(let u), .leave(let u): return u
        }
    }

    public var description: String {
        switch self {
        case .probe(let u): return "probe(\(u.count) updates)"
        case .probeRequest(let t, let u): return "probeRequest(\(t), \(u.count) updates)"
        case .ack(let u): return "ack(\(u.count) updates)"
        case .nack(let u): return "nack(\(u.count) updates)"
        case .leave(let u): return "leave(\(u.count) updates)"
        }
    }
}
