import Crypto

enum P256Key {
    static func make() -> P256.Signing.PrivateKey { P256.Signing.PrivateKey() }
}
