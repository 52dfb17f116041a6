import ShoalCore

// libFuzzer target `addresses`: `FileAddress(parsing:)` and `PeerAddress(parsing:)` on text read
// from the input: after a first byte 0x01 as Latin-1 (each byte one scalar), after 0x02 as UTF-16LE
// (lone surrogates repaired), otherwise all of it as UTF-8 (invalid sequences repaired). Whatever
// parses must print (`description`) as text that parses back to an equal value.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAddresses(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = UnsafeBufferPointer(start: data, count: count)
    let text: String
    switch input.first {
    case 0x01?:
        var scalars = String.UnicodeScalarView()
        scalars.append(contentsOf: input.dropFirst().map { Unicode.Scalar($0) })
        text = String(scalars)
    case 0x02?:
        let bytes = input.dropFirst()
        let units = stride(from: bytes.startIndex, to: bytes.endIndex - 1, by: 2).map {
            UInt16(bytes[$0]) | UInt16(bytes[$0 + 1]) << 8
        }
        text = String(decoding: units, as: UTF16.self)
    default:
        text = String(decoding: input, as: UTF8.self)
    }
    checkFileAddress(text)
    checkPeerAddress(text)
    return 0
}

private func checkFileAddress(_ text: String) {
    guard let address = try? FileAddress(parsing: text) else { return }
    let printed = address.description
    do {
        let again = try FileAddress(parsing: printed)
        require(again == address, "FileAddress '\(text)' prints as '\(printed)', which parses to \(again)")
    } catch {
        fail("FileAddress '\(text)' prints as '\(printed)', which does not parse: \(error)")
    }
    require(address.isPublic == (address.key == nil), "isPublic disagrees with the key")
}

private func checkPeerAddress(_ text: String) {
    guard let address = try? PeerAddress(parsing: text) else { return }
    require((0...65535).contains(address.port), "PeerAddress '\(text)' has port \(address.port)")
    require(!address.host.isEmpty, "PeerAddress '\(text)' has an empty host")
    let printed = address.description
    do {
        let again = try PeerAddress(parsing: printed)
        require(
            again == address,
            "PeerAddress \(debug(text)) prints as \(debug(printed)), which parses to host \(debug(again.host)) port \(again.port)"
        )
    } catch {
        fail("PeerAddress \(debug(text)) prints as \(debug(printed)), which does not parse: \(error)")
    }
}

/// Text with its scalars spelled out, so that invisible and combining characters show in a report.
private func debug(_ text: String) -> String {
    "'\(text)' [" + text.unicodeScalars.map { String($0.value, radix: 16) }.joined(separator: " ") + "]"
}

private func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fail(message()) }
}

private func fail(_ message: String) -> Never {
    fatalError("fuzz-addresses: \(message)")
}
