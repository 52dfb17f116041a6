import Crypto

/// The 256-bit secret of one private file. Everything needed to read the file derives from it.
public struct FileKey: Hashable, Sendable {
    public let bytes: [UInt8]

    public static let byteCount = 32

    /// - Throws: `AddressError.badKeyLength` when `bytes` is not 32 bytes.
    public init(bytes: [UInt8]) throws {
        guard bytes.count == FileKey.byteCount else {
            throw AddressError.badKeyLength(bytes.count)
        }
        self.bytes = bytes
    }

    /// A fresh key from the system's secure random source.
    public static func generate() -> FileKey {
        let key = SymmetricKey(size: .bits256)
        return try! FileKey(bytes: key.withUnsafeBytes { Array($0) })
    }

    /// A key from a caller-supplied generator (tests only need determinism).
    public static func generate(using rng: inout some RandomNumberGenerator) -> FileKey {
        try! FileKey(bytes: (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) })
    }
}
