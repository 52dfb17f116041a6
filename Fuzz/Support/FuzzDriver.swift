import Foundation

#if SHOAL_LIBFUZZER
import CLibFuzzer
#endif

/// One fuzz input: libFuzzer's `LLVMFuzzerTestOneInput` signature. Returns 0; a failed check traps.
public typealias FuzzCallback = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

/// Runs a fuzz target's `main`.
///
/// Built by `Scripts/fuzz.sh` (`-sanitize=fuzzer -DSHOAL_LIBFUZZER`), this hands the command line to
/// libFuzzer. (SwiftPM links an executable's `main` from its own code, so libFuzzer's `main` is not
/// used; its driver is called instead.) Built without libFuzzer, it replays the files and
/// directories named on the command line, for a debugger or a build without sanitizers.
public func runFuzzTarget(_ callback: FuzzCallback) -> Never {
    #if SHOAL_LIBFUZZER
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, callback))
    #else
    var files: [String] = []
    for path in CommandLine.arguments.dropFirst() where !path.hasPrefix("-") {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            FileHandle.standardError.write(Data("no such file or directory: \(path)\n".utf8))
            exit(66)
        }
        if isDirectory.boolValue {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            files += names.sorted().map { path + "/" + $0 }
        } else {
            files.append(path)
        }
    }
    for file in files {
        guard let data = FileManager.default.contents(atPath: file) else { continue }
        _ = data.withUnsafeBytes { callback($0.bindMemory(to: UInt8.self).baseAddress, data.count) }
    }
    print("replayed \(files.count) inputs without libFuzzer")
    exit(0)
    #endif
}
