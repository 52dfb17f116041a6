/// A peer as the DHT sees it: who it is and where it listens.
public struct Contact: Hashable, Sendable, CustomStringConvertible {
    public var id: NodeID
    public var address: PeerAddress

    public init(id: NodeID, address: PeerAddress) {
        self.id = id
        self.address = address
    }

    public var description: String { "\(id.short)@\(address)" }
}

/// A `host:port` endpoint. IPv6 hosts are written `[v6]:port`.
public struct PeerAddress: Hashable, Sendable, CustomStringConvertible, Comparable {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port` or `[v6]:port`. The host is printable ASCII, without brackets.
    /// - Throws: `PeerAddress.ParseError` naming what is wrong.
    public init(parsing text: String) throws {
        let trimmed = text.trimmingWhitespace()
        var host: Substring
        var portText: Substring
        if trimmed.hasPrefix("[") {
            guard let close = trimmed.firstIndex(of: "]") else { throw ParseError(text: text, reason: "missing ']'") }
            host = trimmed[trimmed.index(after: trimmed.startIndex)..<close]
            let rest = trimmed[trimmed.index(after: close)...]
            guard rest.hasPrefix(":") else { throw ParseError(text: text, reason: "missing ':port'") }
            portText = rest.dropFirst()
        } else {
            guard let colon = trimmed.lastIndex(of: ":") else {
                throw ParseError(text: text, reason: "missing ':port'")
            }
            host = trimmed[..<colon]
            portText = trimmed[trimmed.index(after: colon)...]
        }
        guard !host.isEmpty else { throw ParseError(text: text, reason: "empty host") }
        // Printable ASCII without brackets, so that `description` always parses back to this address
        // (a host such as ":]" or " a" would print as text that does not, or means another host).
        guard host.utf8.allSatisfy({ (0x21...0x7e).contains($0) && $0 != UInt8(ascii: "[") && $0 != UInt8(ascii: "]") })
        else {
            throw ParseError(
                text: text, reason: "the host may only have printable ASCII characters other than brackets")
        }
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw ParseError(text: text, reason: "port '\(portText)' is not a number from 0 to 65535")
        }
        self.init(host: String(host), port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public static func < (a: PeerAddress, b: PeerAddress) -> Bool { (a.host, a.port) < (b.host, b.port) }

    public struct ParseError: Error, CustomStringConvertible, Equatable {
        public var text: String
        public var reason: String
        public var description: String { "not an address of the form HOST:PORT: '\(text)' (\(reason))" }
    }
}

extension String {
    func trimmingWhitespace() -> Substring {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return s
    }
}
