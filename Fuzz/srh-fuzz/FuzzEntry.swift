// libFuzzer target for the SRH decoder and validator.
//
// Built normally, this is a replay tool: `srh-fuzz FILE...` runs each file
// through the same checks. Built with -sanitize=fuzzer (README "Fuzzing"),
// libFuzzer supplies main() and calls srteFuzzOneInput.
import SRv6Paths

/// Checks the invariants the SRH code promises for arbitrary bytes:
/// decode succeeds exactly when validate does; a decoded header re-encodes to
/// the same bytes; warnings never crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func srteFuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    let valid = (try? SegmentRoutingHeader.validate(bytes)) != nil
    do {
        let srh = try SegmentRoutingHeader(decoding: bytes)
        precondition(valid, "decode accepted what validate rejected")
        let again = try srh.encoded()
        precondition(again == bytes, "round trip changed the bytes")
        _ = srh.rfc8754Warnings
    } catch {
        precondition(!valid, "decode rejected what validate accepted: \(error)")
    }
    return 0
}

#if SRTE_FUZZING
// SwiftPM links an executable's entry point as `<module>_main`; hand control
// to libFuzzer's driver from there.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@_cdecl("srh_fuzz_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var c = argc
    var v = argv
    return LLVMFuzzerRunDriver(&c, &v, srteFuzzOneInput)
}
#else
import Foundation

/// Replay mode (normal builds): runs each file given through the fuzz checks.
@main
struct Replay {
    static func main() {
        for path in CommandLine.arguments.dropFirst() {
            guard let d = FileManager.default.contents(atPath: path) else { print("cannot read \(path)"); exit(2) }
            let a = [UInt8](d)
            _ = a.withUnsafeBufferPointer { srteFuzzOneInput($0.baseAddress, $0.count) }
            print("\(path): ok")
        }
    }
}
#endif
