import Foundation

/// A span of time as people write it on a command line: `30s`, `15m`, `36h`, `10d`, or plain
/// seconds (`90`).
///
/// Suffixes are case-insensitive; values are whole seconds from 0 to 100 years, so they convert to
/// `Duration` without a check.
public struct TimeSpan: Hashable, Sendable, CustomStringConvertible {
    /// The longest span accepted: 100 years of seconds.
    public static let maximumSeconds: Int64 = 100 * 366 * 86_400

    public let seconds: Int64

    public init(seconds: Int64) {
        precondition((0...Self.maximumSeconds).contains(seconds), "a TimeSpan is from 0 to 100 years")
        self.seconds = seconds
    }

    /// Parses `text`.
    /// - Returns: `nil` for text that is not a span, and for spans above 100 years.
    public init?(parsing text: String) {
        let lower = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(String, Int64)] = [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)]
        var digits = Substring(lower)
        var factor: Int64 = 1
        if let (suffix, f) = units.first(where: { lower.hasSuffix($0.0) }) {
            digits = digits.dropLast(suffix.count)
            factor = f
        }
        guard !digits.isEmpty, digits.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            let n = Int64(digits)
        else { return nil }
        let (seconds, overflow) = n.multipliedReportingOverflow(by: factor)
        guard !overflow, seconds <= Self.maximumSeconds else { return nil }
        self.seconds = seconds
    }

    public var duration: Duration { .seconds(seconds) }

    /// The shortest exact spelling: `10d`, `36h`, `90s`.
    public var description: String {
        for (suffix, unit) in [("d", Int64(86_400)), ("h", 3600), ("m", 60)] where seconds > 0 && seconds % unit == 0 {
            return "\(seconds / unit)\(suffix)"
        }
        return "\(seconds)s"
    }
}
