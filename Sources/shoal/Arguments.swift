import ArgumentParser
import Logging
import ShoalNode

extension ByteSize: ExpressibleByArgument {
    /// Accepts `512`, `64K`, `1M`, `2G`, `1GiB`; refuses anything else, and sizes beyond 2^63 − 1 bytes.
    public init?(argument: String) {
        self.init(parsing: argument)
    }

    public var defaultValueDescription: String { description }
}

extension TimeSpan: ExpressibleByArgument {
    /// Accepts `30s`, `15m`, `36h`, `10d` or plain seconds; refuses anything else, and spans beyond 100 years.
    public init?(argument: String) {
        self.init(parsing: argument)
    }

    public var defaultValueDescription: String { description }
}

/// `trace`, `debug`, `info`, `notice`, `warning`, `error` or `critical`; anything else is a usage error
/// that lists them.
extension Logger.Level: @retroactive ExpressibleByArgument {}
