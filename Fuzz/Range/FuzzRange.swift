import ShoalFile

// libFuzzer target `range`: `ByteRange.parse(_:size:)`. The input is `SIZE\nHEADER`: the file size
// in decimal (or, when that line is not a number, its length in bytes) and a `Range` header value
// (UTF-8, invalid sequences repaired). A satisfiable range must be non-empty and within `0..<size`,
// and the range it names, written back as `bytes=FIRST-LAST`, must parse to itself.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRange(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = UnsafeBufferPointer(start: data, count: count)
    let newline = input.firstIndex(of: UInt8(ascii: "\n")) ?? input.endIndex
    let sizeLine = String(decoding: input[..<newline], as: UTF8.self)
    let size = UInt64(sizeLine) ?? UInt64(newline)
    let header = String(decoding: input[min(newline + 1, input.endIndex)...], as: UTF8.self)

    guard case .satisfiable(let range)? = ByteRange.parse(header, size: size) else { return 0 }
    require(!range.isEmpty, "'\(header)' for size \(size) gives the empty range \(range)")
    require(range.upperBound <= size, "'\(header)' for size \(size) gives \(range), past the end")
    let canonical = "bytes=\(range.lowerBound)-\(range.upperBound - 1)"
    let again = ByteRange.parse(canonical, size: size)
    require(
        again == .satisfiable(range),
        "'\(header)' gives \(range), but '\(canonical)' gives \(String(describing: again))")
    return 0
}

private func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("fuzz-range: \(message())") }
}
