import ShoalCore

/// Makes concurrent durable writes share their syncs: objects staged by many callers are published
/// together (one data sync per file, one sync per shard directory, one metadata transaction for the
/// whole batch), and every caller is answered only once its object is durable.
///
/// There is no background task. The first caller to find no batch in flight becomes the leader: it
/// takes everything queued (its own object included), publishes it, answers everyone, and, if more
/// arrived meanwhile, hands the lead to the next waiter. A caller's task may be cancelled while it
/// waits; its object is still committed or refused as a whole.
actor GroupCommit {
    struct Item: Sendable {
        var staged: StagedObject
        var commit: ObjectCommit
    }

    private enum Turn {
        case done(Result<ObjectSpace?, any Error>)
        case lead
    }

    private struct Waiter {
        var item: Item
        var continuation: CheckedContinuation<Turn, Never>
    }

    private let chunks: ChunkStore
    private let metadata: MetadataStore
    private let maximumBatch: Int
    private var queue: [Waiter] = []
    private var leading = false
    /// Batches flushed and objects in them, for tests and metrics.
    private(set) var batches = 0
    private(set) var objects = 0

    init(chunks: ChunkStore, metadata: MetadataStore, maximumBatch: Int = 64) {
        self.chunks = chunks
        self.metadata = metadata
        self.maximumBatch = max(1, maximumBatch)
    }

    /// Publishes `item` durably, together with whatever else is waiting.
    /// - Returns: the space the object takes (`nil` when another writer stored it first).
    /// - Throws: what kept it out; nothing of it is left behind.
    func commit(_ item: Item) async throws -> ObjectSpace? {
        if leading {
            let turn = await withCheckedContinuation { queue.append(Waiter(item: item, continuation: $0)) }
            if case .done(let result) = turn { return try result.get() }
            // Handed the lead: the previous leader took this caller out of the queue.
        } else {
            leading = true
        }
        let count = min(queue.count, maximumBatch - 1)
        let others = Array(queue.prefix(count))
        queue.removeFirst(count)
        let results = await flush([item] + others.map(\.item))
        for (waiter, result) in zip(others, results.dropFirst()) {
            waiter.continuation.resume(returning: .done(result))
        }
        if queue.isEmpty {
            leading = false
        } else {
            queue.removeFirst().continuation.resume(returning: .lead)
        }
        return try results[0].get()
    }

    private func flush(_ items: [Item]) async -> [Result<ObjectSpace?, any Error>] {
        batches += 1
        objects += items.count
        var results = await chunks.publish(items.map(\.staged), durable: true)
        var commits: [ObjectCommit] = []
        var committed: [Int] = []
        for (index, result) in results.enumerated() {
            guard case .success(let space) = result else { continue }
            var commit = items[index].commit
            if let space {
                commit.record.size = space.size
                commit.record.allocated = space.allocated
            }
            commits.append(commit)
            committed.append(index)
        }
        do {
            try await metadata.commit(commits)
        } catch {
            // Nothing may stay that the metadata does not list: withdraw the files this batch linked.
            for index in committed {
                if case .success(let space) = results[index], space != nil {
                    _ = try? await chunks.delete(items[index].staged.id)
                }
                results[index] = .failure(error)
            }
        }
        chunks.setExternalBytes(await metadata.databaseBytes())
        return results
    }
}
