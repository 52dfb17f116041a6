import Crypto

/// Signs and verifies owner statements (deletions) with ECDSA P-256 / SHA-256.
public enum OwnerSignature {
    /// Verifies a DER-encoded signature over `message` by the X9.63-encoded public key `publicKey`.
    public static func verify(signature: [UInt8], message: [UInt8], publicKey: [UInt8]) -> Bool {
        guard let key = try? P256.Signing.PublicKey(x963Representation: publicKey),
            let sig = try? P256.Signing.ECDSASignature(derRepresentation: signature)
        else { return false }
        return key.isValidSignature(sig, for: message)
    }

    /// Signs `message`, returning a DER-encoded signature.
    public static func sign(message: [UInt8], with key: P256.Signing.PrivateKey) throws -> [UInt8] {
        Array(try key.signature(for: message).derRepresentation)
    }
}
