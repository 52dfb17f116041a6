/// This build's version: printed by `shoal --version`, sent as the Hello `agent` (`shoal/VERSION`)
/// and reported in `/v1/status`.
public enum ShoalVersion {
    public static let string = "0.2.0"
    /// The Hello agent string.
    public static var agent: String { "shoal/\(string)" }
}
