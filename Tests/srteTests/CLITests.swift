import Foundation
import Testing

/// Runs the built `srte` binary and returns (status, stdout, stderr).
func runSrte(_ args: [String], stdin: String? = nil) throws -> (status: Int32, out: String, err: String) {
    let bin = productsDirectory.appendingPathComponent("srte")
    let p = Process()
    p.executableURL = bin
    p.arguments = args
    let o = Pipe(), e = Pipe(), i = Pipe()
    p.standardOutput = o
    p.standardError = e
    p.standardInput = i
    try p.run()
    if let stdin { i.fileHandleForWriting.write(Data(stdin.utf8)) }
    try i.fileHandleForWriting.close()
    let od = o.fileHandleForReading.readDataToEndOfFile()
    let ed = e.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: od, as: UTF8.self), String(decoding: ed, as: UTF8.self))
}

/// The directory holding the built products (`.build/debug`).
var productsDirectory: URL {
    for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
        return bundle.bundleURL.deletingLastPathComponent()
    }
    // Swift Testing on Linux: the test binary lives in the products directory.
    return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
}

@Suite struct SRHCLITests {
    @Test func buildDecodeRoundTrip() throws {
        let b = try runSrte(["srh", "build", "--segment", "fc00:0:a::1", "--segment", "fc00:2::2"])
        #expect(b.status == 0, "\(b.err)")
        let hex = b.out.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(hex == "3b04040101000000" + "fc000002000000000000000000000002" + "fc000000000a00000000000000000001")
        let d = try runSrte(["srh", "decode", hex, "--format", "json"])
        #expect(d.status == 0)
        #expect(d.out.contains("\"segments\": [\"fc00:0:a::1\", \"fc00:2::2\"]"))
    }
}
