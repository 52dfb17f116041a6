import Foundation
import ShoalCore
import SwiftProtobuf

extension Manifest {
    /// Decodes a manifest node from its plaintext protobuf bytes and validates it.
    /// - Throws: `ManifestError` when the bytes are not a valid manifest node.
    public init(serialized bytes: some Sequence<UInt8>) throws {
        let proto: Shoal_V1_Manifest
        do {
            proto = try Shoal_V1_Manifest(serializedBytes: Array(bytes))
        } catch {
            throw ManifestError.undecodable("\(error)")
        }
        let cipher: Cipher
        switch proto.cipher {
        case .none: cipher = .none
        case .aes256Gcm: cipher = .aes256GCM
        case .chacha20Poly1305: cipher = .chaCha20Poly1305
        case .UNRECOGNIZED(let v): throw ManifestError.undecodable("unknown cipher \(v)")
        }
        let entries = try proto.entries.map { e -> Manifest.Entry in
            guard let id = Key256(bytes: e.id) else {
                throw ManifestError.undecodable("entry id is \(e.id.count) bytes, expected 32")
            }
            return Manifest.Entry(id: id, size: e.size)
        }
        self.init(
            formatVersion: proto.formatVersion, totalSize: proto.totalSize, chunkSize: proto.chunkSize, cipher: cipher,
            depth: proto.depth, firstChunk: proto.firstChunk, entries: entries)
        try validate()
    }

    /// The plaintext protobuf encoding of this node (deterministic).
    public func serialized() -> [UInt8] {
        let proto = Shoal_V1_Manifest.with {
            $0.formatVersion = formatVersion
            $0.totalSize = totalSize
            $0.chunkSize = chunkSize
            switch cipher {
            case .none: $0.cipher = .none
            case .aes256GCM: $0.cipher = .aes256Gcm
            case .chaCha20Poly1305: $0.cipher = .chacha20Poly1305
            }
            $0.depth = depth
            $0.firstChunk = firstChunk
            $0.entries = entries.map { e in
                .with {
                    $0.id = Data(e.id.bytes)
                    $0.size = e.size
                }
            }
        }
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        return (try? proto.serializedBytes(options: options)) ?? []
    }
}
