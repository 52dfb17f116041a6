/// A point in time as the pure cores see it: nanoseconds since an origin the shell chooses.
///
/// Pure code never reads a clock; the shell passes `now` into every `on…` call, and tests pass
/// whatever a `ManualClock` says.
public struct Timestamp: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) {
        self.nanoseconds = nanoseconds
    }

    public static let zero = Timestamp(nanoseconds: 0)

    /// The time `seconds` whole seconds after the origin, saturating at the ends of the range
    /// (wire fields in seconds, such as `Delete.issued_at`).
    public init(seconds: Int64) {
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        self.init(nanoseconds: overflow ? (seconds < 0 ? .min : .max) : product)
    }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.nanoseconds < b.nanoseconds }

    /// Saturates at the ends of the `Int64` range instead of overflowing.
    public static func + (t: Timestamp, d: Duration) -> Timestamp {
        Timestamp(nanoseconds: t.nanoseconds.saturatingAdd(d.nanosecondsClamped))
    }

    /// Saturates at the ends of the `Int64` range instead of overflowing.
    public static func - (t: Timestamp, d: Duration) -> Timestamp {
        Timestamp(nanoseconds: t.nanoseconds.saturatingSubtract(d.nanosecondsClamped))
    }

    /// Saturates at the ends of the `Int64` range instead of overflowing.
    public static func - (a: Timestamp, b: Timestamp) -> Duration {
        .nanoseconds(a.nanoseconds.saturatingSubtract(b.nanoseconds))
    }

    public var description: String { "t+\(Double(nanoseconds) / 1e9)s" }
}

extension Duration {
    /// The duration in seconds, as a floating-point number (for rates and reports).
    public var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// The duration in whole nanoseconds, clamped to `Int64`.
    public var nanosecondsClamped: Int64 {
        let (seconds, attoseconds) = components
        let (ns, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return ns &+ attoseconds / 1_000_000_000
    }
}

extension Int64 {
    /// `self + other`, clamped to `Int64.min ... Int64.max`.
    public func saturatingAdd(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }

    /// `self - other`, clamped to `Int64.min ... Int64.max`.
    public func saturatingSubtract(_ other: Int64) -> Int64 {
        let (difference, overflow) = subtractingReportingOverflow(other)
        return overflow ? (other < 0 ? .max : .min) : difference
    }
}
