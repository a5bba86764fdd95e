import Foundation
import Testing
import SRv6Paths
@testable import SubflowSteering
import NetworkLab
import LinuxSystem
import TestSupport

/// The srte binary next to this test bundle.
func srteBinary() -> URL {
    URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("srte")
}

/// Starts srte; returns the process and its stdout/stderr pipes.
func startSrte(_ args: [String]) throws -> (Process, Pipe, Pipe) {
    let p = Process()
    p.executableURL = srteBinary()
    p.arguments = args
    let o = Pipe(), e = Pipe()
    p.standardOutput = o
    p.standardError = e
    try p.run()
    return (p, o, e)
}

/// srte under `ip netns exec NS` (not started).
func srteProcess(inNamespace ns: String, _ args: [String]) -> Process {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["ip", "netns", "exec", ns, srteBinary().path] + args
    return p
}

/// `srte serve --count 1` on `port` in a lab namespace, output discarded; started.
func startServe(inNamespace ns: String, port: Int = 5201) throws -> Process {
    let p = srteProcess(inNamespace: ns, ["serve", "--listen", ":\(port)", "--count", "1", "--timeout", "30"])
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    return p
}

/// dumpcap on `node`'s first interface of `bed`, writing `file`: packets matching the capture
/// `filter`, at most `snap` bytes of each, until one of the stop conditions in `stop` (`-a` and
/// `-c` options). Started; it must stop by itself: the test runner's children inherit its
/// blocked signals, so a SIGINT or SIGTERM would not reach dumpcap (SIGKILL does).
func startDumpcap(_ bed: Testbed, on node: String, filter: String, snap: Int, stop: [String], to file: String) throws -> Process {
    let argv = try bed.execArguments(node, ["/usr/bin/dumpcap", "-q", "-i", bed.plan.node(node)!.interfaces[0].name, "-s", "\(snap)",
                                            "-f", filter] + stop + ["-w", file])
    let dump = Process()
    dump.executableURL = URL(fileURLWithPath: argv[0])
    dump.arguments = Array(argv.dropFirst())
    dump.standardOutput = FileHandle.nullDevice
    dump.standardError = FileHandle.nullDevice
    try dump.run()
    return dump
}

func runSrteCommand(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
    let (p, o, e) = try startSrte(args)
    let od = o.fileHandleForReading.readDataToEndOfFile(), ed = e.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: od, as: UTF8.self), String(decoding: ed, as: UTF8.self))
}

@Suite(.serialized, .enabled(if: isRoot && FileManager.default.fileExists(atPath: srteBinary().path), "needs root and the built srte binary"), .timeLimit(.minutes(1)))
struct CLIIntegrationTests {
    @Test func subflowsCloseAndMonitor() throws {
        let lab = try MPTCPLab("cli")
        let (c, accepted) = try lab.connect(from: SocketEndpoint(lab.client.address, port: 40400))
        // A monitor in the client namespace, started before the subflows.
        let (mon, monOut, _) = try startSrte(["monitor", "--netns", lab.lab.ns("c"), "--format", "json", "--timeout", "3"])
        defer { if mon.isRunning { mon.terminate() } }
        Thread.sleep(forTimeInterval: 0.3)
        let ids = try c.openSubflows([41401, 41402].map { SubflowTuple(local: SocketEndpoint(lab.client.address, port: $0), remote: lab.server, backup: $0 == 41402) })
        #expect(ids.count == 2)

        let list = try runSrteCommand(["subflows", "--netns", lab.lab.ns("c"), "--token", String(c.token), "--format", "json"])
        #expect(list.status == 0, "\(list.err)")
        for p in [40400, 41401, 41402] { #expect(list.out.contains("\"port\": \(p)}"), "port \(p) listed") }
        #expect(list.out.contains("\"port\": 41402}, \"remote\": {\"address\": \"fc00:1::2\", \"port\": 5000}, \"id\": 2, \"remoteId\": 0, \"backup\": true"))

        let text = try runSrteCommand(["subflows", "--netns", lab.lab.ns("c")])
        #expect(text.status == 0 && text.out.split(separator: "\n").count == 4, "\(text.out)")

        let close = try runSrteCommand(["close", "--netns", lab.lab.ns("c"), "--token", String(c.token), "--local", "[fc00:1::1]:41401", "--remote", "[fc00:1::2]:5000"])
        #expect(close.status == 0, "\(close.err)")
        let again = try runSrteCommand(["close", "--netns", lab.lab.ns("c"), "--token", String(c.token), "--local", "[fc00:1::1]:41401", "--remote", "[fc00:1::2]:5000"])
        #expect(again.status == 1)
        #expect(again.err.contains("subflow not found"), "the kernel's message: \(again.err)")

        mon.waitUntilExit()
        let events = String(decoding: monOut.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(events.split(separator: "\n").filter { $0.contains("\"SUB_ESTABLISHED\"") }.count == 2, "\(events)")
        #expect(events.contains("{\"event\": \"SUB_CLOSED\", \"token\": \(c.token), \"localId\": 1"), "\(events)")
        withExtendedLifetime(accepted) {}
    }

    @Test func pathManagerStateGivesOneActionableMessage() throws {
        let lab = try MPTCPLab("clipm", clientPMType: 0)
        let r = try runSrteCommand(["close", "--netns", lab.lab.ns("c"), "--token", "1", "--local", "[fc00:1::1]:1", "--remote", "[fc00:1::2]:2"])
        #expect(r.status == 3)
        #expect(r.err == "srte: this network namespace uses the in-kernel MPTCP path manager: run `sysctl -w net.mptcp.pm_type=1` (userspace path manager) to open, close or re-prioritise subflows\n")
        try lab.lab.sysctl("c", "net.mptcp.enabled", "0")
        let m = try runSrteCommand(["monitor", "--netns", lab.lab.ns("c"), "--timeout", "0.2"])
        #expect(m.status == 3)
        #expect(m.err.split(separator: "\n").count == 1)
        #expect(m.err.contains("sysctl -w net.mptcp.enabled=1"))
    }
}
