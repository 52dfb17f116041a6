import Foundation

/// A single byte range from a `Range` header (RFC 9110 §14.1.2), resolved against a file's size.
public enum ByteRange: Equatable, Sendable {
    /// The bytes to send, never empty and never past the end.
    case satisfiable(Range<UInt64>)
    /// The range starts at or after the end (answer 416).
    case unsatisfiable

    /// Parses `bytes=FIRST-LAST`, `bytes=FIRST-` or `bytes=-SUFFIX` (decimal digits only).
    /// - Returns: `nil` for a header that is malformed or asks for several ranges (served whole).
    public static func parse(_ header: String, size: UInt64) -> ByteRange? {
        guard header.hasPrefix("bytes=") else { return nil }
        let spec = header.dropFirst(6).trimmingCharacters(in: .whitespaces)
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return nil }
        let first = spec[..<dash]
        let last = spec[spec.index(after: dash)...]
        func isDigits(_ s: Substring) -> Bool {
            s.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        }
        guard isDigits(first), isDigits(last) else { return nil }
        if first.isEmpty {
            guard let suffix = UInt64(last) else { return nil }
            guard suffix > 0, size > 0 else { return .unsatisfiable }
            return .satisfiable((size - min(suffix, size))..<size)
        }
        guard let start = UInt64(first) else { return nil }
        guard start < size else { return .unsatisfiable }
        if last.isEmpty { return .satisfiable(start..<size) }
        guard let end = UInt64(last), end >= start else { return nil }
        return .satisfiable(start..<(min(end, size - 1) + 1))
    }
}
