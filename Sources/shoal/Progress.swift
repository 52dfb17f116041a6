import Foundation
import NIOConcurrencyHelpers
import ShoalCore
import ShoalNode

/// A progress bar on stderr (bytes, rate, ETA), shown only when stderr is a terminal.
final class Progress: Sendable {
    private struct State {
        var done: UInt64 = 0
        var total: UInt64?
        var lastDraw: ContinuousClock.Instant?
    }
    private let label: String
    private let enabled: Bool
    private let started = ContinuousClock.now
    private let state: NIOLockedValueBox<State>

    init(label: String, total: UInt64?) {
        self.label = label
        self.enabled = isatty(2) == 1
        self.state = NIOLockedValueBox(State(total: total))
    }

    var total: UInt64? {
        get { state.withLockedValue { $0.total } }
        set { state.withLockedValue { $0.total = newValue } }
    }

    func advance(by n: UInt64) {
        guard enabled else { return }
        let line: String? = state.withLockedValue { s in
            s.done += n
            let now = ContinuousClock.now
            if let last = s.lastDraw, now - last < .milliseconds(200) { return nil }
            s.lastDraw = now
            return render(s)
        }
        if let line { FileHandle.standardError.write(Data(line.utf8)) }
    }

    func finish() {
        guard enabled else { return }
        let line = state.withLockedValue { render($0) }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    private func render(_ s: State) -> String {
        let elapsed = max((ContinuousClock.now - started).inSeconds, 0.001)
        let rate = Double(s.done) / elapsed
        var line = "\r\(label) \(Progress.human(s.done))"
        if let total = s.total, total > 0 {
            let pct = min(100, Double(s.done) * 100 / Double(total))
            let remaining = rate > 0 ? Double(total - min(total, s.done)) / rate : 0
            line += " / \(Progress.human(total)) \(String(format: "%5.1f%%", pct)) ETA \(Int(remaining))s"
        }
        line += "  \(Progress.human(UInt64(rate)))/s   "
        return line
    }

    static func human(_ bytes: UInt64) -> String { ByteCountFormat.string(bytes) }
}
