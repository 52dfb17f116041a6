/// The AEAD used for a file's chunks and manifest nodes.
public enum Cipher: Sendable, Hashable {
    /// Public file: objects are stored as plaintext.
    case none
    case aes256GCM
    case chaCha20Poly1305
}
