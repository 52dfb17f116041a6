@preconcurrency import Crypto
import Foundation
import NIOCore
import ShoalCore

/// Seals and opens the objects of one file.
///
/// Subkeys are derived from the file key with HKDF-SHA256, one for data chunks and one for manifest
/// nodes. The nonce is derived from the object's index (a 1-byte domain, 3 zero bytes, then the
/// big-endian 64-bit index), which is unique per subkey because each file has its own key. The
/// associated data is the file identity (HKDF of the key with the label "shoal file id") plus the
/// index, so a chunk moved to another position or into another file fails to open.
public struct Sealer: @unchecked Sendable {
    public let cipher: Cipher
    private let chunkKey: SymmetricKey?
    private let manifestKey: SymmetricKey?
    /// Identity of the file, bound into every object's associated data. Zero for public files.
    public let fileIdentity: [UInt8]

    /// AEAD tag bytes added to every sealed object.
    public static let overhead = ObjectSize.sealOverhead

    public enum Domain: UInt8, Sendable {
        case chunk = 0x00
        case manifest = 0x01
    }

    /// A sealer for a private file.
    public init(key: FileKey, cipher: Cipher = .aes256GCM) {
        precondition(cipher != .none, "a private file needs a cipher")
        let ikm = SymmetricKey(data: key.bytes)
        let salt = Array("shoal-v1".utf8)
        self.cipher = cipher
        self.chunkKey = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: ikm, salt: salt, info: Array("shoal chunk key".utf8), outputByteCount: 32)
        self.manifestKey = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: ikm, salt: salt, info: Array("shoal manifest key".utf8), outputByteCount: 32)
        self.fileIdentity = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: ikm, salt: salt, info: Array("shoal file id".utf8), outputByteCount: 32
        )
        .withUnsafeBytes { Array($0) }
    }

    /// A pass-through sealer for a public file.
    public static let plaintext = Sealer()

    private init() {
        self.cipher = .none
        self.chunkKey = nil
        self.manifestKey = nil
        self.fileIdentity = []
    }

    public var isPublic: Bool { cipher == .none }

    /// Bytes as stored for a plaintext of `count` bytes.
    public func sealedSize(ofPlaintext count: Int) -> Int { isPublic ? count : count + Sealer.overhead }

    /// Seals one object.
    /// - Parameters:
    ///   - plaintext: the object's content.
    ///   - index: the chunk index (for `.chunk`) or the manifest node's serial (for `.manifest`).
    /// - Returns: the bytes to store (ciphertext then tag); their SHA-256 is the object's ID. A
    ///   public file's sealer returns `plaintext` itself.
    public func seal(_ plaintext: ByteBuffer, index: UInt64, domain: Domain) throws -> ByteBuffer {
        guard let key = domain == .chunk ? chunkKey : manifestKey else { return plaintext }
        let nonce = Self.nonceBytes(index: index, domain: domain)
        let aad = associatedData(index: index, domain: domain)
        let (body, tag): (Data, Data) = try plaintext.withUnsafeReadableBytes { bytes in
            switch cipher {
            case .aes256GCM:
                let box = try AES.GCM.seal(
                    bytes, using: key, nonce: try AES.GCM.Nonce(data: nonce), authenticating: aad)
                return (box.ciphertext, box.tag)
            case .chaCha20Poly1305:
                let box = try ChaChaPoly.seal(
                    bytes, using: key, nonce: try ChaChaPoly.Nonce(data: nonce), authenticating: aad)
                return (box.ciphertext, box.tag)
            case .none:
                preconditionFailure("a public sealer has no keys")
            }
        }
        var out = ByteBufferAllocator().buffer(capacity: body.count + tag.count)
        body.withUnsafeBytes { _ = out.writeBytes($0) }
        tag.withUnsafeBytes { _ = out.writeBytes($0) }
        return out
    }

    /// Opens one object sealed by ``seal(_:index:domain:)``.
    /// - Returns: the plaintext (a public file's sealer returns `sealed` itself).
    /// - Throws: `SealError.authenticationFailed` when the bytes were altered, belong to another
    ///   position or another file, or the key is wrong.
    public func open(_ sealed: ByteBuffer, index: UInt64, domain: Domain) throws -> ByteBuffer {
        guard let key = domain == .chunk ? chunkKey : manifestKey else { return sealed }
        guard sealed.readableBytes >= Sealer.overhead else { throw SealError.truncated(sealed.readableBytes) }
        let nonce = Self.nonceBytes(index: index, domain: domain)
        let aad = associatedData(index: index, domain: domain)
        let plain: Data
        do {
            plain = try sealed.withUnsafeReadableBytes { bytes in
                let split = bytes.count - Sealer.overhead
                let body = UnsafeRawBufferPointer(rebasing: bytes[..<split])
                let tag = UnsafeRawBufferPointer(rebasing: bytes[split...])
                switch cipher {
                case .aes256GCM:
                    let box = try AES.GCM.SealedBox(nonce: try AES.GCM.Nonce(data: nonce), ciphertext: body, tag: tag)
                    return try AES.GCM.open(box, using: key, authenticating: aad)
                case .chaCha20Poly1305:
                    let box = try ChaChaPoly.SealedBox(
                        nonce: try ChaChaPoly.Nonce(data: nonce), ciphertext: body, tag: tag)
                    return try ChaChaPoly.open(box, using: key, authenticating: aad)
                case .none:
                    preconditionFailure("a public sealer has no keys")
                }
            }
        } catch {
            throw SealError.authenticationFailed(domain: domain, index: index)
        }
        var out = ByteBufferAllocator().buffer(capacity: plain.count)
        plain.withUnsafeBytes { _ = out.writeBytes($0) }
        return out
    }

    static func nonceBytes(index: UInt64, domain: Domain) -> [UInt8] {
        var out: [UInt8] = [domain.rawValue, 0, 0, 0]
        for shift in stride(from: 56, through: 0, by: -8) {
            out.append(UInt8(truncatingIfNeeded: index >> UInt64(shift)))
        }
        return out
    }

    private func associatedData(index: UInt64, domain: Domain) -> [UInt8] {
        Array("shoal-v1".utf8) + fileIdentity + Self.nonceBytes(index: index, domain: domain)
    }
}

public enum SealError: Error, Equatable, CustomStringConvertible {
    case authenticationFailed(domain: Sealer.Domain, index: UInt64)
    case truncated(Int)

    public var description: String {
        switch self {
        case .authenticationFailed(let domain, let index):
            return
                "\(domain == .chunk ? "chunk" : "manifest node") \(index) failed authentication: it was altered, moved, belongs to another file, or the key is wrong"
        case .truncated(let count):
            return "sealed object is \(count) bytes, shorter than the \(Sealer.overhead)-byte tag"
        }
    }
}
