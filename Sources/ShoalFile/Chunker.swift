import NIOCore
import ShoalCore

/// Cuts a byte stream into fixed-size chunks, holding at most one partial chunk in memory.
///
/// Feed it buffers of any size with ``append(_:)``; it hands back each chunk as soon as it is full.
/// A chunk that lies whole inside one input buffer is a slice of it (no copy); one that spans
/// buffers is assembled in a buffer of its own. ``finish()`` returns the final short chunk, if any.
/// An empty stream yields no chunks.
public struct Chunker: Sendable {
    public static let defaultChunkSize = ObjectSize.defaultChunk
    public static let minimumChunkSize = ObjectSize.minimumChunk
    public static let maximumChunkSize = ObjectSize.maximumChunk

    public let chunkSize: Int
    private var partial: ByteBuffer?
    public private(set) var bytesConsumed: UInt64 = 0

    /// - Throws: `ChunkerError.chunkSizeOutOfRange` outside 64 KiB … 8 MiB.
    public init(chunkSize: Int = Chunker.defaultChunkSize) throws {
        guard (Chunker.minimumChunkSize...Chunker.maximumChunkSize).contains(chunkSize) else {
            throw ChunkerError.chunkSizeOutOfRange(chunkSize)
        }
        self.chunkSize = chunkSize
    }

    /// Appends bytes and returns every chunk completed by them, in order.
    public mutating func append(_ bytes: ByteBuffer) -> [ByteBuffer] {
        var input = bytes
        var out: [ByteBuffer] = []
        bytesConsumed += UInt64(input.readableBytes)
        while input.readableBytes > 0 {
            if partial == nil, input.readableBytes >= chunkSize, let whole = input.readSlice(length: chunkSize) {
                out.append(whole)
                continue
            }
            var assembling = partial ?? ByteBufferAllocator().buffer(capacity: chunkSize)
            var piece = input.readSlice(length: min(chunkSize - assembling.readableBytes, input.readableBytes))!
            assembling.writeBuffer(&piece)
            if assembling.readableBytes == chunkSize {
                out.append(assembling)
                partial = nil
            } else {
                partial = assembling
            }
        }
        return out
    }

    /// The final partial chunk, or `nil` when the stream ended on a chunk boundary.
    public mutating func finish() -> ByteBuffer? {
        defer { partial = nil }
        return partial
    }
}

public enum ChunkerError: Error, Equatable, CustomStringConvertible {
    case chunkSizeOutOfRange(Int)
    public var description: String {
        switch self {
        case .chunkSizeOutOfRange(let size):
            return
                "chunk size \(size) is out of range: choose from \(Chunker.minimumChunkSize) (64 KiB) to \(Chunker.maximumChunkSize) (8 MiB)"
        }
    }
}
