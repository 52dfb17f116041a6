import NIOCore
import ShoalCore
import ShoalWire

// libFuzzer target `frames`: the input is what a peer sends on a connection, a stream of
// length-prefixed frames. Each frame read must
// - leave the buffer untouched while it is incomplete (every strict prefix of a frame waits),
// - re-encode to bytes that decode to the same frame, and re-encode canonically: the bytes are
//   SwiftProtobuf's, the hand-written data-frame encoder included;
// and for every complete frame body, the hand-written data-frame decoder reads only what the general
// SwiftProtobuf path reads, as an equal frame, and it reads every data frame the encoder writes.

private let limit = WireLimits.maximumFrameSize

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrames(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    var stream = ByteBuffer(bytes: UnsafeBufferPointer(start: data, count: count))
    for _ in 0..<16 {
        let before = stream
        let outcome = Result { try FrameDecoder.readFrame(from: &stream, maximumFrameSize: limit) }
        let body = completeBody(of: before)
        if let body { checkBothPathsAgree(on: body) }
        switch outcome {
        case .success(nil):
            require(
                stream.readerIndex == before.readerIndex && stream.readableBytes == before.readableBytes,
                "an incomplete frame moved the buffer")
            require(body == nil, "a complete frame was reported as incomplete")
            return 0
        case .success(let frame?):
            guard let body else { fail("a frame was read from an incomplete or oversized prefix") }
            let consumed = before.readableBytes - stream.readableBytes
            require(consumed == body.prefixLength + body.bytes.readableBytes, "the frame consumed \(consumed) bytes")
            checkPrefixesWait(before.getSlice(at: before.readerIndex, length: consumed)!, bodyStart: body.prefixLength)
            checkReencoding(frame)
        case .failure(let error):
            require(error is FrameError, "readFrame threw \(type(of: error)), not a FrameError: \(error)")
            return 0
        }
    }
    return 0
}

/// The body of the first frame in `buffer`, when its length prefix is valid, within the limit, and
/// all of its bytes are there (an independent reading of the framing rules in Protocol/README.md §4).
private func completeBody(of buffer: ByteBuffer) -> (prefixLength: Int, bytes: ByteBuffer)? {
    var view = buffer
    var length: UInt64 = 0
    for i in 0..<10 {
        guard let byte: UInt8 = view.readInteger() else { return nil }
        if i == 9 && byte > 1 { return nil }
        length |= UInt64(byte & 0x7f) << (7 * UInt64(i))
        if byte & 0x80 == 0 {
            guard length <= UInt64(limit), let body = view.readSlice(length: Int(length)) else { return nil }
            return (i + 1, body)
        }
    }
    return nil
}

/// The hand-written data-frame codec reads what SwiftProtobuf reads, the same way. (It leaves every
/// frame it does not accept to the general path, which then also says why a frame is refused.)
private func checkBothPathsAgree(on body: (prefixLength: Int, bytes: ByteBuffer)) {
    guard let fast = DataFrameCodec.decode(body.bytes) else { return }
    do {
        let general = try FrameDecoder.decodeGenerally(body.bytes)
        require(fast == general, "the paths read different frames:\n fast    \(fast)\n general \(general)")
    } catch {
        fail("the fast path reads \(fast), the general path refuses: \(error)")
    }
}

/// Every strict prefix of a frame's bytes waits for more (neither a frame nor an error), untouched.
private func checkPrefixesWait(_ frameBytes: ByteBuffer, bodyStart: Int) {
    var cuts = Array(0..<bodyStart)
    if frameBytes.readableBytes > bodyStart { cuts.append(frameBytes.readableBytes - 1) }
    for cut in cuts {
        var prefix = frameBytes.getSlice(at: frameBytes.readerIndex, length: cut)!
        let outcome = Result { try FrameDecoder.readFrame(from: &prefix, maximumFrameSize: limit) }
        guard case .success(nil) = outcome, prefix.readableBytes == cut else {
            fail("the first \(cut) bytes of a \(frameBytes.readableBytes)-byte frame gave \(outcome), not a wait")
        }
    }
}

/// A decoded frame re-encodes as SwiftProtobuf would, and reads back as itself.
private func checkReencoding(_ frame: WireFrame) {
    _ = (frame.message.name, frame.message.isResponse)
    var encoded = ByteBuffer()
    do {
        try FrameEncoder.write(frame, to: &encoded, maximumFrameSize: limit)
    } catch {
        fail("a decoded frame does not re-encode: \(error)\n \(frame)")
    }
    let general: [UInt8]
    do { general = try FrameEncoder.encodeGenerally(frame) } catch {
        fail("SwiftProtobuf cannot encode \(frame): \(error)")
    }
    var expected = ByteBuffer()
    var length = UInt64(general.count)
    while length >= 0x80 {
        expected.writeInteger(UInt8(truncatingIfNeeded: length) | 0x80)
        length >>= 7
    }
    expected.writeInteger(UInt8(length))
    expected.writeBytes(general)
    require(encoded == expected, "\(frame.message.name) encodes differently from SwiftProtobuf")

    var input = encoded
    let again: WireFrame?
    do {
        again = try FrameDecoder.readFrame(from: &input, maximumFrameSize: limit)
    } catch {
        fail("a re-encoded frame is refused: \(error)\n \(frame)")
    }
    require(again == frame, "a re-encoded frame reads differently:\n was \(frame)\n now \(String(describing: again))")
    require(input.readableBytes == 0, "a re-encoded frame leaves \(input.readableBytes) bytes")

    switch frame.message {
    case .storeChunk, .chunkData:
        // The fast path reads what the encoder writes.
        let body = completeBody(of: encoded)!
        require(
            DataFrameCodec.decode(body.bytes) == frame, "the fast path does not read back its own \(frame.message.name)"
        )
    default:
        break
    }
}

private func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fail(message()) }
}

private func fail(_ message: String) -> Never {
    fatalError("fuzz-frames: \(message)")
}
