import Foundation
import Testing
import SRv6Paths
@testable import SubflowSteering
import NetworkLab
import LinuxSystem
import TestSupport

/// A process started inside a lab node, with its output collected.
final class LabProcess: @unchecked Sendable {
    let process = Process()
    private let out = Pipe(), err = Pipe()
    private let lock = NSLock()
    private var outData = Data(), errData = Data()

    init(_ lab: TestLab, _ node: String, _ args: [String]) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ip", "netns", "exec", lab.ns(node)] + args
        process.standardOutput = out
        process.standardError = err
        out.fileHandleForReading.readabilityHandler = { [weak self] h in let d = h.availableData; self?.append(d, err: false) }
        err.fileHandleForReading.readabilityHandler = { [weak self] h in let d = h.availableData; self?.append(d, err: true) }
        try process.run()
    }

    private func append(_ d: Data, err: Bool) {
        lock.lock(); defer { lock.unlock() }
        if err { errData.append(d) } else { outData.append(d) }
    }

    var stdout: String { lock.lock(); defer { lock.unlock() }; return String(decoding: outData, as: UTF8.self) }
    var stderr: String { lock.lock(); defer { lock.unlock() }; return String(decoding: errData, as: UTF8.self) }

    /// Waits up to `seconds` for the process to exit; kills it if it does not.
    @discardableResult
    func wait(seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { process.terminate(); usleep(200_000); if process.isRunning { kill(process.processIdentifier, SIGKILL) }; return nil }
        usleep(50_000)   // let the readability handlers drain
        return process.terminationStatus
    }

    /// Waits until stderr contains `text`.
    func waitFor(stderr text: String, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline { if stderr.contains(text) { return true }; usleep(20_000) }
        return false
    }

    /// The pid of the srte process itself (the child of `ip netns exec`, which execs it: same pid).
    var pid: Int32 { process.processIdentifier }
}

@Suite(.serialized, .enabled(if: isRoot, "needs root: creates network namespaces"))
struct OpenServeCLITests {
    func lab(_ tag: String) throws -> TwoPathLab {
        let t = try TwoPathLab(tag)
        for n in ["h1", "h2"] { try t.lab.sysctl(n, "net.mptcp.pm_type", "1") }
        for dev in ["r1-a", "r1-b"] {
            try t.lab.exec("r1", ["tc", "qdisc", "add", "dev", dev, "root", "tbf", "rate", "50mbit", "burst", "64kb", "latency", "50ms"])
        }
        return t
    }

    func leftovers(_ t: TwoPathLab) throws -> String {
        let rules = try t.lab.exec("h1", ["ip", "-6", "rule", "show"]).split(separator: "\n")
            .filter { !$0.hasPrefix("0:") && !$0.hasPrefix("32766:") }.joined(separator: "\n")
        let reserved = try t.lab.exec("h1", ["cat", "/proc/sys/net/ipv4/ip_local_reserved_ports"]).trimmingCharacters(in: .whitespacesAndNewlines)
        return rules + (try t.lab.exec("h1", ["ip", "-6", "route", "show", "table", "all", "proto", "83"]))
            + (reserved.isEmpty ? "" : "reserved ports: \(reserved)")
    }

    @Test(arguments: ["route", "bpf"])
    func openAndServeReportPerSubflow(steer: String) throws {
        if steer == "route" { try requireSeg6Routes() }
        let t = try lab("cli\(steer.prefix(1))")
        defer { t.lab.destroy() }
        let serve = try LabProcess(t.lab, "h2", [srteBinary().path, "serve", "--listen", ":5201", "--count", "1", "--format", "json", "--timeout", "30"])
        #expect(serve.waitFor(stderr: "listening", seconds: 10), "serve: \(serve.stderr)")
        let open = try LabProcess(t.lab, "h1", [srteBinary().path, "open", "--to", "[fc00:20::2]:5201", "--path", "direct",
                                                "--path", "fc00:0:b::1", "--steer", steer, "--bytes", "8000000", "--format", "json"])
        #expect(open.wait(seconds: 60) == 0, "open: \(open.stderr)")
        #expect(serve.wait(seconds: 10) == 0, "serve: \(serve.stderr)")
        // {"bytes": N, "seconds": s, "subflows": [{"id", "local", "remote", "segments", "bytesAcked"}]}
        let o = try #require(try JSONSerialization.jsonObject(with: Data(open.stdout.utf8)) as? [String: Any], "open printed: \(open.stdout)")
        #expect(o["bytes"] as? Int == 8_000_000)
        let subflows = try #require(o["subflows"] as? [[String: Any]])
        #expect(subflows.count == 2)
        #expect((subflows[0]["segments"] as? [String]) == [])
        #expect((subflows[1]["segments"] as? [String]) == ["fc00:0:b::1", "fc00:20::2"])
        for s in subflows { #expect((s["bytesAcked"] as? Int ?? 0) > 1_000_000, "\(s)") }
        let sv = try #require(try JSONSerialization.jsonObject(with: Data(serve.stdout.utf8)) as? [String: Any], "serve printed: \(serve.stdout)")
        #expect(sv["bytes"] as? Int == 8_000_000)
        #expect(sv["multipath"] as? Bool == true)
        #expect((sv["subflows"] as? [Any])?.count == 2)
        let left = try leftovers(t)
        #expect(left.isEmpty, "left after a normal exit: \(left)")
    }

    /// SIGINT and SIGTERM mid-transfer: everything srte installed is gone.
    @Test(arguments: [SIGINT, SIGTERM])
    func signalsRemoveSteering(signal: Int32) throws {
        let t = try lab("sig\(signal)")
        defer { t.lab.destroy() }
        let serve = try LabProcess(t.lab, "h2", [srteBinary().path, "serve", "--listen", ":5201", "--count", "1", "--timeout", "30"])
        defer { serve.wait(seconds: 0) }
        #expect(serve.waitFor(stderr: "listening", seconds: 10))
        let open = try LabProcess(t.lab, "h1", [srteBinary().path, "open", "--to", "[fc00:20::2]:5201", "--path", "fc00:0:a::1",
                                                "--path", "fc00:0:b::1", "--bytes", "10000000000"])
        #expect(open.waitFor(stderr: "subflow(s) up", seconds: 20), "open: \(open.stderr)")
        #expect(try !leftovers(t).isEmpty, "steering should be installed while the transfer runs")
        kill(open.pid, signal)
        #expect(open.wait(seconds: 10) == 128 + signal, "open: \(open.stderr)")
        let left = try leftovers(t)
        #expect(left.isEmpty, "left after signal \(signal): \(left)")
    }

    /// SIGKILL: the kernel removes the BPF program with the process.
    @Test func sigkillLeavesNoBPFProgram() throws {
        let t = try lab("sigkill")
        defer { t.lab.destroy() }
        let serve = try LabProcess(t.lab, "h2", [srteBinary().path, "serve", "--listen", ":5201", "--count", "1", "--timeout", "30"])
        defer { serve.wait(seconds: 0) }
        #expect(serve.waitFor(stderr: "listening", seconds: 10))
        let open = try LabProcess(t.lab, "h1", [srteBinary().path, "open", "--to", "[fc00:20::2]:5201", "--path", "direct",
                                                "--path", "fc00:0:b::1", "--steer", "bpf", "--bytes", "10000000000"])
        #expect(open.waitFor(stderr: "subflow(s) up", seconds: 20), "open: \(open.stderr)")
        let before = try NetworkNamespace.run(in: t.lab.ns("h1")) { try BPFSteering.attachedEgressPrograms(interface: "h1-r1") }
        #expect(before == 1)
        kill(open.pid, SIGKILL)
        open.wait(seconds: 10)
        let after = try NetworkNamespace.run(in: t.lab.ns("h1")) { try BPFSteering.attachedEgressPrograms(interface: "h1-r1") }
        #expect(after == 0)
        // The port reservation is a sysctl, which SIGKILL cannot give back either.
        #expect(try t.lab.exec("h1", ["cat", "/proc/sys/net/ipv4/ip_local_reserved_ports"]).contains("40000-40999"))
        // The MTU route is routing state, which SIGKILL cannot clean: `srte cleanup` does.
        let cleanup = try LabProcess(t.lab, "h1", [srteBinary().path, "cleanup"])
        #expect(cleanup.wait(seconds: 10) == 0)
        #expect(try leftovers(t).isEmpty)
    }

    /// --reflect: the receiver steers each subflow's replies along the reversed list,
    /// so the ACKs of the subflow sent via b come back via b (r2 → b), not via a.
    @Test(arguments: ["route", "bpf"])
    func reflectSteersRepliesBack(steer: String) throws {
        if steer == "route" { try requireSeg6Routes() }
        let t = try lab("rf\(steer.prefix(1))")
        defer { t.lab.destroy() }
        try t.lab.exec("r2", ["ip", "-6", "route", "add", "fc00:0:b::/48", "via", "fc00:14::1"])
        try t.lab.sysctl("b", "net.ipv6.conf.b-r2.seg6_enabled", "1")
        try t.lab.sysctl("h1", "net.ipv6.conf.h1-r1.seg6_enabled", "1")
        func repliesViaB() throws -> Int { try t.rxBytes("b", "b-r2") }
        /// (reply bytes that came back via b, data bytes that went via b) during one transfer.
        func run(reflect: Bool) throws -> (replies: Int, data: Int) {
            let serve = try LabProcess(t.lab, "h2", [srteBinary().path, "serve", "--listen", ":5201", "--count", "1", "--timeout", "30"]
                                       + (reflect ? ["--reflect", "--steer", steer] : []))
            #expect(serve.waitFor(stderr: "listening", seconds: 10), "serve: \(serve.stderr)")
            let before = try repliesViaB(), dataBefore = try t.rxBytes("b", "b-r1")
            let open = try LabProcess(t.lab, "h1", [srteBinary().path, "open", "--to", "[fc00:20::2]:5201", "--path", "direct",
                                                    "--path", "fc00:0:b::1", "--steer", steer, "--bytes", "12000000"])
            #expect(open.wait(seconds: 60) == 0, "open: \(open.stderr)")
            #expect(serve.wait(seconds: 10) == 0, "serve: \(serve.stderr)")
            return (try repliesViaB() - before, try t.rxBytes("b", "b-r1") - dataBefore)
        }
        let without = try run(reflect: false)
        let with = try run(reflect: true)
        // About 6 MB go via b. Its ACKs come back via b only with --reflect: 45-150 kB here (how
        // many ACKs there are depends on how the receiver's GRO coalesces, so the bound is loose);
        // without --reflect under 300 bytes came back via b.
        #expect(without.replies < 20_000, "replies via b without --reflect: \(without)")
        #expect(with.data > 500_000, "data via b with --reflect: \(with)")
        #expect(with.replies > 20_000 && with.replies > 10 * without.replies, "replies via b with --reflect: \(with), without: \(without)")
        let left = try t.lab.exec("h2", ["ip", "-6", "route", "show", "table", "all", "proto", "83"])
        #expect(left.isEmpty, "h2 steering left: \(left)")
    }

    @Test func reflectRefusesWithoutSRv6Reception() throws {
        let t = try lab("rfoff")
        defer { t.lab.destroy() }
        try t.lab.sysctl("h2", "net.ipv6.conf.h2-r2.seg6_enabled", "0")
        let serve = try LabProcess(t.lab, "h2", [srteBinary().path, "serve", "--listen", ":5201", "--reflect"])
        #expect(serve.wait(seconds: 10) == 3)
        #expect(serve.stderr.contains("net.ipv6.conf.h2-r2.seg6_enabled=1"), "\(serve.stderr)")
    }

    @Test func refusesWithoutTheUserspacePathManager() throws {
        let t = try TwoPathLab("nopm")
        defer { t.lab.destroy() }
        let open = try LabProcess(t.lab, "h1", [srteBinary().path, "open", "--to", "[fc00:20::2]:5201", "--path", "fc00:0:b::1"])
        #expect(open.wait(seconds: 10) == 3)
        #expect(open.stderr.contains("net.mptcp.pm_type=1"), "\(open.stderr)")
        #expect(try leftovers(t).isEmpty)
    }
}
