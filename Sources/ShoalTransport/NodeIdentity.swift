@preconcurrency import Crypto
import Foundation
import NIOSSL
import ShoalCore
import SwiftASN1
import X509

/// A node's long-lived identity: its P-256 key pair, the NodeID derived from it, and the
/// self-signed certificate it presents in TLS.
///
/// NodeID = SHA-256 over the DER SubjectPublicKeyInfo of the public key, so any peer can derive it
/// from the certificate it sees during the handshake.
public struct NodeIdentity: Sendable {
    public let privateKey: P256.Signing.PrivateKey
    public let nodeID: NodeID
    /// DER of the self-signed certificate.
    public let certificateDER: [UInt8]

    /// The file, inside a data dir, that holds the key (PEM, mode 0600).
    public static let keyFileName = "node.key"

    public init(privateKey: P256.Signing.PrivateKey) throws {
        self.privateKey = privateKey
        let nodeID = NodeIdentity.nodeID(ofSPKI: Array(privateKey.publicKey.derRepresentation))
        self.nodeID = nodeID
        let now = Date()
        let name = try DistinguishedName { CommonName("shoal-\(nodeID.hex)") }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: .init(privateKey.publicKey),
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(10 * 365 * 86400),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
            },
            issuerPrivateKey: .init(privateKey)
        )
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        self.certificateDER = serializer.serializedBytes
    }

    /// A fresh identity that is never written anywhere (tests, client-only tools).
    public static func ephemeral() throws -> NodeIdentity {
        try NodeIdentity(privateKey: P256.Signing.PrivateKey())
    }

    /// Loads the identity kept in `dataDirectory`, creating it on first start.
    ///
    /// - Throws: ``IdentityError`` when the key file is readable by others (the node refuses to start
    ///   rather than use a possibly leaked key), or cannot be read or parsed.
    public static func loadOrCreate(in dataDirectory: URL) throws -> NodeIdentity {
        let fm = FileManager.default
        try fm.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
        let path = dataDirectory.appendingPathComponent(keyFileName).path
        if fm.fileExists(atPath: path) {
            var info = stat()
            guard stat(path, &info) == 0 else {
                throw IdentityError.unreadable(path: path, reason: String(cString: strerror(errno)))
            }
            let mode = info.st_mode & 0o777
            guard mode & 0o077 == 0 else { throw IdentityError.insecurePermissions(path: path, mode: mode) }
            let pem: String
            do { pem = try String(contentsOfFile: path, encoding: .utf8) } catch {
                throw IdentityError.unreadable(path: path, reason: "\(error)")
            }
            do {
                return try NodeIdentity(privateKey: P256.Signing.PrivateKey(pemRepresentation: pem))
            } catch {
                throw IdentityError.malformed(path: path, reason: "\(error)")
            }
        }
        let key = P256.Signing.PrivateKey()
        let pem = Array(key.pemRepresentation.utf8)
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw IdentityError.unreadable(path: tmp, reason: String(cString: strerror(errno))) }
        let written = pem.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        fsync(fd)
        close(fd)
        guard written == pem.count, rename(tmp, path) == 0 else {
            unlink(tmp)
            throw IdentityError.unreadable(
                path: path, reason: "could not write the key: \(String(cString: strerror(errno)))")
        }
        return try NodeIdentity(privateKey: key)
    }

    /// NodeID of a DER SubjectPublicKeyInfo.
    public static func nodeID(ofSPKI spki: [UInt8]) -> NodeID {
        Key256.sha256(of: spki)
    }

    /// NodeID of the key in a TLS certificate.
    /// - Throws: ``IdentityError/unsupportedKey`` unless the key is ECDSA P-256, the only kind Shoal
    ///   identities use.
    public static func nodeID(of certificate: NIOSSLCertificate) throws -> NodeID {
        let spki = try certificate.extractPublicKey().toSPKIBytes()
        guard (try? P256.Signing.PublicKey(derRepresentation: spki)) != nil else { throw IdentityError.unsupportedKey }
        return nodeID(ofSPKI: spki)
    }

    /// The public key as owners publish it (X9.63 uncompressed point).
    public var ownerPublicKey: Data { privateKey.publicKey.x963Representation }

    /// This node's owner key as the owner of what it stores (a 65-byte key, always accepted).
    public var owner: ObjectOwner { ObjectOwner(key: Array(ownerPublicKey))! }
}

public enum IdentityError: Error, Equatable, CustomStringConvertible {
    case insecurePermissions(path: String, mode: mode_t)
    case unreadable(path: String, reason: String)
    case malformed(path: String, reason: String)
    case unsupportedKey

    public var description: String {
        switch self {
        case .insecurePermissions(let path, let mode):
            return
                "refusing to start: the node key \(path) is readable by others (mode \(String(mode, radix: 8))); run 'chmod 600 \(path)' if it has not leaked, or delete it to create a new identity"
        case .unreadable(let path, let reason):
            return "cannot read or write the node key \(path): \(reason)"
        case .unsupportedKey:
            return "the peer's certificate key is not ECDSA P-256, which Shoal identities require"
        case .malformed(let path, let reason):
            return
                "the node key \(path) is not a PEM P-256 private key (\(reason)); restore it from a backup or delete it to create a new identity"
        }
    }
}
