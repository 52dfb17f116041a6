import ShoalCore

/// How far this node trusts the peers that tell it of other peers.
///
/// Each claim of a peer that fails verification raises its informers' failure score by one, each
/// claim that succeeds lowers it by one. At ``SWIMSettings/informerFailuresBeforePenalty`` the
/// informer is penalised: its gossip is ignored for ``SWIMSettings/informerPenalty``, and its
/// waiting claims are dropped. At its ``SWIMSettings/penaltiesBeforeDisconnect``-th penalty it is
/// also to be disconnected for ``SWIMSettings/disconnectDuration``. At most `capacity` informers
/// are tracked; informers in good standing are forgotten first.
struct InformerReputations: Sendable {
    struct Record: Hashable, Sendable {
        var failureScore = 0
        var penalties = 0
        var ignoredUntil: Timestamp?
        var disconnectedUntil: Timestamp?
    }

    /// What a failure led to.
    enum Verdict: Hashable, Sendable {
        case none
        case penalised(until: Timestamp)
        case disconnected(until: Timestamp)
    }

    private(set) var records: [NodeKey: Record] = [:]
    let capacity: Int

    init(capacity: Int = 4096) {
        self.capacity = max(1, capacity)
    }

    /// Whether gossip from `id` is ignored at `now`.
    func isIgnored(_ id: NodeID, now: Timestamp) -> Bool {
        guard !records.isEmpty, let record = records[NodeKey(id)] else { return false }
        return (record.ignoredUntil.map { now < $0 } ?? false) || isDisconnected(record, now: now)
    }

    /// Whether `id` is to stay disconnected at `now`.
    func isDisconnected(_ id: NodeID, now: Timestamp) -> Bool {
        guard !records.isEmpty, let record = records[NodeKey(id)] else { return false }
        return isDisconnected(record, now: now)
    }

    func record(of id: NodeID) -> Record? { records[NodeKey(id)] }

    /// A claim by `informer` failed verification.
    mutating func recordFailure(of informer: NodeID, now: Timestamp, settings: SWIMSettings) -> Verdict {
        var record = records[NodeKey(informer)] ?? Record()
        record.failureScore += 1
        var verdict = Verdict.none
        if record.failureScore >= max(1, settings.informerFailuresBeforePenalty) {
            record.failureScore = 0
            record.penalties += 1
            let until = now + settings.informerPenalty
            record.ignoredUntil = until
            verdict = .penalised(until: until)
            if record.penalties >= max(1, settings.penaltiesBeforeDisconnect) {
                let disconnectUntil = now + settings.disconnectDuration
                record.disconnectedUntil = disconnectUntil
                verdict = .disconnected(until: disconnectUntil)
            }
        }
        store(record, for: informer, now: now)
        return verdict
    }

    /// A claim by `informer` was verified.
    mutating func recordSuccess(of informer: NodeID) {
        let key = NodeKey(informer)
        guard var record = records[key] else { return }
        record.failureScore = max(0, record.failureScore - 1)
        if record == Record() { records[key] = nil } else { records[key] = record }
    }

    private func isDisconnected(_ record: Record, now: Timestamp) -> Bool {
        record.disconnectedUntil.map { now < $0 } ?? false
    }

    private mutating func store(_ record: Record, for informer: NodeID, now: Timestamp) {
        let key = NodeKey(informer)
        if records[key] == nil, records.count >= capacity {
            // Forget someone in good standing, else someone whose penalty is over; else keep the
            // table as it is (the newcomer goes untracked).
            // (The smallest such node ID, so that runs are reproducible.)
            let victim =
                records.filter { $0.value.penalties == 0 }.keys.min { $0.id < $1.id }
                ?? records.filter {
                    !isDisconnected($0.value, now: now) && !($0.value.ignoredUntil.map { now < $0 } ?? false)
                }
                .keys.min { $0.id < $1.id }
            guard let victim else { return }
            records[victim] = nil
        }
        records[key] = record
    }
}
