import Foundation
import Testing
import SRv6Paths
@testable import SubflowSteering
import NetworkLab
import LinuxSystem
import TestSupport

/// `srte open --topology` in a testbed lab of the bundled diamond: one subflow per
/// planned path, each path's middle link carrying a real share of the bytes.
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates network namespaces"), .timeLimit(.minutes(2)))
struct OpenTopologyCLITests {
    func run(_ ns: String, _ args: [String]) throws -> Process { srteProcess(inNamespace: ns, args) }

    @Test func opensOneSubflowPerPlannedPath() throws {
        let file = packageRoot + "/topologies/diamond.yaml"
        let topology = try bundledTopology("diamond.yaml")
        let bed = try Testbed.up(topology, lab: "ot\(getpid() % 100000)")
        defer { _ = try? bed.down() }
        let serve = try startServe(inNamespace: bed.namespace(of: "h2")!)
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
            // Each planned path carries a real share (left to the IGP, b and c would carry
            // nothing); the scheduler's split varies with the machine's load, hence no tighter bound.
            #expect(moved > 500_000, "r1 → \(mid) carried \(moved) bytes")
        }
    }

    /// `srte open --topology` on a topology with `csid:`: the subflows via b and c carry one
    /// RFC 9800 container each as Destination Address, in reduced SRHs (the default), and the
    /// routers' NEXT-C-SID End C-SIDs process them.
    @Test func opensCompressedReducedPaths() throws {
        let text = try String(contentsOfFile: packageRoot + "/topologies/diamond.yaml", encoding: .utf8)
            .replacingOccurrences(of: "name: diamond\n", with: "name: diamond\ncsid: { block: \"fc00:0::/32\", length: 16 }\n")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("srte-open-csid-\(getpid()).yaml").path
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        defer { unlink(file) }
        let topology = try Topology(yaml: text, file: file)
        #expect(topology.hasCSIDs)
        let bed = try Testbed.up(topology, lab: "oc\(getpid() % 100000)")
        defer { _ = try? bed.down() }
        let serve = try startServe(inNamespace: bed.namespace(of: "h2")!)
        defer { if serve.isRunning { serve.terminate() } }
        Thread.sleep(forTimeInterval: 0.5)
        let before = try bed.linkCounters(), sidsBefore = try bed.sidCounters()
        let open = try run(bed.namespace(of: "h1")!, ["open", "--topology", file, "--from", "h1", "--to", "h2", "-k", "3",
                                                       "--bytes", "9000000", "--format", "json"])
        let out = Pipe(), err = Pipe()
        open.standardOutput = out
        open.standardError = err
        try open.run()
        let od = out.fileHandleForReading.readDataToEndOfFile()
        let ed = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        open.waitUntilExit()
        #expect(open.terminationStatus == 0, "\(ed)")
        #expect(ed.contains("segment lists reduced: SRH bytes per packet 0, 24, 24"), "\(ed)")
        let o = try #require(try JSONSerialization.jsonObject(with: od) as? [String: Any])
        let subflows = try #require(o["subflows"] as? [[String: Any]])
        #expect(subflows.map { $0["segments"] as? [String] ?? ["?"] } == [[], ["fc00:0:b::", "fc00:2::2"], ["fc00:0:c::", "fc00:2::2"]])
        let after = try bed.linkCounters(), sidsAfter = try bed.sidCounters()
        for mid in ["a", "b", "c"] {
            let i = after.firstIndex { $0.a == "r1" && $0.b == mid }!
            let moved = (after[i].endA?.txBytes ?? 0) - (before[i].endA?.txBytes ?? 0)
            #expect(moved > 500_000, "r1 → \(mid) carried \(moved) bytes")
        }
        let processed = { (node: String, sid: String) -> UInt64 in
            let a = sidsAfter.first { $0.node == node && $0.sid == IPv6Address(sid)! }?.packets ?? 0
            let b = sidsBefore.first { $0.node == node && $0.sid == IPv6Address(sid)! }?.packets ?? 0
            return a - b
        }
        #expect(processed("b", "fc00:0:b::") > 300 && processed("c", "fc00:0:c::") > 300, "the End C-SIDs of b and c")
        #expect(processed("b", "fc00:0:b::1") == 0 && processed("a", "fc00:0:a::") == 0, "no whole SIDs, nothing via a's C-SID")
    }

    /// `srte open --keep`: the link r1-b goes down mid-transfer; the transfer completes, the
    /// sink (`srte serve --verify`) verifies every byte, and the replacement subflow (via c)
    /// is established within 1 s of the failure.
    @Test func keepReplacesAFailedPathAndEveryByteArrives() throws {
        let file = packageRoot + "/topologies/diamond.yaml"
        let bed = try Testbed.up(try bundledTopology("diamond.yaml"), lab: "ok\(getpid() % 100000)")
        defer { _ = try? bed.down() }
        let serve = try run(bed.namespace(of: "h2")!, ["serve", "--listen", ":5201", "--count", "1", "--timeout", "30",
                                                        "--verify", "--format", "json"])
        let sout = Pipe()
        serve.standardOutput = sout
        serve.standardError = FileHandle.nullDevice
        try serve.run()
        defer { if serve.isRunning { serve.terminate() } }
        Thread.sleep(forTimeInterval: 0.5)
        let open = try run(bed.namespace(of: "h1")!, ["open", "--topology", file, "--from", "h1", "--to", "h2", "-k", "2",
                                                       "--keep", "--cc", "cubic", "--bytes", "40000000", "--format", "json"])
        let out = Pipe(), err = Pipe()
        open.standardOutput = out
        open.standardError = err
        let collected = Collected()
        err.fileHandleForReading.readabilityHandler = { h in collected.append(h.availableData) }
        try open.run()
        #expect(collected.wait(for: "subflow(s) up", seconds: 20), "\(collected.text)")
        Thread.sleep(forTimeInterval: 1.5)
        // An upper bound of the time from the failure to the replacement: from just before the
        // link goes down until srte has printed that the replacement is established.
        let clock = ContinuousClock(), down = clock.now
        try bed.setLinks(between: "r1", and: "b", up: false)
        #expect(collected.wait(for: "replaces subflow 2", seconds: 5), "\(collected.text)")
        let delay = clock.now - down
        #expect(delay < .seconds(1), "replacement reported \(delay) after the link went down")
        let od = out.fileHandleForReading.readDataToEndOfFile()
        open.waitUntilExit()
        err.fileHandleForReading.readabilityHandler = nil
        let stderr = collected.text
        #expect(open.terminationStatus == 0, "\(stderr)")
        let o = try #require(try JSONSerialization.jsonObject(with: od) as? [String: Any], "\(stderr)")
        #expect(o["bytes"] as? Int == 40_000_000)
        let subflows = try #require(o["subflows"] as? [[String: Any]])
        #expect(subflows.count == 3, "\(subflows)")
        #expect(subflows.map { $0["segments"] as? [String] ?? ["?"] } == [[], ["fc00:0:b::1", "fc00:2::2"], ["fc00:0:c::1", "fc00:2::2"]])
        #expect(subflows.map { $0["active"] as? Bool } == [true, false, true])
        #expect(subflows[2]["replaces"] as? Int == 1)
        #expect((subflows[2]["bytesAcked"] as? Int ?? 0) > 2_000_000, "\(subflows[2])")
        let events = try #require(o["events"] as? [[String: Any]])
        #expect(events.map { $0["kind"] as? String } == ["failed", "replaced"], "\(events)")
        serve.waitUntilExit()
        #expect(serve.terminationStatus == 0)
        let sv = try #require(try JSONSerialization.jsonObject(with: sout.fileHandleForReading.readDataToEndOfFile()) as? [String: Any])
        #expect(sv["bytes"] as? Int == 40_000_000)
        #expect(sv["verified"] as? Bool == true, "\(sv)")
    }

    /// `srte open --keep --compress reduced`: the replacement of the failed subflow via b is
    /// planned for the fewest bytes and sent like the others: c's End C-SID as Destination
    /// Address in a reduced SRH (c's End C-SID counts its packets, c's whole SID none).
    @Test func keepReplacementIsCompressedLikeThePaths() throws {
        let file = packageRoot + "/topologies/diamond.yaml"
        let bed = try Testbed.up(try bundledTopology("diamond.yaml").compressible(), lab: "oz\(getpid() % 100000)")
        defer { _ = try? bed.down() }
        let serve = try run(bed.namespace(of: "h2")!, ["serve", "--listen", ":5201", "--count", "1", "--timeout", "30", "--verify"])
        serve.standardOutput = FileHandle.nullDevice
        serve.standardError = FileHandle.nullDevice
        try serve.run()
        defer { if serve.isRunning { serve.terminate() } }
        Thread.sleep(forTimeInterval: 0.5)
        let open = try run(bed.namespace(of: "h1")!, ["open", "--topology", file, "--from", "h1", "--to", "h2", "-k", "2",
                                                       "--compress", "reduced", "--keep", "--bytes", "30000000", "--format", "json"])
        let out = Pipe(), err = Pipe()
        open.standardOutput = out
        open.standardError = err
        let collected = Collected()
        err.fileHandleForReading.readabilityHandler = { h in collected.append(h.availableData) }
        try open.run()
        #expect(collected.wait(for: "subflow(s) up", seconds: 20), "\(collected.text)")
        Thread.sleep(forTimeInterval: 1.0)
        let sidsBefore = try bed.sidCounters()
        try bed.setLinks(between: "r1", and: "b", up: false)
        #expect(collected.wait(for: "replaces subflow 2", seconds: 5), "\(collected.text)")
        let od = out.fileHandleForReading.readDataToEndOfFile()
        open.waitUntilExit()
        err.fileHandleForReading.readabilityHandler = nil
        #expect(open.terminationStatus == 0, "\(collected.text)")
        let sidsAfter = try bed.sidCounters()
        let o = try #require(try JSONSerialization.jsonObject(with: od) as? [String: Any], "\(collected.text)")
        let subflows = try #require(o["subflows"] as? [[String: Any]])
        #expect(subflows.map { $0["segments"] as? [String] ?? ["?"] } == [[], ["fc00:0:b::", "fc00:2::2"], ["fc00:0:c::", "fc00:2::2"]], "\(subflows)")
        let processed = { (node: String, sid: String) -> UInt64 in
            let a = sidsAfter.first { $0.node == node && $0.sid == IPv6Address(sid)! }?.packets ?? 0
            let b = sidsBefore.first { $0.node == node && $0.sid == IPv6Address(sid)! }?.packets ?? 0
            return a - b
        }
        #expect(processed("c", "fc00:0:c::") > 300 && processed("c", "fc00:0:c::1") == 0, "c's End C-SID, not its whole SID")
        serve.waitUntilExit()
        #expect(serve.terminationStatus == 0)
    }
}

/// Output collected from a pipe while a process runs.
final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func append(_ d: Data) { lock.withLock { data.append(d) } }
    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
    /// Waits until the text contains `s`.
    func wait(for s: String, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline { if text.contains(s) { return true }; usleep(5_000) }
        return false
    }
}

