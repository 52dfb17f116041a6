import Foundation
import NIOCore
import ShoalCore
import ShoalWire

// Writes the seed corpora, Fuzz/corpus/<target>/, with the project's own encoders, from the golden
// bytes in Protocol/README.md (§4.1, §9) and the sample frames of Tests/ShoalWireTests/FrameCodecTests.swift.
// Run by `bash Scripts/fuzz.sh seeds`; the output is committed, so run it again only when the
// formats change.

/// Never called: `-sanitize=fuzzer` links libFuzzer's runtime, which needs this symbol, into every
/// executable of the fuzz build (the package's own `main` runs, not libFuzzer's).
@_cdecl("LLVMFuzzerTestOneInput")
public func unusedFuzzEntry(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt { 0 }

guard CommandLine.arguments.count == 2 else {
    FileHandle.standardError.write(Data("usage: fuzz-seeds CORPUS-DIRECTORY\n".utf8))
    exit(64)
}
let corpus = URL(fileURLWithPath: CommandLine.arguments[1])

func write(_ target: String, _ name: String, _ bytes: [UInt8]) throws {
    let directory = corpus.appendingPathComponent(target)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    try Data(bytes).write(to: directory.appendingPathComponent(name))
}

func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.filter { !$0.isWhitespace })
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}

func key(_ byte: UInt8) -> Key256 { Key256(bytes: [UInt8](repeating: byte, count: 32))! }

// MARK: frames

/// Protocol/README.md §4.1, with their length prefixes.
let goldenFrames: [(String, [UInt8])] = [
    ("golden-ping", hex("08 08 01 1a 04 0a 02 68 69")),
    ("golden-pong", hex("08 08 01 22 04 0a 02 68 69")),
    (
        "golden-hello",
        hex("52 12 50 08 01 12 20") + [UInt8](repeating: 0x11, count: 32)
            + hex("1a 0e 3132372e302e302e313a34303030 22 05 73746f7265 22 06 676f73736970 2a 0b 73686f616c2f302e312e30")
    ),
    (
        "golden-get-chunk",
        hex("2e 08 07 5a 2a 0a 20") + [UInt8](repeating: 0xaa, count: 32) + hex("10 80 80 40 18 80 80 04")
    ),
    ("golden-error", hex("08 82 01 05 08 0a 12 01 78")),
    ("golden-largest-length", hex("80 80 c0 04")),
    ("golden-too-large", hex("81 80 c0 04")),
]

/// The sample frames of FrameCodecTests (the 200,000-byte chunk cut to 200 bytes, to keep the
/// seeds small), and the frames of the crashes listed in issue 10.
let id = key(0xab)
let contact = Contact(
    id: Key256(hex: String(repeating: "01", count: 32))!, address: PeerAddress(host: "127.0.0.2", port: 4000))
let sampleFrames: [(String, WireFrame)] = [
    ("hello", WireFrame(id: 0, .hello(Hello(nodeID: id, listenAddress: PeerAddress(host: "127.0.0.1", port: 3000))))),
    (
        "hello-v6-client",
        WireFrame(
            id: 0,
            .hello(
                Hello(
                    nodeID: id, listenAddress: PeerAddress(host: "::1", port: 9), capabilities: ["store"], agent: "fuzz"
                )))
    ),
    ("ping", WireFrame(id: 1, .ping(payload: Data("hi".utf8)))),
    ("pong", WireFrame(id: 1, .pong(payload: Data("hi".utf8)))),
    ("find-node", WireFrame(id: 2, .findNode(target: id))),
    ("nodes", WireFrame(id: 2, .nodes([contact, contact]))),
    ("find-value", WireFrame(id: 3, .findValue(key: id))),
    ("value-result", WireFrame(id: 3, .valueResult(ValueResult(held: false, closer: [contact])))),
    (
        "store-chunk",
        WireFrame(
            id: 4,
            .storeChunk(
                StoreChunk(
                    id: id, data: ByteBuffer(repeating: 7, count: 300), kind: .chunk, root: id, ownerKey: Data([4, 5])))
        )
    ),
    (
        "store-chunk-claims",
        WireFrame(
            id: 300,
            .storeChunk(
                StoreChunk(
                    id: id, data: ByteBuffer(repeating: 9, count: 200), kind: .manifest, root: .zero, ownerKey: Data(),
                    force: true,
                    claims: [
                        OwnerClaim(
                            owner: Array(repeating: 4, count: 65), at: Timestamp(nanoseconds: 1_700_000_000_123_000_000)
                        ),
                        OwnerClaim(owner: [], at: .zero),
                    ])))
    ),
    (
        "store-chunk-empty",
        WireFrame(id: 0, .storeChunk(StoreChunk(id: id, data: ByteBuffer(), kind: .chunk, root: id, ownerKey: Data())))
    ),
    (
        "store-ack",
        WireFrame(id: 4, .storeAck(StoreAck(stored: false, reason: "not among the 3 closest", closer: [contact])))
    ),
    ("get-chunk", WireFrame(id: 5, .getChunk(GetChunk(id: id, offset: 10, length: 20)))),
    (
        "chunk-data",
        WireFrame(
            id: 5, .chunkData(ChunkData(id: id, offset: 10, totalSize: 30, data: ByteBuffer(repeating: 1, count: 20))))
    ),
    (
        "chunk-data-empty",
        WireFrame(id: 1 << 40, .chunkData(ChunkData(id: id, offset: 0, totalSize: 0, data: ByteBuffer())))
    ),
    (
        "delete",
        WireFrame(
            id: 6,
            .delete(
                DeleteRequest(
                    root: id, objects: [id, id], issuedAt: 1_700_000_000, ownerKey: Data([1]), signature: Data([2]))))
    ),
    ("delete-ack", WireFrame(id: 6, .deleteAck(DeleteAck(removed: 2, absent: 0, retained: [id])))),
    ("bad-copy", WireFrame(id: 0, .badCopy(id))),
    (
        "gossip-probe-request",
        WireFrame(
            id: 7,
            .gossip(
                GossipMessage(
                    kind: .probeRequest, target: contact,
                    updates: [MemberUpdate(member: contact, status: .suspect, incarnation: 3)])))
    ),
    ("gossip-ack", WireFrame(id: 7, .gossip(GossipMessage(kind: .ack)))),
    ("error", WireFrame(id: 8, .error(WireError(.notFound, "no such object")))),
    // Issue 10: a probe saying its target is SUSPECT at incarnation 2^64 − 1, and a Delete issued at Int64.min.
    (
        "issue10-incarnation-max",
        WireFrame(
            id: 4,
            .gossip(
                GossipMessage(
                    kind: .probe, target: contact,
                    updates: [MemberUpdate(member: contact, status: .suspect, incarnation: .max)])))
    ),
    (
        "issue10-delete-issued-at-min",
        WireFrame(
            id: 6,
            .delete(DeleteRequest(root: id, objects: [id], issuedAt: .min, ownerKey: Data([1]), signature: Data([2]))))
    ),
]

for (name, bytes) in goldenFrames { try write("frames", name, bytes) }
var stream: [UInt8] = []
for (name, frame) in sampleFrames {
    let bytes = try FrameEncoder.encode(frame)
    try write("frames", name, bytes)
    if bytes.count < 200 { stream += bytes }
}
try write("frames", "stream-of-small-frames", stream)

// MARK: manifest

/// The fuzz-manifest input format (see Fuzz/Manifest/FuzzManifest.swift).
let separator: [UInt8] = [0xff, 0x53, 0x50, 0x4c]
func placeholder(_ k: UInt8) -> ContentID { Key256(bytes: [UInt8](repeating: 0xee, count: 31) + [k])! }
func filled(_ byte: UInt8, _ count: Int) -> [UInt8] {
    [0xff, 0x52, byte, UInt8(count >> 16), UInt8(count >> 8 & 0xff), UInt8(count & 0xff)]
}
func manifestInput(offset: UInt16, length: UInt16, _ objects: [[UInt8]]) -> [UInt8] {
    var out: [UInt8] = [UInt8(offset & 0xff), UInt8(offset >> 8), UInt8(length & 0xff), UInt8(length >> 8)]
    for (i, object) in objects.enumerated() {
        if i > 0 { out += separator }
        out += object
    }
    return out
}
let chunk = UInt32(ObjectSize.minimumChunk)
let full = UInt64(chunk)
func leaf(_ size: UInt64, first: UInt64 = 0, _ entries: [(UInt8, UInt64)], cipher: Cipher = .none) -> [UInt8] {
    Manifest(
        totalSize: size, chunkSize: chunk, cipher: cipher, depth: 0, firstChunk: first,
        entries: entries.map { .init(id: placeholder($0.0), size: $0.1) }
    ).serialized()
}
func node(depth: UInt32, _ size: UInt64, first: UInt64 = 0, _ entries: [(UInt8, UInt64)]) -> [UInt8] {
    Manifest(
        totalSize: size, chunkSize: chunk, cipher: .none, depth: depth, firstChunk: first,
        entries: entries.map { .init(id: placeholder($0.0), size: $0.1) }
    ).serialized()
}
let hello = Array("hello, shoal".utf8)
/// Protocol/README.md §9.4: chunk 1 of "hello, shoal", sealed (here only bytes a public file may hold).
let sealedVector = hex("c62a42c7ae939b163272ce0d 259a3b2035827c0e262f66200478bd6c")
let manifestSeeds: [(String, [UInt8])] = [
    ("empty-file", manifestInput(offset: 0, length: 0xffff, [leaf(0, [])])),
    ("one-short-chunk", manifestInput(offset: 0, length: 0xffff, [leaf(12, [(1, 12)]), hello])),
    ("one-chunk-middle-range", manifestInput(offset: 0x5555, length: 4, [leaf(12, [(1, 12)]), hello])),
    ("read-at-end", manifestInput(offset: 0xfffe, length: 1, [leaf(12, [(1, 12)]), hello])),
    ("read-past-end", manifestInput(offset: 0xffff, length: 1, [leaf(12, [(1, 12)]), hello])),
    (
        "two-chunks-across-boundary",
        manifestInput(
            offset: 0xfff0, length: 200,
            [leaf(full + 28, [(1, full), (2, 28)]), filled(0x61, Int(full)), sealedVector])
    ),
    (
        "depth-1-tree",
        manifestInput(
            offset: 0, length: 0xffff,
            [
                node(depth: 1, full + 12, [(1, full), (2, 12)]),
                leaf(full, first: 0, [(3, full)]), leaf(12, first: 1, [(4, 12)]),
                filled(0x62, Int(full)), hello,
            ])
    ),
    (
        "depth-2-chain",
        manifestInput(
            offset: 0x1000, length: 0xffff,
            [
                node(depth: 2, 12, [(1, 12)]), node(depth: 1, 12, [(2, 12)]), leaf(12, [(3, 12)]), hello,
            ])
    ),
    (
        "same-chunk-twice",
        manifestInput(offset: 0, length: 0xffff, [leaf(full * 2, [(1, full), (1, full)]), filled(0x63, Int(full))])
    ),
    ("missing-chunk", manifestInput(offset: 0, length: 0xffff, [leaf(12, [(9, 12)]), hello])),
    ("wrong-chunk-size", manifestInput(offset: 0, length: 0xffff, [leaf(13, [(1, 13)]), hello])),
    ("private-root", manifestInput(offset: 0, length: 0xffff, [leaf(12, [(1, 12)], cipher: .aes256GCM), hello])),
    ("not-a-root", manifestInput(offset: 0, length: 0xffff, [leaf(12, first: 3, [(1, 12)]), hello])),
    // Issue 10: entry sizes that wrap around UInt64 to the total, and a size of 2^64 − 1.
    (
        "issue10-entry-sizes-overflow",
        manifestInput(
            offset: 0, length: 0xffff, [node(depth: 1, 10, [(1, .max), (1, 11)]), leaf(12, [(2, 12)]), hello])
    ),
    (
        "issue10-size-max",
        manifestInput(offset: 0x8000, length: 0xffff, [node(depth: 1, .max, [(1, .max)]), leaf(12, [(2, 12)]), hello])
    ),
]
for (name, bytes) in manifestSeeds { try write("manifest", name, bytes) }

// MARK: addresses

/// Protocol/README.md §9.5, and the forms the readers accept.
let root = "2ca0f20bbc49c20898b778ee2f04edf0d9a68451401081ba8cd3f3fda054ed19"
let fileKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
let addressSeeds: [(String, String)] = [
    ("public", root),
    ("private", "\(root).\(fileKey)"),
    ("scheme-and-whitespace", " shoal:\(root).\(fileKey)\n"),
    ("short-key", "\(root).AAEC"),
    ("peer-v4", "127.0.0.1:4000"),
    ("peer-v6", "[::1]:3000"),
    ("peer-name", " localhost:0 "),
    ("peer-v6-zone", "[fe80::1%eth0]:65535"),
]
for (name, text) in addressSeeds { try write("addresses", name, Array(text.utf8)) }
try write("addresses", "latin1-peer", [0x01] + Array("h\u{e9}te:80".unicodeScalars.map { UInt8($0.value) }))
try write("addresses", "utf16-peer", [0x02] + "[::1]:80".utf16.flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] })

// MARK: range

let rangeSeeds: [(String, String)] = [
    ("first-last", "1000\nbytes=0-99"),
    ("open-ended", "1000\nbytes=900-"),
    ("suffix", "1000\nbytes=-100"),
    ("suffix-longer-than-file", "10\nbytes=-100"),
    ("past-the-end", "1000\nbytes=1000-"),
    ("empty-file", "0\nbytes=-1"),
    ("last-past-the-end", "10\nbytes=5-99999999999999999999"),
    ("reversed", "10\nbytes=5-3"),
    ("several", "10\nbytes=0-1,2-3"),
    ("whitespace", "10\nbytes= 2-4 "),
    ("largest-size", "18446744073709551615\nbytes=18446744073709551614-"),
]
for (name, text) in rangeSeeds { try write("range", name, Array(text.utf8)) }
print("wrote the seeds under \(corpus.path)")
