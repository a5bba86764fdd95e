import Foundation
import Testing
import TestSupport
import NetworkLab
import LinuxSystem
import SubflowSteering
import Glibc

/// `srte agent check`: a policy validated without root, errors at file:line:column, exit 2.
@Suite struct AgentCLITests {
    func policyFile(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("srte-agent-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func checkPrintsTheRulesAndNotesShadowedOnes() throws {
        let file = try policyFile("""
            rules:
              - match: { to: "fc00:2::/64", port: 5201 }
                paths: [[fc00:0:b::1], [fc00:0:c::1], direct]
              - match: { to: "fc00:2::/64" }
                plan: { topology: \(packageRoot)/topologies/diamond.yaml, from: h1, k: 3, disjoint: node }
                keep: true
              - match: { to: "fc00:2::2", port: 5201 }
                paths: [direct]
            """)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let r = try runSrte(["agent", "check", file])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("3 rules, valid"))
        #expect(r.out.contains("1. line 2: to fc00:2::/64, port 5201 → 3 subflows: [fc00:0:b::1] [fc00:0:c::1] [direct]"), "\(r.out)")
        #expect(r.out.contains("3 node-disjoint paths planned from"), "\(r.out)")
        #expect(r.out.contains("note: rule 3 (line 7) never matches: rule 1 (line 2)"), "\(r.out)")

        let j = try runSrte(["agent", "check", file, "--format", "json"])
        #expect(j.status == 0)
        let json = try JSONSerialization.jsonObject(with: Data(j.out.utf8)) as? [String: Any]
        let rules = json?["rules"] as? [[String: Any]]
        #expect(rules?.count == 3)
        #expect(rules?[1]["subflows"] as? Int == 3 && rules?[1]["keep"] as? Bool == true)
        #expect((json?["notes"] as? [String])?.count == 1)
    }

    @Test func checkListsTheGrants() throws {
        let file = try policyFile("""
            rules:
              - match: { to: "fc00:2::/64" }
                paths: [direct]
            grants:
              - { uid: 1000-1999, sids: ["fc00:0:b::/48"], subflows: 4 }
              - { uid: 65534, marks: 40-49 }
            """)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let r = try runSrte(["agent", "check", file])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("line 5: uids 1000-1999: sids fc00:0:b::/48, up to 4 subflows per connection"), "\(r.out)")
        let j = try runSrte(["agent", "check", file, "--format", "json"])
        let json = try JSONSerialization.jsonObject(with: Data(j.out.utf8)) as? [String: Any]
        let grants = json?["grants"] as? [[String: Any]]
        #expect(grants?.first?["uids"] as? [Int] == [1000, 1999] && grants?.first?["subflows"] as? Int == 4, "\(j.out)")
        #expect(grants?.first?["sids"] as? [String] == ["fc00:0:b::/48"])
        #expect(r.out.contains("line 6: uid 65534: no SRH, up to 8 subflows per connection, marks 40-49"), "\(r.out)")
        #expect(grants?.last?["marks"] as? [Int] == [40, 49] && grants?.first?["marks"] is NSNull, "\(j.out)")

        let none = try policyFile("rules:\n  - match: {}\n    paths: [direct]\n")
        defer { try? FileManager.default.removeItem(atPath: none) }
        #expect(try runSrte(["agent", "check", none]).out.contains("grants: none (only root may open or close subflows through the agent)"))
    }

    @Test func aBadPolicyIsExitTwoWithItsPosition() throws {
        let file = try policyFile("rules:\n  - match: { to: \"fc00:2::/64\", prot: 5201 }\n    paths: [direct]\n")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let r = try runSrte(["agent", "check", file])
        #expect(r.status == 2)
        #expect(r.err.contains("\(file):2:33: unknown key 'prot' in 'match'") && r.err.contains("did you mean 'port'?"), "\(r.err)")
        #expect(r.out.isEmpty)

        let missing = try runSrte(["agent", "check", "/nonexistent/policy.yaml"])
        #expect(missing.status == 2 && missing.err.contains("/nonexistent/policy.yaml: cannot read the policy file"), "\(missing.err)")
    }
}

/// `srte agent` as a process in a lab of the bundled diamond: an unmodified program's MPTCP
/// connection gets one subflow via b and one via c; stopping (--for, or SIGTERM) leaves nothing.
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates network namespaces"), .timeLimit(.minutes(2)))
struct AgentDaemonCLITests {
    func start(_ args: [String]) throws -> (Process, Collected) { try startCollectingStderr(args) }

    /// Bytes r1 sent toward `mid` on the diamond between two counter readings.
    func bytesFromR1(to mid: String, _ before: [Testbed.LinkCounters], _ after: [Testbed.LinkCounters]) -> Int {
        bytesSent(from: "r1", to: mid, before, after)
    }

    func pythonClient(_ bed: Testbed, bytes: Int) throws {
        // Bound to a local port in srte's own range, which is not reserved here: still the program's.
        let client = pythonMPTCPClient(to: "fc00:2::2", port: 5201, bytes: bytes, bind: ("fc00:1::1", 40500))
        let r = try bed.exec("h1", ["python3", "-c", client])
        #expect(r.status == 0, "client: \(r.stderr)")
    }

    @Test func engineersAPythonClientAndCleansUp() throws {
        let bed = try Testbed.up(try bundledTopology("diamond.yaml"), lab: "ag\(getpid() % 100000)")
        defer { _ = try? bed.down() }
        let h1 = bed.namespace(of: "h1")!
        let (agent, log) = try start(["agent", "--netns", h1, "--to", "fc00:2::/64", "--port", "5201",
                                      "--path", "fc00:0:b::1", "--path", "fc00:0:c::1", "--for", "15", "--format", "json"])
        defer { if agent.isRunning { agent.terminate() } }
        #expect(log.wait(for: "\"event\": \"started\"", seconds: 10) || log.wait(for: "\"event\":\"started\"", seconds: 1), "\(log.text)")

        let serve = try startServe(inNamespace: bed.namespace(of: "h2")!)
        defer { if serve.isRunning { serve.terminate() } }
        Thread.sleep(forTimeInterval: 0.5)

        let before = try bed.linkCounters()
        try pythonClient(bed, bytes: 12_000_000)
        serve.waitUntilExit()
        let after = try bed.linkCounters()
        func moved(_ mid: String) -> Int { bytesFromR1(to: mid, before, after) }
        #expect(moved("b") > 3_000_000 && moved("c") > 3_000_000, "via b \(moved("b")), via c \(moved("c"))")
        #expect(moved("a") < 1_000_000, "the IGP path carried \(moved("a"))")
        #expect(log.text.contains("\"matched\"") && log.text.contains("\"subflow\""), "\(log.text)")
        // Every JSON line carries its time (UTC, microseconds), within the test's own clock.
        let lines = log.text.split(separator: "\n").filter { $0.hasPrefix("{") }
        let times = lines.compactMap { l in (try? JSONSerialization.jsonObject(with: Data(l.utf8)) as? [String: Any])?["time"] as? String }
        #expect(!lines.isEmpty && times.count == lines.count, "\(log.text)")
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let stamps = times.compactMap { iso.date(from: $0) }
        #expect(stamps.count == times.count && stamps.allSatisfy { abs($0.timeIntervalSinceNow) < 60 } && stamps == stamps.sorted(), "\(times)")

        // `srte agent status` asks it over its control socket.
        let st = try runSrte(["agent", "status", "--netns", h1, "--format", "json"])
        #expect(st.status == 0, "\(st.err)")
        let json = try JSONSerialization.jsonObject(with: Data(st.out.utf8)) as? [String: Any]
        #expect(json?["schemaVersion"] as? Int == 1)
        #expect((json?["counters"] as? [String: Any])?["connectionsEngineered"] as? Int == 1, "\(st.out)")
        #expect(((json?["rules"] as? [[String: Any]])?.first?["connections"] as? Int) == 1, "\(st.out)")
        let text = try runSrte(["agent", "status", "--netns", h1])
        #expect(text.status == 0 && text.out.contains("rule 1: to fc00:2::/64, port 5201 → 2 subflow(s); 1 connection(s)"), "\(text.out)")

        // SIGTERM: a graceful shutdown (exit 0); everything the agent installed goes.
        agent.terminate()
        agent.waitUntilExit()
        #expect(agent.terminationStatus == 0)
        #expect(log.text.contains("\"stopped\""), "\(log.text)")
        let programs = try NetworkNamespace.run(in: h1) { try BPFSteering.attachedEgressPrograms(interface: "r1") }
        #expect(programs == 0)
        #expect(try bed.exec("h1", ["ip", "-6", "route", "show", "table", "all", "proto", "83"]).stdout.isEmpty)
        // No agent any more: status says so, exit 3.
        let gone = try runSrte(["agent", "status", "--netns", h1])
        #expect(gone.status == 3 && gone.err.contains("no agent answers"), "\(gone.err)")
    }

    /// A planned rule: the agent plans 3 node-disjoint paths from h1 to the node owning the
    /// destination (h2) and gives the connection one subflow on each.
    @Test func plannedRuleSpreadsOverThePlannedPaths() throws {
        let bed = try Testbed.up(try bundledTopology("diamond.yaml"), lab: "ap\(getpid() % 100000)")
        defer { _ = try? bed.down() }
        let policy = FileManager.default.temporaryDirectory.appendingPathComponent("srte-agent-plan-\(getpid()).yaml").path
        try """
            rules:
              - match: { to: "fc00:2::/64", port: 5201 }
                plan: { topology: \(packageRoot)/topologies/diamond.yaml, from: h1, k: 3, disjoint: node }
            """.write(toFile: policy, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: policy) }
        let (agent, log) = try start(["agent", "--netns", bed.namespace(of: "h1")!, "--policy", policy, "--for", "20"])
        defer { if agent.isRunning { agent.terminate() } }
        #expect(log.wait(for: "started", seconds: 10), "\(log.text)")
        let serve = try startServe(inNamespace: bed.namespace(of: "h2")!)
        defer { if serve.isRunning { serve.terminate() } }
        Thread.sleep(forTimeInterval: 0.5)
        let before = try bed.linkCounters()
        try pythonClient(bed, bytes: 15_000_000)
        serve.waitUntilExit()
        let after = try bed.linkCounters()
        for mid in ["a", "b", "c"] {
            let moved = bytesFromR1(to: mid, before, after)
            #expect(moved > 2_000_000, "r1 → \(mid) carried \(moved) bytes")
        }
        #expect(log.text.contains("paths=direct fc00:0:b::1 fc00:0:c::1"), "\(log.text)")
    }

    /// SIGHUP reads the policy again; a broken file leaves the old policy in force.
    @Test func hangupReloadsThePolicy() throws {
        let bed = try Testbed.up(try bundledTopology("diamond.yaml"), lab: "ah\(getpid() % 100000)")
        defer { _ = try? bed.down() }
        let h1 = bed.namespace(of: "h1")!
        let policy = FileManager.default.temporaryDirectory.appendingPathComponent("srte-agent-hup-\(getpid()).yaml").path
        func write(_ port: String) throws {
            try "rules:\n  - match: { to: \"fc00:2::/64\", port: \(port) }\n    paths: [[fc00:0:b::1], direct]\n"
                .write(toFile: policy, atomically: true, encoding: .utf8)
        }
        try write("5201")
        defer { try? FileManager.default.removeItem(atPath: policy) }
        let (agent, log) = try start(["agent", "--netns", h1, "--policy", policy, "--for", "30"])
        defer { if agent.isRunning { agent.terminate() } }
        #expect(log.wait(for: "started", seconds: 10), "\(log.text)")
        #expect(try runSrte(["agent", "status", "--netns", h1]).out.contains("port 5201"))

        try write("5202")
        kill(agent.processIdentifier, SIGHUP)
        #expect(log.wait(for: "reloaded", seconds: 5), "\(log.text)")
        let after = try runSrte(["agent", "status", "--netns", h1])
        #expect(after.out.contains("port 5202") && !after.out.contains("port 5201"), "\(after.out)")

        try "rules: [".write(toFile: policy, atomically: true, encoding: .utf8)
        kill(agent.processIdentifier, SIGHUP)
        #expect(log.wait(for: "reloading the policy (the old one stays)", seconds: 5), "\(log.text)")
        #expect(try runSrte(["agent", "status", "--netns", h1]).out.contains("port 5202"))
        #expect(agent.isRunning)
        agent.terminate()
        agent.waitUntilExit()
    }

    /// Without root: one sentence that says so, exit 3, nothing created.
    @Test func refusesToRunWithoutRoot() throws {
        let cookie = try NetworkNamespace.currentCookie()
        let socket = "/run/srte/agent-\(cookie).sock"
        let existed = FileManager.default.fileExists(atPath: socket)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        p.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", srteBinary().path,
                       "agent", "--to", "fc00:2::/64", "--path", "fc00:0:b::1", "--for", "1"]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 3, "\(text)")
        #expect(text.contains("needs root") && text.split(separator: "\n").count == 1, "\(text)")
        #expect(FileManager.default.fileExists(atPath: socket) == existed)
    }

    @Test func refusesANamespaceOnTheInKernelPathManager() throws {
        let bed = try Testbed.up(try bundledTopology("diamond.yaml"), lab: "ak\(getpid() % 100000)", options: Testbed.UpOptions(mptcpPathManager: .kernel))
        defer { _ = try? bed.down() }
        let r = try runSrte(["agent", "--netns", bed.namespace(of: "h1")!, "--to", "fc00:2::/64", "--path", "fc00:0:b::1", "--for", "1"])
        #expect(r.status == 3)
        #expect(r.err.contains("pm_type"), "\(r.err)")
    }
}

/// The systemd unit example in contrib/ is one systemd accepts.
@Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze"), "needs systemd-analyze"))
func systemdUnitExampleVerifies() throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/systemd-analyze")
    p.arguments = ["verify", packageRoot + "/contrib/systemd/srte-agent@.service"]
    let err = Pipe()
    p.standardError = err
    p.standardOutput = FileHandle.nullDevice
    try p.run()
    let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    #expect(p.terminationStatus == 0 && text.isEmpty, "\(text)")
}
