/// A file's address: the ID of its root manifest, plus, for a private file, the key that reads it.
///
/// Text form: a public file is the 64 hex digits of its root ID alone; a private file is
/// `<root hex>.<key>` where the key is 32 bytes in unpadded base64url (43 characters). This is a
/// read capability: anyone holding the string can read the file, so share it like a password.
public struct FileAddress: Hashable, Sendable, CustomStringConvertible {
    public var root: ContentID
    public var key: FileKey?

    public init(root: ContentID, key: FileKey?) {
        self.root = root
        self.key = key
    }

    public var isPublic: Bool { key == nil }

    public var description: String {
        guard let key else { return root.hex }
        return root.hex + "." + Base64URL.encode(key.bytes)
    }

    /// Parses the text form.
    /// - Throws: ``AddressError`` saying exactly what is wrong.
    public init(parsing text: String) throws {
        var s = text.trimmingWhitespace()
        if s.hasPrefix("shoal:") { s = s.dropFirst(6) }
        guard !s.isEmpty else { throw AddressError.empty }
        let parts = s.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let hex = parts[0]
        guard hex.count == 64 else {
            throw AddressError.notAnAddress(
                text: String(text.prefix(80)), reason: "the hash is \(hex.count) characters, expected 64 hex digits")
        }
        guard let root = Key256(hex: hex) else {
            throw AddressError.notAnAddress(
                text: String(text.prefix(80)), reason: "the hash has a character that is not a hex digit")
        }
        if parts.count == 1 {
            self.init(root: root, key: nil)
            return
        }
        guard let keyBytes = Base64URL.decode(parts[1]) else {
            throw AddressError.notAnAddress(text: String(text.prefix(80)), reason: "the key is not base64url")
        }
        self.init(root: root, key: try FileKey(bytes: keyBytes))
    }
}

public enum AddressError: Error, Equatable, CustomStringConvertible {
    case empty
    case notAnAddress(text: String, reason: String)
    case badKeyLength(Int)

    public var description: String {
        switch self {
        case .empty: return "not a Shoal address: empty"
        case .notAnAddress(let text, let reason): return "not a Shoal address: '\(text)': \(reason)"
        case .badKeyLength(let n): return "key is \(n) bytes, expected \(FileKey.byteCount)"
        }
    }
}

/// Unpadded base64url (RFC 4648 §5).
public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        var i = 0
        while i < bytes.count {
            let n = min(3, bytes.count - i)
            var v: UInt32 = 0
            for j in 0..<3 { v = v << 8 | UInt32(j < n ? bytes[i + j] : 0) }
            for j in 0..<(n + 1) { out.append(alphabet[Int((v >> UInt32(18 - 6 * j)) & 63)]) }
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        var values = [UInt8]()
        for c in text.utf8 {
            guard let v = alphabet.firstIndex(of: c) else { return nil }
            values.append(UInt8(v))
        }
        guard values.count % 4 != 1 else { return nil }
        var out = [UInt8]()
        var i = 0
        while i < values.count {
            let n = min(4, values.count - i)
            var v: UInt32 = 0
            for j in 0..<4 { v = v << 6 | UInt32(j < n ? values[i + j] : 0) }
            for j in 0..<(n - 1) { out.append(UInt8(truncatingIfNeeded: v >> UInt32(16 - 8 * j))) }
            i += 4
        }
        return out
    }
}
