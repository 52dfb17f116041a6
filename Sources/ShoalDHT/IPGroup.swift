import ShoalCore

/// The network group a peer's address belongs to, for IP-diversity caps against eclipse attacks.
///
/// Following libp2p's IP diversity filter, peers are grouped by the /24 prefix of an IPv4 address
/// and the /48 prefix of an IPv6 address; a peer known only by a DNS name is grouped by that
/// (lower-cased) name, since pure code cannot resolve it. Loopback, private and link-local
/// addresses (and the name `localhost`) belong to no group: caps do not apply to them, so tests and
/// private clusters can run many nodes on one host.
public enum IPGroup: Hashable, Sendable, CustomStringConvertible {
    /// The upper 24 bits of an IPv4 address.
    case ipv4(prefix24: UInt32)
    /// The upper 48 bits of an IPv6 address.
    case ipv6(prefix48: UInt64)
    /// A host given by name.
    case hostname(String)

    /// The group of `host`, or `nil` when IP-diversity caps do not apply to it.
    /// - Parameter host: a `PeerAddress.host`: an IPv4 or IPv6 literal or a DNS name.
    /// - Returns: the group, or `nil` for loopback, private and link-local addresses and `localhost`.
    public static func of(host: String) -> IPGroup? {
        if let ip = IPAddress(host) {
            if ip.isLoopbackOrPrivate { return nil }
            switch ip {
            case .v4(let a): return .ipv4(prefix24: a >> 8)
            case .v6(let high, _): return .ipv6(prefix48: high >> 16)
            }
        }
        let name = host.lowercased()
        if name == "localhost" || name.hasSuffix(".localhost") { return nil }
        return .hostname(name)
    }

    /// The group of `address.host`; see ``of(host:)``.
    public static func of(_ address: PeerAddress) -> IPGroup? {
        of(host: address.host)
    }

    public var description: String {
        switch self {
        case .ipv4(let p): return "\(p >> 16).\((p >> 8) & 0xff).\(p & 0xff).0/24"
        case .ipv6(let p):
            let a = String((p >> 32) & 0xffff, radix: 16)
            let b = String((p >> 16) & 0xffff, radix: 16)
            let c = String(p & 0xffff, radix: 16)
            return "\(a):\(b):\(c)::/48"
        case .hostname(let name): return name
        }
    }
}
