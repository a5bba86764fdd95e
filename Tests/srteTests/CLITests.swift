import Foundation
import Testing
@testable import SubflowSteering
import NetworkLab
import LinuxSystem
import SRv6Paths
import TestSupport

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

@Suite struct SRHCLIErrorTests {
    /// Bad input: a clear error naming the problem and its position, exit 2, never a crash.
    @Test(arguments: [
        (["srh", "build"], "at least one --segment"),
        (["srh", "build", "--segment", "fc00::g"], "--segment #1: invalid IPv6 address 'fc00::g'"),
        (["srh", "build", "--segment", "fc00::1", "--segment", "1::2::3"], "--segment #2"),
        (["srh", "build", "--segment", "fc00::1", "--segments-left", "1"], "--segments-left 1 is beyond the list"),
        (["srh", "build", "--segment", "fc00::1", "--hmac-key-id", "0", "--hmac-secret", "x", "--source", "fc00::2"], "key id 0"),
        (["srh", "build", "--segment", "fc00::1", "--hmac-key-id", "1", "--hmac-secret", String(repeating: "s", count: 65), "--source", "fc00::2"], "1...64 bytes"),
        (["srh", "build", "--segment", "fc00::1", "--hmac-key-id", "1", "--hmac-secret", "x"], "--source"),
        (["srh", "build", "--segment", "fc00::1", "--tag", "70000"], "--tag 70000"),
        (["srh", "decode", "3b0"], "odd number of hex digits"),
        (["srh", "decode", "3bx0"], "'x' at character 3"),
    ])
    func rejectsBadInput(args: [String], message: String) throws {
        let r = try runSrte(args)
        #expect(r.status == 2, "\(args): status \(r.status), stderr \(r.err)")
        #expect(r.err.contains(message), "\(args): \(r.err)")
        #expect(r.out.isEmpty)
    }

    @Test func tooManySegments() throws {
        let segs = (1...128).flatMap { ["--segment", "fc00::\(String($0, radix: 16))"] }
        let r = try runSrte(["srh", "build"] + segs)
        #expect(r.status == 2)
        #expect(r.err.contains("128 segments: an SRH holds at most 127"))
        let hmac = (1...15).flatMap { ["--segment", "fc00::\(String($0, radix: 16))"] }
        let h = try runSrte(["srh", "build"] + hmac + ["--hmac-key-id", "1", "--hmac-secret", "k", "--source", "fc00::99"])
        #expect(h.status == 2)
        #expect(h.err.contains("Linux signs at most 14"))
    }

    @Test func decodeOfInvalidHeaderNamesTheOffset() throws {
        // segments left 3 with last entry 1 (2 = last entry + 1 would be a reduced SRH)
        let r = try runSrte(["srh", "decode", "3b04040301000000fc000002000000000000000000000002fc000000000a00000000000000000001"])
        #expect(r.status == 1)
        #expect(r.err.contains("segments left 3 is beyond last entry 1 (segmentsLeftBeyondLastEntry, byte offset 3)"))
    }
}

@Suite struct SRHValidateCLITests {
    let good = "3b04040101000000fc000002000000000000000000000002fc000000000a00000000000000000001"
    let badSL = "3b04040201000000fc000002000000000000000000000002fc000000000a00000000000000000001"

    @Test func stdinLinesInOrderWithJSON() throws {
        let r = try runSrte(["srh", "validate", "-", "--format", "json"], stdin: [good, badSL, good, "0000"].joined(separator: "\n") + "\n")
        #expect(r.status == 1)
        let lines = r.out.split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(lines[0] == #"{"valid": true}"#)
        #expect(lines[1].hasPrefix(#"{"valid": false, "error": {"kind": "segmentsLeftBeyondLastEntry", "offset": 3"#))
        #expect(lines[2] == #"{"valid": true}"#)
        #expect(lines[3].contains(#""kind": "lengthNotMultipleOf8", "offset": 2"#))
    }

    @Test func exitStatus() throws {
        #expect(try runSrte(["srh", "validate", good]).status == 0)
        #expect(try runSrte(["srh", "validate", "-"], stdin: good + "\n" + good + "\n").status == 0)
        #expect(try runSrte(["srh", "validate", badSL]).status == 1)
        let unreadable = try runSrte(["srh", "validate", "-", "--format", "json"], stdin: good + "\nnot hex\n" + badSL + "\n")
        #expect(unreadable.status == 2)
        #expect(unreadable.out.split(separator: "\n").count == 3)
        #expect(unreadable.out.contains(#""kind": "invalidHex""#))
    }

    @Test func signedHeaderRoundTripsThroughTheCLI() throws {
        let b = try runSrte(["srh", "build", "--segment", "fc00:0:a::1", "--segment", "fc00:2::2", "--hmac-key-id", "7",
                             "--hmac-secret", "s3cret", "--source", "fc00:1::1", "--format", "json"])
        #expect(b.status == 0, "\(b.err)")
        #expect(b.out.contains(#""hmac": "c65ef1acb5a3e388c308543c19c1a776b97510f0e61060b8aaf69e6755532318""#))
        #expect(b.out.contains(#""flags": 8"#))
        #expect(b.out.contains(#""warnings": []"#))
    }

    @Test func helpTeaches() throws {
        let h = try runSrte(["srh", "build", "--help"])
        #expect(h.status == 0)
        #expect(h.out.contains("--segment <ADDR>"))
        #expect(h.out.contains("path order"))
    }
}
