extension AsyncStream where Element: Sendable {
    /// Runs `body` for each element as a child task, at most `limit` at once, until the stream
    /// finishes or the calling task is cancelled (which cancels the children still running).
    func forEachConcurrently(limit: Int, _ body: @escaping @Sendable (Element) async -> Void) async {
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            for await element in self {
                if running >= limit {
                    await group.next()
                    running -= 1
                }
                running += 1
                group.addTask { await body(element) }
            }
            group.cancelAll()
        }
    }
}
