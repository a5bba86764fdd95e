import Foundation
import Testing
@testable import SubflowSteering
import NetworkLab
import LinuxSystem
import SRv6Paths
import TestSupport

private let runningAsRoot = geteuid() == 0
private let stateDirectory = "/run/srte/testbed"

private func namespaceExists(_ name: String) -> Bool { access("/run/netns/\(name)", F_OK) == 0 }

/// The namespaces of `lab` that exist now: nodes (`LAB-…`) and link namespaces of delay bridges (`LAB+…`).
private func namespaces(of lab: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []).filter { $0.hasPrefix(lab + "-") || $0.hasPrefix(lab + "+") }
}

/// Running delay bridges of `lab`.
private func bridges(of lab: String) -> [Int32] { delayBridgeProcesses(prefix: lab + "+") }

/// Deletes whatever a test lab left (used in `defer`, so a failing test still cleans up).
private func forceClean(_ lab: String) {
    _ = try? runSrte(["testbed", "down", "--lab", lab])
    for pid in bridges(of: lab) { kill(pid, SIGKILL) }
    for ns in namespaces(of: lab) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["ip", "netns", "del", ns]
        try? p.run()
        p.waitUntilExit()
    }
    unlink("\(stateDirectory)/\(lab).json")
}

@Suite struct TestbedHelpTests {
    @Test func helpTeaches() throws {
        let h = try runSrte(["testbed", "--help"])
        #expect(h.status == 0)
        for s in ["up", "down", "status", "exec", "link", "stats", "srte testbed exec h1 -- ping", "netem", "/run/srte/testbed"] {
            #expect(h.out.contains(s), "help lacks \(s)")
        }
        let up = try runSrte(["testbed", "up", "--help"])
        #expect(up.out.contains("--lab") && up.out.contains("--link-prefix") && up.out.contains("--mptcp-pm") && up.out.contains("--delay"))
        // The bridge is its own executable (srte-delay-bridge), not a subcommand.
        #expect(!h.out.split(separator: "\n").contains { $0.trimmingCharacters(in: .whitespaces).hasPrefix("delay-bridge") })
    }

    @Test func badInputIsExitTwo() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let r = try runSrte(["testbed", "up", dir + "/topologies/diamond.yaml", "--lab", "bad/name"])
        #expect(r.status == 2, "\(r.err)")
        #expect(r.err.contains("cannot name a lab"))
        let p = try runSrte(["testbed", "up", dir + "/topologies/diamond.yaml", "--link-prefix", "fc00::/16"])
        #expect(p.status == 2)
        #expect(p.err.contains("overlaps"), "\(p.err)")
        let m = try runSrte(["testbed", "up", "/nonexistent.yaml"])
        #expect(m.status == 2)
    }
}

@Suite(.serialized, .enabled(if: runningAsRoot, "needs root: creates network namespaces"))
struct TestbedCLITests {
    let topologies = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path + "/topologies/"

    @Test func upStatusExecLinkStatsDown() throws {
        let lab = "t\(getpid())-cli"
        defer { forceClean(lab) }
        let up = try runSrte(["testbed", "up", topologies + "diamond.yaml", "--lab", lab])
        #expect(up.status == 0, "\(up.err)")
        #expect(up.out.contains("lab \(lab) is up: 7 namespaces (5 routers, 2 hosts), 8 links"))
        #expect(up.out.contains("delay: bridge: 8 userspace delay bridge(s)"), "\(up.out)")
        #expect(bridges(of: lab).count == 8)

        let again = try runSrte(["testbed", "up", topologies + "diamond.yaml", "--lab", lab])
        #expect(again.status == 4)
        #expect(again.err.contains("already exists"))

        let st = try runSrte(["testbed", "status", "--lab", lab])
        #expect(st.status == 0)
        #expect(st.out.contains("lab \(lab): up"))
        #expect(st.out.contains("r1:b - b:r1"))
        #expect(st.out.contains("delay: bridge") && st.out.contains("8 running"), "\(st.out)")
        #expect(st.out.contains("delay 3ms (bridge)"), "\(st.out)")
        let js = try runSrte(["testbed", "status", "--lab", lab, "--format", "json"])
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(js.out.utf8)) as? [String: Any])
        #expect(obj["phase"] as? String == "up" && obj["delayEmulated"] as? Bool == true && obj["delayMode"] as? String == "bridge")
        #expect((obj["bridges"] as? [[String: Any]])?.allSatisfy { $0["running"] as? Bool == true } == true)
        #expect((obj["nodes"] as? [[String: Any]])?.count == 7)

        let ping = try runSrte(["testbed", "exec", "--lab", lab, "h1", "--", "ping", "-c", "1", "-W", "2", "fc00:2::2"])
        #expect(ping.status == 0, "\(ping.out)\(ping.err)")
        let fail = try runSrte(["testbed", "exec", "--lab", lab, "h1", "--", "sh", "-c", "exit 7"])
        #expect(fail.status == 7, "exec passes the exit status through")

        let down = try runSrte(["testbed", "link", "--lab", lab, "r1", "b", "down"])
        #expect(down.status == 0)
        #expect(down.out.contains("r1:b - b:r1 down"))
        let st2 = try runSrte(["testbed", "status", "--lab", lab])
        #expect(st2.out.contains("down(admin)/"), "\(st2.out)")
        #expect(try runSrte(["testbed", "link", "--lab", lab, "r1", "b", "up"]).status == 0)
        #expect(try runSrte(["testbed", "link", "--lab", lab, "h1", "h2", "up"]).status == 2, "no such link")

        let stats = try runSrte(["testbed", "stats", "--lab", lab, "--format", "json"])
        let sj = try #require(try JSONSerialization.jsonObject(with: Data(stats.out.utf8)) as? [String: Any])
        let links = try #require(sj["links"] as? [[String: Any]])
        #expect(links.count == 8)
        let first = try #require(links[0]["endA"] as? [String: Any])
        #expect((first["txPackets"] as? Int ?? 0) > 0, "h1 sent the ping")
        #expect(try runSrte(["testbed", "stats", "--lab", lab]).out.contains("r1 - b"))

        let d = try runSrte(["testbed", "down", "--lab", lab])
        #expect(d.status == 0)
        #expect(d.out.contains("deleted 7 namespaces"))
        #expect(namespaces(of: lab).isEmpty)
        #expect(bridges(of: lab).isEmpty, "down stops the bridges")
        #expect(!FileManager.default.fileExists(atPath: "\(stateDirectory)/\(lab).json"))
        #expect(try runSrte(["testbed", "down", "--lab", lab]).status == 4)
    }

    /// `--delay netem` on a kernel without netem: refused (exit 3), nothing left.
    @Test func netemWithoutTheQdiscIsRefused() throws {
        let lab = "t\(getpid())-nm"
        defer { forceClean(lab) }
        let probe = try runSrte(["testbed", "up", topologies + "diamond.yaml", "--lab", lab, "--delay", "netem"])
        if probe.status == 0 { return }   // a kernel with netem: nothing to refuse
        #expect(probe.status == 3, "\(probe.err)")
        #expect(probe.err.contains("no netem qdisc") && probe.err.contains("--delay bridge"), "\(probe.err)")
        #expect(namespaces(of: lab).isEmpty && bridges(of: lab).isEmpty)
    }

    /// `--sids bpf` on any kernel: the router program on every router interface, shown by
    /// `status`; `--sids seg6local` on a kernel without seg6local: refused (exit 3), nothing left.
    @Test func sidsChoice() throws {
        let lab = "t\(getpid())-sd"
        defer { forceClean(lab) }
        let refused = try runSrte(["testbed", "up", topologies + "diamond.yaml", "--lab", lab, "--delay", "off", "--sids", "seg6local"])
        if refused.status != 0 {
            #expect(refused.status == 3, "\(refused.err)")
            #expect(refused.err.contains("CONFIG_IPV6_SEG6_LWTUNNEL") && refused.err.contains("--sids bpf"), "\(refused.err)")
            #expect(namespaces(of: lab).isEmpty)
        } else {
            #expect(refused.out.contains("SIDs: seg6local routes"))
            #expect(try runSrte(["testbed", "down", "--lab", lab]).status == 0)
        }
        let up = try runSrte(["testbed", "up", topologies + "diamond.yaml", "--lab", lab, "--delay", "off", "--sids", "bpf"])
        #expect(up.status == 0, "\(up.err)")
        #expect(up.out.contains("SIDs: tc BPF End/End.X program"), "\(up.out)")
        let st = try runSrte(["testbed", "status", "--lab", lab, "--format", "json"])
        #expect(st.out.contains("\"routerSIDs\" : \"bpf\"") || st.out.contains("\"routerSIDs\": \"bpf\""), "\(st.out)")
        let filters = try runSrte(["testbed", "exec", "--lab", lab, "r1", "--", "tc", "filter", "show", "dev", "a", "ingress"])
        #expect(filters.out.contains("srte_srv6_route"), "\(filters.out)\(filters.err)")
        #expect(try runSrte(["testbed", "down", "--lab", lab]).status == 0)
        #expect(namespaces(of: lab).isEmpty)
    }

    /// `up --csid` gives the diamond's routers NEXT-C-SID C-SIDs (F3216 from their locators): the
    /// text names each router's End C-SID, the status JSON lists the C-SIDs with their flavor,
    /// and `--sids seg6local` is refused where the kernel has no seg6local `next-csid` flavor.
    @Test func upWithCSIDs() throws {
        let lab = "t\(getpid())-cs"
        defer { forceClean(lab) }
        let refused = try runSrte(["testbed", "up", topologies + "diamond.yaml", "--csid", "--lab", lab, "--delay", "off", "--sids", "seg6local"])
        if refused.status != 0 {
            #expect(refused.status == 3 && refused.err.contains("CONFIG_IPV6_SEG6_LWTUNNEL") && refused.err.contains("next-csid"), "\(refused.err)")
            #expect(namespaces(of: lab).isEmpty)
        } else {
            #expect(refused.out.contains("seg6local"), "\(refused.out)")
            #expect(try runSrte(["testbed", "down", "--lab", lab]).status == 0)
        }
        let up = try runSrte(["testbed", "up", topologies + "diamond.yaml", "--csid", "--lab", lab, "--delay", "off"])
        #expect(up.status == 0, "\(up.err)")
        #expect(up.out.contains("C-SID fc00:0:b:: (32/16)"), "\(up.out)")
        let st = try runSrte(["testbed", "status", "--lab", lab, "--format", "json"])
        let o = try #require(try JSONSerialization.jsonObject(with: Data(st.out.utf8)) as? [String: Any])
        let nodes = try #require(o["nodes"] as? [[String: Any]])
        let b = try #require(nodes.first { $0["name"] as? String == "b" })
        let csids = (b["sids"] as? [[String: Any]] ?? []).filter { $0["flavor"] as? String == "next-csid" }.compactMap { $0["sid"] as? String }
        #expect(csids == ["fc00:0:b::", "fc00:0:e001::", "fc00:0:e002::"], "\(csids)")
        #expect(try runSrte(["testbed", "down", "--lab", lab]).status == 0)
        #expect(namespaces(of: lab).isEmpty)
    }

    /// SIGTERM during `up` → everything created is removed, exit 130. SIGKILL leaves the state
    /// file, and `down` then removes exactly what exists.
    @Test(arguments: [SIGTERM, SIGKILL])
    func signalDuringUp(signal: Int32) throws {
        let lab = "t\(getpid())-sig\(signal)"
        defer { forceClean(lab) }
        // Signal up once it is creating namespaces (the fat-tree has 36).
        let (p, stderr) = try interruptedUp(["--lab", lab], signal: signal, seconds: 20, poll: 1000) { namespaceExists("\(lab)-c0") }
        if signal == SIGTERM {
            #expect(p.terminationReason == .exit && p.terminationStatus == 130, "\(stderr)")
            #expect(stderr.contains("interrupted by SIGTERM"), "\(stderr)")
            #expect(namespaces(of: lab).isEmpty)
            #expect(!FileManager.default.fileExists(atPath: "\(stateDirectory)/\(lab).json"))
        } else {
            #expect(p.terminationReason == .uncaughtSignal)
            #expect(!namespaces(of: lab).isEmpty)
            let st = try runSrte(["testbed", "status", "--lab", lab])
            #expect(st.out.contains("incomplete"), "\(st.out)")
            let d = try runSrte(["testbed", "down", "--lab", lab])
            #expect(d.status == 0, "\(d.err)")
            #expect(namespaces(of: lab).isEmpty)
            #expect(!FileManager.default.fileExists(atPath: "\(stateDirectory)/\(lab).json"))
        }
    }

    /// A signal once `up` has started its delay bridges (fat-tree: 48 of them, --delay bridge).
    /// SIGINT: `up` stops them with everything else. SIGKILL: they keep running (detached),
    /// the state file names them, and `down` stops them and deletes every namespace.
    @Test(arguments: [SIGINT, SIGKILL])
    func signalWhileBridgesRun(signal: Int32) throws {
        let lab = "t\(getpid())-bs\(signal)"
        defer { forceClean(lab) }
        let (p, stderr) = try interruptedUp(["--lab", lab, "--delay", "bridge"], signal: signal, seconds: 30, poll: 2000) {
            bridges(of: lab).count >= 4
        }
        if signal == SIGINT {
            #expect(p.terminationReason == .exit && p.terminationStatus == 130, "\(stderr)")
            #expect(stderr.contains("interrupted by SIGINT"), "\(stderr)")
        } else {
            #expect(p.terminationReason == .uncaughtSignal)
            #expect(!bridges(of: lab).isEmpty, "bridges are detached from up")
            let d = try runSrte(["testbed", "down", "--lab", lab])
            #expect(d.status == 0, "\(d.err)")
        }
        #expect(namespaces(of: lab).isEmpty, "left: \(namespaces(of: lab))")
        #expect(bridges(of: lab).isEmpty, "bridges left: \(bridges(of: lab))")
        #expect(!FileManager.default.fileExists(atPath: "\(stateDirectory)/\(lab).json"))
    }

    /// Starts `srte testbed up fattree.yaml ARGS`, waits (polling every `poll` µs, up to
    /// `seconds`) until `ready`, sends `signal`, and returns the process and its stderr.
    private func interruptedUp(_ args: [String], signal: Int32, seconds: Double, poll: UInt32,
                               until ready: () -> Bool) throws -> (Process, String) {
        let p = Process()
        p.executableURL = productsDirectory.appendingPathComponent("srte")
        p.arguments = ["testbed", "up", topologies + "fattree.yaml"] + args
        p.standardOutput = FileHandle.nullDevice
        let err = Pipe()
        p.standardError = err
        try p.run()
        let deadline = Date().addingTimeInterval(seconds)
        while !ready() && p.isRunning && Date() < deadline { usleep(poll) }
        #expect(p.isRunning, "up finished before it could be interrupted")
        #expect(ready(), "up did not get far enough within \(seconds) s")
        kill(p.processIdentifier, signal)
        p.waitUntilExit()
        return (p, String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
    }
}
