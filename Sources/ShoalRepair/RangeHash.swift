import ShoalCore

/// A SHA-256 value in the anti-entropy tree: a record's digest, or the hash of a key range's
/// records (see ``RangeHashing`` for how each is computed).
public struct RangeHash: Hashable, Sendable, CustomStringConvertible {
    /// The 32 bytes, as a key (for cheap comparison and hex output).
    public let value: Key256

    /// Wraps a 256-bit value.
    public init(_ value: Key256) {
        self.value = value
    }

    /// From exactly 32 bytes (wire input).
    /// - Returns: `nil` for any other length.
    public init?(bytes: some Collection<UInt8>) {
        guard let value = Key256(bytes: bytes) else { return nil }
        self.value = value
    }

    /// The 32 bytes.
    public var bytes: [UInt8] { value.bytes }

    public var description: String { value.short }
}
