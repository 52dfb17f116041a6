import NIOCore
import ShoalCore
import ShoalFile
import ShoalWire
import XCTest

/// The test vectors of Protocol/README.md §9.4, computed by the node's own code: the sealing of one
/// chunk, and a complete tiny private file (its chunk, its root manifest node in plaintext and
/// sealed, and its address). An independent implementation that reproduces these bytes seals
/// files the node can read.
final class TestVectorTests: XCTestCase {
    private func hex(_ buffer: ByteBuffer) -> String { hex(Array(buffer.readableBytesView)) }
    private func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    func testTheSpecVectorsOfAChunkAndATinyPrivateFile() async throws {
        let key = try FileKey(bytes: Array(0..<32))
        let sealer = Sealer(key: key)
        let plaintext = ByteBuffer(string: "hello, shoal")

        // §9.4: chunk 1 of "hello, shoal".
        let chunk1 = try sealer.seal(plaintext, index: 1, domain: .chunk)
        XCTAssertEqual(hex(chunk1), "c62a42c7ae939b163272ce0d259a3b2035827c0e262f66200478bd6c")
        XCTAssertEqual(
            ContentID.sha256(of: chunk1).hex, "2ca0f20bbc49c20898b778ee2f04edf0d9a68451401081ba8cd3f3fda054ed19")

        // §9.4: the whole file "hello, shoal" (12 bytes, chunk size 1 MiB): chunk 0 and its root.
        let chunk0 = try sealer.seal(plaintext, index: 0, domain: .chunk)
        let chunk0ID = ContentID.sha256(of: chunk0)
        let root = Manifest(
            totalSize: 12, chunkSize: 1 << 20, cipher: .aes256GCM, depth: 0, firstChunk: 0,
            entries: [Manifest.Entry(id: chunk0ID, size: 12)])
        let rootPlain = root.serialized()
        let rootSealed = try sealer.seal(ByteBuffer(bytes: rootPlain), index: Manifest.rootSealIndex, domain: .manifest)
        let rootID = ContentID.sha256(of: rootSealed)
        let address = FileAddress(root: rootID, key: key)
        let vector = """
            chunk 0 sealed   \(hex(chunk0))
            chunk 0 ID       \(chunk0ID.hex)
            root plaintext   \(hex(rootPlain))
            root sealed      \(hex(rootSealed))
            root ID          \(rootID.hex)
            address          \(address)
            """
        print(vector)
        XCTAssertEqual(
            vector, Self.tinyFile,
            "the §9.4 vector of a tiny private file changed; Protocol/README.md must say the same")

        // And the reader opens it: the address, the two stored objects, the plaintext.
        let store = MemoryObjectStore()
        try await store.put(id: chunk0ID, bytes: chunk0, kind: .chunk)
        try await store.put(id: rootID, bytes: rootSealed, kind: .manifest)
        let reader = FileReader(source: store)
        var read: [UInt8] = []
        _ = try await reader.read(address) { read += Array($0.readableBytesView) }
        XCTAssertEqual(read, Array("hello, shoal".utf8))
    }

    static let tinyFile = """
        chunk 0 sealed   6da54109f18f3a27fcaea5d27ac29d960ed12b181bd20bfee3978984
        chunk 0 ID       2fbb4d51ba52200dead7b91dc4a7876d594adf137043f4682fcd3be5324c5abe
        root plaintext   0801100c1880804020013a240a202fbb4d51ba52200dead7b91dc4a7876d594adf137043f4682fcd3be5324c5abe100c
        root sealed      14955130f821efc402937e14a3461dea34048b00223b9304b383c4b0dad585b3f515813573042071200b69f06acffe4be0607d32b84bef310188958c97182624
        root ID          a3929435380d792f4dfbdb0bf607479789eb4b2eef2c9ea308626e4958ac5967
        address          a3929435380d792f4dfbdb0bf607479789eb4b2eef2c9ea308626e4958ac5967.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8
        """
}
