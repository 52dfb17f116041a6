import Crypto
import NIOCore
import ShoalCore

extension ContentID {
    /// SHA-256 of a buffer's readable bytes.
    public static func sha256(of buffer: ByteBuffer) -> ContentID {
        buffer.withUnsafeReadableBytes { ContentID(digest: SHA256.hash(data: $0)) }
    }
}
