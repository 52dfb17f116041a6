import ShoalCore

/// Encoded sizes of the exchange's messages under the wire schema (`Protocol/shoal.proto`:
/// `AntiEntropyRequest`, `AntiEntropyAnswer`, `ObjectRecord`), computed without encoding: for
/// answer budgets (``ExchangeLimits/maximumAnswerBytes``), simulations and benchmarks.
///
/// Sizes are exact for that schema (proto3: fields with default values are omitted; ShoalWire's
/// tests compare them with the real encoder), framed as Shoal frames are: the varint length, then
/// `Frame { id, body }` with a request id from 2¹⁴ to 2²¹ − 1 (3 varint bytes; smaller ids take
/// fewer).
public enum ExchangeWireSize {
    /// `Frame.anti_entropy_request`'s field number.
    static let requestField = 18
    /// `Frame.anti_entropy_answer`'s field number.
    static let answerField = 19

    /// Bytes of the whole frame carrying `request`.
    public static func frame(_ request: ExchangeRequest) -> Int {
        frame(bodyField: requestField, body: encoded(request))
    }

    /// Bytes of the whole frame carrying `answer`.
    public static func frame(_ answer: ExchangeAnswer, horizon: TombstoneHorizon) -> Int {
        frame(bodyField: answerField, body: encoded(answer, horizon: horizon))
    }

    /// Bytes of one encoded `ObjectRecord` (without its field tag and length).
    public static func record(_ record: ObjectRecord) -> Int {
        var size = bytesField(32)
        if record.kind != .chunk { size += 2 }
        if record.isStored { size += 2 }
        for claim in record.claims {
            size += message(optionalBytesField(claim.owner.key.count) + int64Field(claim.claimedAt.nanoseconds))
        }
        for t in record.tombstones {
            size += message(bytesField(t.owner.key.count) + int64Field(t.deletedAt.nanoseconds) + bytesField(32))
        }
        return size
    }

    /// Bytes of a frame with body field number `bodyField` whose message encodes to `body` bytes.
    public static func frame(bodyField: Int, body: Int) -> Int {
        let frame = 1 + varint(1 << 20) + (bodyField < 16 ? 1 : 2) + varint(UInt64(body)) + body
        return varint(UInt64(frame)) + frame
    }

    // MARK: Messages

    static func encoded(_ request: ExchangeRequest) -> Int {
        let horizon = int64Field(request.horizon.cutoff.nanoseconds)
        switch request.body {
        case .summaries(let ranges), .children(let ranges):
            return horizon + message(ranges.reduce(0) { $0 + message(keyRange($1)) })
        case .records(let queries):
            return horizon
                + message(
                    queries.reduce(0) {
                        $0 + message(message(keyRange($1.range)) + ($1.after == nil ? 0 : bytesField(32)))
                    })
        }
    }

    static func encoded(_ answer: ExchangeAnswer, horizon: TombstoneHorizon) -> Int {
        let horizon = int64Field(horizon.cutoff.nanoseconds)
        switch answer {
        case .summaries(let summaries):
            return horizon + message(summaries.reduce(0) { $0 + message(summary($1)) })
        case .records(let pages):
            return horizon + message(pages.reduce(0) { $0 + message(page($1)) })
        case .horizonMismatch:
            return horizon + 2
        case .refused(let reason):
            return horizon + bytesField(reason.utf8.count)
        }
    }

    static func page(_ page: RecordPage) -> Int {
        page.records.reduce(0) { $0 + message(record($1)) } + (page.isComplete ? 2 : 0)
    }

    static func keyRange(_ range: KeyRange) -> Int {
        let prefixBytes = (range.bitLength + 7) / 8
        return (prefixBytes > 0 ? bytesField(prefixBytes) : 0)
            + (range.bitLength > 0 ? 1 + varint(UInt64(range.bitLength)) : 0)
    }

    static func summary(_ summary: RangeSummary) -> Int {
        (summary.count > 0 ? 1 + varint(summary.count) : 0) + bytesField(32)
    }

    // MARK: Protobuf primitives

    /// A length-delimited field (tag below 16) holding `length` bytes.
    static func bytesField(_ length: Int) -> Int { 1 + varint(UInt64(length)) + length }

    /// A length-delimited field (tag below 16) holding `length` bytes, omitted when empty.
    static func optionalBytesField(_ length: Int) -> Int { length == 0 ? 0 : bytesField(length) }

    /// An embedded message field (tag below 16) whose content is `length` bytes.
    public static func message(_ length: Int) -> Int { bytesField(length) }

    /// An int64 field (tag below 16); omitted when zero.
    static func int64Field(_ value: Int64) -> Int { value == 0 ? 0 : 1 + varint(UInt64(bitPattern: value)) }

    /// Bytes of `value` as a base-128 varint.
    static func varint(_ value: UInt64) -> Int { max(1, (64 - value.leadingZeroBitCount + 6) / 7) }
}
