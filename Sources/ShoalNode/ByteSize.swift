import Foundation

/// A byte count as people write it on a command line: `512`, `64K`, `1M`, `2G`, `1GiB`.
///
/// Suffixes are binary (K = 1024) and case-insensitive. Values run from 0 to 2^63 − 1 bytes, so
/// they convert to `Int` and `Int64` without a check.
public struct ByteSize: Hashable, Sendable, CustomStringConvertible {
    public var bytes: UInt64

    public init(bytes: UInt64) {
        precondition(bytes <= UInt64(Int64.max), "a ByteSize is at most Int64.max bytes")
        self.bytes = bytes
    }

    /// Parses `text`.
    /// - Returns: `nil` for text that is not a size, and for sizes above 2^63 − 1 bytes.
    public init?(parsing text: String) {
        let upper = text.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [(String, UInt64)] = [
            ("TIB", 1 << 40), ("GIB", 1 << 30), ("MIB", 1 << 20), ("KIB", 1 << 10),
            ("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10), ("B", 1),
        ]
        var digits = Substring(upper)
        var factor: UInt64 = 1
        if let (suffix, f) = units.first(where: { upper.hasSuffix($0.0) }) {
            digits = upper.dropLast(suffix.count)
            factor = f
        }
        guard !digits.isEmpty, digits.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            let n = UInt64(digits)
        else { return nil }
        let (bytes, overflow) = n.multipliedReportingOverflow(by: factor)
        guard !overflow, bytes <= UInt64(Int64.max) else { return nil }
        self.bytes = bytes
    }

    /// The shortest exact spelling: `1G`, `64K`, `1000`.
    public var description: String {
        for (suffix, shift) in [("T", 40), ("G", 30), ("M", 20), ("K", 10)] as [(String, UInt64)]
        where bytes > 0 && bytes % (1 << shift) == 0 {
            return "\(bytes >> shift)\(suffix)"
        }
        return "\(bytes)"
    }
}
