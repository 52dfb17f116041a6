/// One node of a file's manifest tree (see `Protocol/shoal.proto`, message `Manifest`).
///
/// A leaf (`depth == 0`) lists data chunks in order; an interior node lists child manifest nodes.
/// The root's stored bytes hash to the file's address.
public struct Manifest: Hashable, Sendable {
    public static let formatVersion: UInt32 = 1
    /// The most entries one node may list; keeps every manifest node well under the frame limit.
    public static let defaultMaxEntries = 16_384
    /// The most entries a node may list when read (the writer's limit may be lower).
    public static let maximumEntries = 16_384
    /// The largest file: 2^56 bytes (64 PiB). Keeps every size, offset and chunk count a manifest
    /// declares far from overflowing, in any integer type a reader converts it to.
    public static let maximumFileSize: UInt64 = 1 << 56

    public struct Entry: Hashable, Sendable {
        /// A data chunk's ID (depth 0) or a child manifest node's ID.
        public var id: ContentID
        /// Plaintext bytes this entry covers.
        public var size: UInt64
        public init(id: ContentID, size: UInt64) {
            self.id = id
            self.size = size
        }
    }

    public var formatVersion: UInt32
    public var totalSize: UInt64
    public var chunkSize: UInt32
    public var cipher: Cipher
    public var depth: UInt32
    /// Index in the file of this node's first data chunk.
    public var firstChunk: UInt64
    public var entries: [Entry]

    public init(
        formatVersion: UInt32 = Manifest.formatVersion, totalSize: UInt64, chunkSize: UInt32, cipher: Cipher,
        depth: UInt32 = 0, firstChunk: UInt64 = 0, entries: [Entry]
    ) {
        self.formatVersion = formatVersion
        self.totalSize = totalSize
        self.chunkSize = chunkSize
        self.cipher = cipher
        self.depth = depth
        self.firstChunk = firstChunk
        self.entries = entries
    }

    /// Number of data chunks under this node.
    public var chunkCount: UInt64 {
        guard chunkSize > 0 else { return 0 }
        let size = UInt64(chunkSize)
        return totalSize / size + (totalSize % size == 0 ? 0 : 1)
    }

    /// The sealing index of an interior or leaf node below the root: unique per (depth, first chunk).
    public var sealIndex: UInt64 { (UInt64(depth) << 56) | firstChunk }

    /// The sealing index of every file's root node, whatever its depth, so a reader can open the
    /// root without knowing the tree's shape. No other node can have it (depths are below 8).
    public static let rootSealIndex: UInt64 = .max

    /// Checks the node's internal consistency.
    /// - Throws: `ManifestError` describing the first inconsistency.
    public func validate() throws {
        guard formatVersion == Manifest.formatVersion else { throw ManifestError.unsupportedVersion(formatVersion) }
        guard (UInt32(ObjectSize.minimumChunk)...UInt32(ObjectSize.maximumChunk)).contains(chunkSize) else {
            throw ManifestError.invalid("chunk size \(chunkSize) out of range")
        }
        guard depth < 8 else { throw ManifestError.invalid("depth \(depth) is too deep") }
        guard totalSize <= Manifest.maximumFileSize else {
            throw ManifestError.invalid(
                "size \(totalSize) exceeds the largest file size, \(Manifest.maximumFileSize) bytes")
        }
        // The node's first byte plus its size must stay within the largest file.
        let (start, startOverflow) = firstChunk.multipliedReportingOverflow(by: UInt64(chunkSize))
        guard !startOverflow, start <= Manifest.maximumFileSize, totalSize <= Manifest.maximumFileSize - start else {
            throw ManifestError.invalid(
                "a node starting at chunk \(firstChunk) with \(totalSize) bytes reaches past the largest file size")
        }
        guard entries.count <= Manifest.maximumEntries else {
            throw ManifestError.invalid(
                "\(entries.count) entries; a manifest node lists at most \(Manifest.maximumEntries)")
        }
        var sum: UInt64 = 0
        for entry in entries {
            let (next, overflow) = sum.addingReportingOverflow(entry.size)
            guard !overflow, next <= totalSize else {
                throw ManifestError.invalid("entries cover more than the \(totalSize) bytes the header says")
            }
            sum = next
        }
        guard sum == totalSize else {
            throw ManifestError.invalid("entries cover \(sum) bytes, header says \(totalSize)")
        }
        if depth == 0 {
            for (i, e) in entries.enumerated() where i < entries.count - 1 && e.size != UInt64(chunkSize) {
                throw ManifestError.invalid(
                    "chunk \(i) has \(e.size) bytes; only the last may be short of \(chunkSize)")
            }
            if let last = entries.last, last.size == 0 || last.size > UInt64(chunkSize) {
                throw ManifestError.invalid("last chunk size \(last.size) out of range")
            }
        } else {
            guard !entries.isEmpty else { throw ManifestError.invalid("interior node with no children") }
        }
    }
}

public enum ManifestError: Error, Equatable, CustomStringConvertible {
    case unsupportedVersion(UInt32)
    case invalid(String)
    case undecodable(String)

    public var description: String {
        switch self {
        case .unsupportedVersion(let v):
            return "manifest format version \(v) is not supported (this build reads version \(Manifest.formatVersion))"
        case .invalid(let why): return "invalid manifest: \(why)"
        case .undecodable(let why): return "manifest could not be decoded: \(why)"
        }
    }
}
