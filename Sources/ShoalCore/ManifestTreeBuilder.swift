/// Builds a file's manifest tree while its chunks stream past, holding at most
/// `maxEntries` entries per tree level in memory.
///
/// Call ``add(_:emit:)`` for every data chunk in order and ``finish(emit:)`` at the end. When a level
/// fills up, its node is handed to `emit`, which seals and stores it and returns its content ID; the
/// ID becomes an entry one level up. A file of up to `maxEntries` chunks has a single leaf as its root.
public struct ManifestTreeBuilder: Sendable {
    public let chunkSize: UInt32
    public let cipher: Cipher
    public let maxEntries: Int

    private var levels: [[Manifest.Entry]] = [[]]
    private var levelFirstChunk: [UInt64] = [0]
    private var nextChunk: UInt64 = 0
    public private(set) var nodesEmitted = 0

    public init(chunkSize: UInt32, cipher: Cipher, maxEntries: Int = Manifest.defaultMaxEntries) {
        precondition(maxEntries >= 2, "a manifest node must hold at least two entries")
        self.chunkSize = chunkSize
        self.cipher = cipher
        self.maxEntries = maxEntries
    }

    /// Adds the next data chunk.
    public mutating func add(_ chunk: Manifest.Entry, emit: (Manifest) throws -> ContentID) rethrows {
        try push(chunk, level: 0, firstChunk: nextChunk, emit: emit)
        nextChunk += 1
    }

    /// Flushes every level and returns the root node, which the caller seals and stores itself;
    /// its stored bytes' hash is the file's address.
    public mutating func finish(emit: (Manifest) throws -> ContentID) rethrows -> Manifest {
        var level = 0
        while level < levels.count - 1 {
            if !levels[level].isEmpty {
                let node = makeNode(level: level)
                let id = try emit(node)
                nodesEmitted += 1
                try push(
                    Manifest.Entry(id: id, size: node.totalSize), level: level + 1, firstChunk: node.firstChunk,
                    emit: emit)
            }
            level += 1
        }
        return makeNode(level: levels.count - 1)
    }

    private mutating func push(
        _ entry: Manifest.Entry, level: Int, firstChunk: UInt64,
        emit: (Manifest) throws -> ContentID
    ) rethrows {
        if levels.count == level {
            levels.append([])
            levelFirstChunk.append(firstChunk)
        }
        if levels[level].count == maxEntries {
            let node = makeNode(level: level)
            let id = try emit(node)
            nodesEmitted += 1
            try push(
                Manifest.Entry(id: id, size: node.totalSize), level: level + 1, firstChunk: node.firstChunk, emit: emit)
        }
        if levels[level].isEmpty { levelFirstChunk[level] = firstChunk }
        levels[level].append(entry)
    }

    private mutating func makeNode(level: Int) -> Manifest {
        let entries = levels[level]
        levels[level] = []
        return Manifest(
            totalSize: entries.reduce(0) { $0 + $1.size }, chunkSize: chunkSize, cipher: cipher,
            depth: UInt32(level), firstChunk: levelFirstChunk[level], entries: entries)
    }
}

extension Manifest {
    /// The entries of this node that overlap the plaintext byte range `range`, which is relative to
    /// the start of the file, with the file offset at which each entry starts.
    public func entries(overlapping range: Range<UInt64>) -> [(entry: Entry, offset: UInt64)] {
        var out: [(Entry, UInt64)] = []
        var offset = firstChunk * UInt64(chunkSize)
        for entry in entries {
            let end = offset + entry.size
            if end > range.lowerBound && offset < range.upperBound { out.append((entry, offset)) }
            if offset >= range.upperBound { break }
            offset = end
        }
        return out
    }
}
