import Foundation
import ShoalCore
import ShoalMembership
import ShoalTestKit
import XCTest

/// 10,000 members over a simulated network with 1% loss, 5% of them slow (each stalls for 2 to 4
/// periods every 10 to 30 periods, so that its ticks and answers come several periods late):
/// false deaths per member-hour, and how many periods a join takes to reach everyone.
///
/// Two profiles (see `simulationPeriods`). An unoptimised build (the default `swift test`)
/// simulates 12 periods: enough for the join to reach everyone and for slow members to stall, be
/// suspected and refute, though too short for a suspicion to time out. An
/// optimised build, or `SHOAL_FULL_SIMULATIONS=1`, simulates 150 periods, longer than the longest
/// suspicion timeout at this size (120 s): the run that measures false deaths per member-hour.
/// `SWIMFailureSimulationTests` measures them over full timeouts at 1,000 members in every build.
final class SWIMScaleSimulationTests: XCTestCase {
    private let n = 10_000
    private let profile = simulationPeriods(quick: 12, full: 150)

    func testTenThousandMembersWithLossAndSlowMembers() {
        let periods = profile.periods
        let settings = SWIMSettings()
        var cluster = SWIMCluster(
            configuration: .init(baseDelay: .milliseconds(5), jitter: .milliseconds(10), lossProbability: 0.01),
            seed: 10_000)
        cluster.keepsChange = { $0.new.status == .dead }
        let contacts = (0..<n).map(testContact)
        let roster = SWIMRoster(contacts)
        for contact in contacts { cluster.addNode(contact, roster: roster, settings: settings) }
        var rng = SeededRandom(seed: 77)
        let slowMembers = contacts.shuffled(using: &rng).prefix(n / 20).map(\.id)
        let slow = Set(slowMembers)
        let pattern = SWIMCluster.Slowness(stall: 2...4, gap: 10...30)
        for id in slowMembers { cluster.makeSlow(id, pattern) }
        // A member joins through one healthy member at the start.
        let joiner = testContact(n)
        let seed = contacts.first { !slow.contains($0.id) }!
        cluster.addNode(joiner, knowing: [seed], settings: settings, startWithin: .zero)

        let start = Date()
        var lastSent = [Int](repeating: 0, count: n)
        var busiest = 0
        var meanPerNode: [Double] = []
        var joinerKnownBy: [Int] = []
        var joinPeriods: Int?
        for period in 1...periods {
            cluster.run(until: seconds(Double(period)))
            var total = 0
            for index in 0..<n {
                let sent = cluster.messagesSent(byNodeAt: index)
                total += sent - lastSent[index]
                busiest = max(busiest, sent - lastSent[index])
                lastSent[index] = sent
            }
            meanPerNode.append(Double(total) / Double(n))
            if joinPeriods == nil {
                let knowing = contacts.filter { cluster.status(of: joiner.id, at: $0.id) == .alive }.count
                joinerKnownBy.append(knowing)
                if knowing == n { joinPeriods = period }
            }
        }
        let elapsed = Date().timeIntervalSince(start)
        let deaths = cluster.changes
        let memberHours = Double(n) * Double(periods) * settings.probeInterval.inSeconds / 3600
        let counters = (0..<n).map { cluster.instance(at: $0).counters }
        let lateTicks = counters.reduce(0) { $0 + $1.lateTicks }
        let suppressed = counters.reduce(0) { $0 + $1.suppressedAccusations }
        let stats = cluster.network.statistics
        print(
            "SWIM at scale: \(n) members, \(periods) periods (\(String(format: "%.0f", memberHours)) member-hours),"
                + " 1% loss, \(slow.count) slow members (stalls of \(pattern.stall) periods every \(pattern.gap)):"
                + " \(deaths.count) false death declarations (\(deaths.filter { slow.contains($0.new.member.id) }.count)"
                + " about slow members) = \(Double(deaths.count) / memberHours) per member-hour;"
                + " \(cluster.changeCounts[.suspect] ?? 0) suspect notices, \(lateTicks) late ticks,"
                + " \(suppressed) accusations held back by starved members;"
                + " a join reached all \(n) after \(joinPeriods.map(String.init) ?? "-") periods"
                + " (\(joinerKnownBy.map(String.init).joined(separator: ", ")));"
                + " messages per member per period: mean \(String(format: "%.1f", meanPerNode.max() ?? 0)) at most,"
                + " busiest member \(busiest);"
                + " \(stats.messagesSent) messages, \(stats.messagesLost) lost, \(stats.eventsDeferred) held by stalls;"
                + " \(String(format: "%.1f", elapsed)) s, peak RSS \(peakResidentMegabytes()) MiB")
        XCTAssertGreaterThan(stats.eventsDeferred, 0, "slow members did stall")
        XCTAssertGreaterThan(lateTicks, 0, "stalled members noticed their late ticks")
        XCTAssertGreaterThan(cluster.changeCounts[.suspect] ?? 0, 0, "stalled members were suspected")
        XCTAssertEqual(deaths.count, 0, "no live member, slow or not, was declared dead")
        XCTAssertNotNil(joinPeriods, "the join reached \(joinerKnownBy.last ?? 0) of \(n)")
        XCTAssertLessThanOrEqual(joinPeriods ?? .max, 15)
    }
}

/// The peak resident set size of this process, in MiB (Linux; 0 elsewhere).
func peakResidentMegabytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
    else { return 0 }
    let kilobytes = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
    return kilobytes / 1024
}
