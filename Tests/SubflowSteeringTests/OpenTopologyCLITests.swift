import Foundation
import Testing
import SRv6Paths
@testable import SubflowSteering

/// `srte open --topology` in a testbed lab of the bundled diamond: one subflow per
/// planned path, each path's middle link carrying a real share of the bytes.
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates network namespaces"), .timeLimit(.minutes(2)))
struct OpenTopologyCLITests {
    func run(_ ns: String, _ args: [String]) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["ip", "netns", "exec", ns, srteBinary().path] + args
        return p
    }

    @Test func opensOneSubflowPerPlannedPath() throws {
        let file = packageRootSteering + "/topologies/diamond.yaml"
        let topology = try bundledTopology("diamond.yaml")
        let bed = try Testbed.up(topology, lab: "ot\(getpid() % 100000)")
        defer { _ = try? bed.down() }
        let serve = try run(bed.namespace(of: "h2")!, ["serve", "--listen", ":5201", "--count", "1", "--timeout", "30"])
        serve.standardOutput = FileHandle.nullDevice
        serve.standardError = FileHandle.nullDevice
        try serve.run()
        defer { if serve.isRunning { serve.terminate() } }
        Thread.sleep(forTimeInterval: 0.5)
        let before = try bed.linkCounters()
        let open = try run(bed.namespace(of: "h1")!, ["open", "--topology", file, "--from", "h1", "--to", "h2", "-k", "3",
                                                       "--bytes", "9000000", "--format", "json"])
        let out = Pipe(), err = Pipe()
        open.standardOutput = out
        open.standardError = err
        try open.run()
        let od = out.fileHandleForReading.readDataToEndOfFile()
        let ed = err.fileHandleForReading.readDataToEndOfFile()
        open.waitUntilExit()
        #expect(open.terminationStatus == 0, "\(String(decoding: ed, as: UTF8.self))")
        let o = try #require(try JSONSerialization.jsonObject(with: od) as? [String: Any])
        let subflows = try #require(o["subflows"] as? [[String: Any]])
        #expect(subflows.map { $0["segments"] as? [String] ?? ["?"] } == [[], ["fc00:0:b::1", "fc00:2::2"], ["fc00:0:c::1", "fc00:2::2"]])
        let after = try bed.linkCounters()
        for mid in ["a", "b", "c"] {
            let i = after.firstIndex { $0.a == "r1" && $0.b == mid }!
            let moved = (after[i].endA?.txBytes ?? 0) - (before[i].endA?.txBytes ?? 0)
            #expect(moved > 1_000_000, "r1 → \(mid) carried \(moved) bytes")
        }
    }
}

/// The package root (three levels above this file).
var packageRootSteering: String {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}
