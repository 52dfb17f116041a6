import Foundation

/// Human-readable byte counts in binary units: `512 B`, `1.5 MiB`, `4 GiB`.
public enum ByteCountFormat {
    /// Whole values print without a fraction (`256 MiB`), others with one decimal (`1.5 GiB`).
    public static func string(_ bytes: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return value == value.rounded() ? "\(Int(value)) \(units[unit])" : String(format: "%.1f %@", value, units[unit])
    }
}
