import NIOCore
import ShoalCore
import SwiftProtobuf

/// Why a frame could not be read. Any of these closes the one connection it came from.
public enum FrameError: Error, Equatable, CustomStringConvertible {
    /// The length prefix announces more than the limit; nothing of the frame is buffered.
    case frameTooLarge(length: UInt64, limit: Int)
    /// The length prefix is not a valid varint (more than 10 bytes, or over 64 bits).
    case malformedLength
    /// The bytes are not a protobuf `Frame`.
    case malformedFrame(String)
    /// A `Frame` with no body, or a body this version does not know.
    case unknownBody
    /// A body whose fields are out of range; `id` is the request's id, so the Error can echo it.
    case invalid(String, id: UInt64 = 0)

    public var description: String {
        switch self {
        case .frameTooLarge(let length, let limit): return "frame of \(length) bytes exceeds the \(limit)-byte limit"
        case .malformedLength: return "malformed frame length prefix"
        case .malformedFrame(let why): return "malformed frame: \(why)"
        case .unknownBody: return "frame has no body or an unknown body type"
        case .invalid(let why, _): return "invalid frame: \(why)"
        }
    }

    /// The id of the request the error concerns (0 when unknown).
    public var requestID: UInt64 {
        if case .invalid(_, let id) = self { return id }
        return 0
    }

    /// The wire error code a peer is told before the connection closes.
    public var code: WireError.Code {
        switch self {
        case .frameTooLarge: return .frameTooLarge
        case .malformedLength, .malformedFrame, .unknownBody: return .protocolViolation
        case .invalid: return .badRequest
        }
    }
}

extension WireLimits {
    /// The largest frame accepted or sent: an 8 MiB chunk plus room for its headers.
    public static let maximumFrameSize = 9 << 20
}

/// What a connection's decoder knows of the frame it is receiving, for the connection's limits:
/// its announced length once the prefix is in, and when its first byte arrived. Confined to the
/// connection's event loop.
public final class FrameProgress {
    /// The length of the frame being received, once its length prefix arrived.
    public internal(set) var announcedLength: Int?
    /// When the first byte of the frame being received arrived; `nil` between frames.
    public internal(set) var startedAt: NIODeadline?
    /// Frames decoded so far.
    public internal(set) var framesDecoded = 0

    public init() {}
}

/// Decodes varint-length-delimited `Frame`s. Bytes are never buffered beyond one frame's length,
/// and a length over `maximumFrameSize` throws before any of the body is read.
public struct FrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = WireFrame
    public let maximumFrameSize: Int
    /// Told about each frame as it arrives.
    public let progress: FrameProgress?

    public init(maximumFrameSize: Int = WireLimits.maximumFrameSize, progress: FrameProgress? = nil) {
        self.maximumFrameSize = maximumFrameSize
        self.progress = progress
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if let progress, progress.startedAt == nil, buffer.readableBytes > 0 { progress.startedAt = .now() }
        guard let frame = try Self.readFrame(from: &buffer, maximumFrameSize: maximumFrameSize) else {
            // Make room for the whole frame at once, rather than growing the buffer as it arrives.
            var view = buffer
            if let length = try Self.readVarint(from: &view) {
                progress?.announcedLength = Int(length)
                if length > UInt64(view.readableBytes) {
                    buffer.reserveCapacity(minimumWritableBytes: Int(length) - view.readableBytes)
                }
            }
            return .needMoreData
        }
        if let progress {
            progress.framesDecoded += 1
            progress.announcedLength = nil
            progress.startedAt = buffer.readableBytes > 0 ? .now() : nil
        }
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
    ) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }

    /// Reads one frame if the buffer holds all of it; leaves the buffer untouched otherwise.
    public static func readFrame(from buffer: inout ByteBuffer, maximumFrameSize: Int) throws -> WireFrame? {
        var view = buffer
        guard let length = try readVarint(from: &view) else { return nil }
        guard length <= UInt64(maximumFrameSize) else {
            throw FrameError.frameTooLarge(length: length, limit: maximumFrameSize)
        }
        guard let body = view.readSlice(length: Int(length)) else { return nil }
        buffer = view
        if let frame = DataFrameCodec.decode(body) { return frame }
        return try decodeGenerally(body)
    }

    /// Decodes one Frame's bytes (no length prefix) with SwiftProtobuf, the path every frame takes
    /// that ``DataFrameCodec`` does not; visible to the package so the fuzz target can check that
    /// both paths read data frames alike.
    package static func decodeGenerally(_ body: ByteBuffer) throws -> WireFrame {
        let proto: Shoal_V1_Frame
        do {
            proto = try Shoal_V1_Frame(serializedBytes: Array(body.readableBytesView))
        } catch {
            throw FrameError.malformedFrame("\(error)")
        }
        do {
            return try WireFrame(proto: proto)
        } catch FrameError.invalid(let why, _) {
            throw FrameError.invalid(why, id: proto.id)
        }
    }

    /// Reads an unsigned LEB128 varint; `nil` if more bytes are needed.
    static func readVarint(from buffer: inout ByteBuffer) throws -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        for i in 0..<10 {
            guard let byte: UInt8 = buffer.readInteger() else { return nil }
            if i == 9 && byte > 1 { throw FrameError.malformedLength }
            value |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        throw FrameError.malformedLength
    }
}

/// Encodes `WireFrame`s with a varint length prefix.
public struct FrameEncoder: MessageToByteEncoder {
    public typealias OutboundIn = WireFrame
    public let maximumFrameSize: Int

    public init(maximumFrameSize: Int = WireLimits.maximumFrameSize) {
        self.maximumFrameSize = maximumFrameSize
    }

    public func encode(data: WireFrame, out: inout ByteBuffer) throws {
        try Self.write(data, to: &out, maximumFrameSize: maximumFrameSize)
    }

    /// Appends one encoded frame to `out`.
    /// - Throws: `FrameError.frameTooLarge` when the encoding exceeds the limit (nothing is written).
    public static func write(
        _ frame: WireFrame, to out: inout ByteBuffer, maximumFrameSize: Int = WireLimits.maximumFrameSize
    ) throws {
        if var parts = DataFrameCodec.encode(frame) {
            guard parts.frameLength <= maximumFrameSize else {
                throw FrameError.frameTooLarge(length: UInt64(parts.frameLength), limit: maximumFrameSize)
            }
            out.writeBuffer(&parts.prefix)
            out.writeBuffer(&parts.data)
            out.writeBuffer(&parts.suffix)
            return
        }
        let bytes = try encodeGenerally(frame)
        guard bytes.count <= maximumFrameSize else {
            throw FrameError.frameTooLarge(length: UInt64(bytes.count), limit: maximumFrameSize)
        }
        var length = UInt64(bytes.count)
        while length >= 0x80 {
            out.writeInteger(UInt8(truncatingIfNeeded: length) | 0x80)
            length >>= 7
        }
        out.writeInteger(UInt8(length))
        out.writeBytes(bytes)
    }

    /// One Frame's SwiftProtobuf encoding (no length prefix), the bytes ``DataFrameCodec`` must
    /// reproduce for data frames; visible to the package for the fuzz target.
    package static func encodeGenerally(_ frame: WireFrame) throws -> [UInt8] {
        try frame.proto.serializedBytes()
    }

    /// One frame's encoding, for tests and tools.
    public static func encode(_ frame: WireFrame) throws -> [UInt8] {
        var buffer = ByteBuffer()
        try write(frame, to: &buffer)
        return Array(buffer.readableBytesView)
    }
}

/// Writes `WireFrame`s to the channel, the bytes of data frames as they are (the buffers they
/// arrived in or were read from disk into), without copying them into one frame buffer.
public final class FrameWriter: ChannelOutboundHandler, Sendable {
    public typealias OutboundIn = WireFrame
    public typealias OutboundOut = ByteBuffer
    public let maximumFrameSize: Int

    public init(maximumFrameSize: Int = WireLimits.maximumFrameSize) {
        self.maximumFrameSize = maximumFrameSize
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = unwrapOutboundIn(data)
        do {
            if let parts = DataFrameCodec.encode(frame, allocator: context.channel.allocator) {
                guard parts.frameLength <= maximumFrameSize else {
                    throw FrameError.frameTooLarge(length: UInt64(parts.frameLength), limit: maximumFrameSize)
                }
                context.write(wrapOutboundOut(parts.prefix), promise: nil)
                if parts.data.readableBytes > 0 { context.write(wrapOutboundOut(parts.data), promise: nil) }
                context.write(wrapOutboundOut(parts.suffix), promise: promise)
                return
            }
            var out = context.channel.allocator.buffer(capacity: 256)
            try FrameEncoder.write(frame, to: &out, maximumFrameSize: maximumFrameSize)
            context.write(wrapOutboundOut(out), promise: promise)
        } catch {
            promise?.fail(error)
            context.fireErrorCaught(error)
        }
    }
}
