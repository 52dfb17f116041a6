/// Cuts a byte stream into fixed-size chunks, holding at most one chunk in memory.
///
/// Feed it any number of byte slices with ``append(_:)``; it hands back each chunk as soon as it is
/// full. ``finish()`` returns the final short chunk, if any. An empty stream yields no chunks.
public struct Chunker: Sendable {
    public static let defaultChunkSize = 1 << 20
    public static let minimumChunkSize = 64 << 10
    public static let maximumChunkSize = 8 << 20

    public let chunkSize: Int
    private var buffer: [UInt8] = []
    public private(set) var bytesConsumed: UInt64 = 0

    /// - Throws: `ChunkerError.chunkSizeOutOfRange` outside 64 KiB … 8 MiB.
    public init(chunkSize: Int = Chunker.defaultChunkSize) throws {
        guard (Chunker.minimumChunkSize...Chunker.maximumChunkSize).contains(chunkSize) else {
            throw ChunkerError.chunkSizeOutOfRange(chunkSize)
        }
        self.chunkSize = chunkSize
        buffer.reserveCapacity(chunkSize)
    }

    /// Appends bytes and returns every chunk completed by them.
    public mutating func append(_ bytes: some Collection<UInt8>) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var rest = bytes[...]
        bytesConsumed += UInt64(bytes.count)
        while !rest.isEmpty {
            let take = min(chunkSize - buffer.count, rest.count)
            let end = rest.index(rest.startIndex, offsetBy: take)
            buffer.append(contentsOf: rest[rest.startIndex..<end])
            rest = rest[end...]
            if buffer.count == chunkSize {
                out.append(buffer)
                buffer.removeAll(keepingCapacity: true)
            }
        }
        return out
    }

    /// The final partial chunk, or `nil` when the stream ended on a chunk boundary.
    public mutating func finish() -> [UInt8]? {
        guard !buffer.isEmpty else { return nil }
        defer { buffer = [] }
        return buffer
    }
}

public enum ChunkerError: Error, Equatable, CustomStringConvertible {
    case chunkSizeOutOfRange(Int)
    public var description: String {
        switch self {
        case .chunkSizeOutOfRange(let size):
            return "chunk size \(size) is out of range: choose from \(Chunker.minimumChunkSize) (64 KiB) to \(Chunker.maximumChunkSize) (8 MiB)"
        }
    }
}
