import Foundation
import Glibc
import Testing
import LinuxSystem
import NetworkLab
import SubflowSteering
import TestSupport

/// A client that sends `first` bytes, pauses with the connection open, then sends `then` bytes.
func pausingMPTCPClient(to remote: String, port: UInt16, first: Int, pause: Double, then: Int) -> String {
    """
    import socket, time
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM, 262)
    s.connect(("\(remote)", \(port)))
    chunk = b"x" * 65536
    def send(n):
        sent = 0
        while sent < n:
            k = min(len(chunk), n - sent)
            s.sendall(chunk[:k])
            sent += k
    send(\(first))
    time.sleep(\(pause))
    send(\(then))
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
    s.close()
    """
}

/// Starts `srte ARGS` with its stderr collected (an agent, whose events are read as they come).
func startCollectingStderr(_ args: [String]) throws -> (Process, Collected) {
    let p = Process()
    p.executableURL = srteBinary()
    p.arguments = args
    let err = Pipe(), collected = Collected()
    p.standardError = err
    p.standardOutput = FileHandle.nullDevice
    err.fileHandleForReading.readabilityHandler = { h in collected.append(h.availableData) }
    try p.run()
    return (p, collected)
}

/// Bytes the `from` end of the lab link between `a` and `b` sent between two counter readings.
func bytesSent(from a: String, to b: String, _ before: [Testbed.LinkCounters], _ after: [Testbed.LinkCounters]) -> Int {
    if let i = after.firstIndex(where: { $0.a == a && $0.b == b }) {
        return Int((after[i].endA?.txBytes ?? 0) - (before[i].endA?.txBytes ?? 0))
    }
    let i = after.firstIndex { $0.a == b && $0.b == a }!
    return Int((after[i].endB?.txBytes ?? 0) - (before[i].endB?.txBytes ?? 0))
}

/// Runs the system's python3 with `script` in network namespace `ns` (as `uid` when given), in
/// the background.
func startPython(inNamespace ns: String, _ script: String, uid: UInt32? = nil) throws -> Process {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
    let user = uid.map { ["setpriv", "--reuid=\($0)", "--regid=\($0)", "--clear-groups"] } ?? []
    p.arguments = ["--net=/run/netns/\(ns)"] + user + ["/usr/bin/python3", "-c", script]
    try p.run()
    return p
}

/// `srte agent`'s life around the connections: matching on the caller's uid, status with owners
/// and subflows, a `direct` join after a steered first path, --set-pm and `srte cleanup` after
/// SIGKILL, and a restarted agent adopting a live connection. All in labs of the bundled diamond.
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates network namespaces"), .timeLimit(.minutes(3)))
struct AgentLifecycleCLITests {
    func start(_ args: [String]) throws -> (Process, Collected) { try startCollectingStderr(args) }

    func moved(_ mid: String, _ before: [Testbed.LinkCounters], _ after: [Testbed.LinkCounters]) -> Int {
        bytesSent(from: "r1", to: mid, before, after)
    }

    func policyFile(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("srte-agent-life-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Regression: the connect-time program must not give a `direct` join the rule's first SRH.
    @Test func directJoinAfterASteeredFirstPathTakesTheIGPPath() throws {
        let bed = try Testbed.up(try bundledTopology("diamond.yaml"), lab: "ad\(getpid() % 100000)")
        defer { _ = try? bed.down() }
        let (agent, log) = try start(["agent", "--netns", bed.namespace(of: "h1")!, "--to", "fc00:2::/64", "--port", "5201",
                                      "--path", "fc00:0:b::1", "--path", "direct", "--for", "20"])
        defer { if agent.isRunning { agent.terminate() } }
        #expect(log.wait(for: "started", seconds: 10), "\(log.text)")
        let serve = try startServe(inNamespace: bed.namespace(of: "h2")!)
        defer { if serve.isRunning { serve.terminate() } }
        Thread.sleep(forTimeInterval: 0.5)
        let before = try bed.linkCounters()
        let r = try bed.exec("h1", ["python3", "-c", pythonMPTCPClient(to: "fc00:2::2", port: 5201, bytes: 12_000_000)])
        #expect(r.status == 0, "\(r.stderr)")
        serve.waitUntilExit()
        let after = try bed.linkCounters()
        #expect(moved("b", before, after) > 3_000_000 && moved("a", before, after) > 3_000_000,
                "via b \(moved("b", before, after)), via a (IGP) \(moved("a", before, after))")
        #expect(moved("c", before, after) < 1_000_000, "via c \(moved("c", before, after))")
    }

    /// A rule on uid 65534 engineers that user's connection and leaves root's alone; status shows
    /// the owner (uid, pid, command) and each subflow's path while the connection is open.
    @Test func uidRuleAndStatusWithOwnersAndSubflows() throws {
        let bed = try Testbed.up(try bundledTopology("diamond.yaml"), lab: "au\(getpid() % 100000)")
        defer { _ = try? bed.down() }
        let h1 = bed.namespace(of: "h1")!
        let policy = try policyFile("""
            rules:
              - match: { to: "fc00:2::/64", port: 5201, uid: 65534 }
                paths: [[fc00:0:b::1], [fc00:0:c::1]]
            """)
        defer { try? FileManager.default.removeItem(atPath: policy) }
        let (agent, log) = try start(["agent", "--netns", h1, "--policy", policy, "--for", "40"])
        defer { if agent.isRunning { agent.terminate() } }
        #expect(log.wait(for: "started", seconds: 10), "\(log.text)")

        // root's connection: unmatched, on the IGP path.
        var serve = try startServe(inNamespace: bed.namespace(of: "h2")!)
        Thread.sleep(forTimeInterval: 0.5)
        var before = try bed.linkCounters()
        _ = try bed.exec("h1", ["python3", "-c", pythonMPTCPClient(to: "fc00:2::2", port: 5201, bytes: 4_000_000)])
        serve.waitUntilExit()
        var after = try bed.linkCounters()
        #expect(moved("a", before, after) > 3_000_000 && moved("b", before, after) < 500_000, "root's went via b \(moved("b", before, after))")
        #expect(log.wait(for: "unmatched", seconds: 3), "\(log.text)")

        // nobody's connection: engineered; status while it pauses (the system's python3: a
        // per-user one under /root is not nobody's to run).
        serve = try startServe(inNamespace: bed.namespace(of: "h2")!)
        defer { if serve.isRunning { serve.terminate() } }
        Thread.sleep(forTimeInterval: 0.5)
        before = try bed.linkCounters()
        let client = try startPython(inNamespace: h1, pausingMPTCPClient(to: "fc00:2::2", port: 5201, first: 2_000_000, pause: 3, then: 8_000_000), uid: 65534)
        defer { if client.isRunning { client.terminate() } }
        #expect(log.wait(for: "subflow", seconds: 10), "\(log.text)")
        Thread.sleep(forTimeInterval: 1)
        let st = try runSrte(["agent", "status", "--netns", h1, "--format", "json"])
        let json = try JSONSerialization.jsonObject(with: Data(st.out.utf8)) as? [String: Any]
        let conns = json?["connections"] as? [[String: Any]] ?? []
        #expect(conns.count == 1, "\(st.out)")
        #expect(conns.first?["uid"] as? Int == 65534 && conns.first?["command"] as? String == "python3", "\(st.out)")
        #expect(conns.first?["pid"] as? Int == Int(client.processIdentifier) || conns.first?["pid"] != nil, "\(st.out)")
        let subflows = conns.first?["subflows"] as? [[String: Any]] ?? []
        #expect(Set(subflows.compactMap { $0["path"] as? Int }) == [1, 2], "\(st.out)")
        #expect(subflows.allSatisfy { ($0["state"] as? String) == "established" && (($0["rttMicroseconds"] as? Int) ?? 0) > 0 }, "\(st.out)")
        let text = try runSrte(["agent", "status", "--netns", h1])
        #expect(text.out.contains("python3 pid") && text.out.contains("path 2 [fc00:0:c::1] established"), "\(text.out)")
        client.waitUntilExit()
        serve.waitUntilExit()
        after = try bed.linkCounters()
        #expect(moved("b", before, after) > 2_000_000 && moved("c", before, after) > 2_000_000,
                "via b \(moved("b", before, after)), via c \(moved("c", before, after))")
        #expect(moved("a", before, after) < 1_000_000, "via a \(moved("a", before, after))")
    }

    /// --set-pm switches an in-kernel-PM namespace to the userspace PM and SIGTERM restores it;
    /// after SIGKILL `srte cleanup` restores it and removes the stale control socket.
    @Test func setPathManagerIsRestoredOnExitAndByCleanupAfterKill() throws {
        let bed = try Testbed.up(try bundledTopology("diamond.yaml"), lab: "as\(getpid() % 100000)",
                                 options: Testbed.UpOptions(mptcpPathManager: .kernel))
        defer { _ = try? bed.down() }
        let h1 = bed.namespace(of: "h1")!
        func pmType() throws -> String { try bed.exec("h1", ["cat", "/proc/sys/net/mptcp/pm_type"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines) }
        #expect(try pmType() == "0")
        let args = ["agent", "--netns", h1, "--to", "fc00:2::/64", "--path", "fc00:0:b::1", "--set-pm", "--for", "30"]

        var (agent, log) = try start(args)
        #expect(log.wait(for: "started", seconds: 10), "\(log.text)")
        #expect(try pmType() == "1")
        agent.terminate()
        agent.waitUntilExit()
        #expect(try pmType() == "0")

        (agent, log) = try start(args)
        defer { if agent.isRunning { agent.terminate() } }
        #expect(log.wait(for: "started", seconds: 10), "\(log.text)")
        let cookie = try NetworkNamespace.run(in: h1) { try NetworkNamespace.currentCookie() }
        #expect(FileManager.default.fileExists(atPath: "/run/srte/agent-\(cookie).state"))
        kill(agent.processIdentifier, SIGKILL)
        agent.waitUntilExit()
        #expect(try pmType() == "1")
        #expect(try NetworkNamespace.run(in: h1) { try BPFSteering.attachedEgressPrograms(interface: "r1") } == 0)
        let clean = try runSrte(["cleanup", "--netns", h1])
        #expect(clean.status == 0, "\(clean.err)")
        #expect(clean.err.contains("restored 1 kernel parameter") && clean.err.contains("stale control socket"), "\(clean.err)")
        #expect(try pmType() == "0")
        #expect(!FileManager.default.fileExists(atPath: "/run/srte/agent-\(cookie).state"))
        #expect(!FileManager.default.fileExists(atPath: "/run/srte/agent-\(cookie).sock"))
    }

    /// An agent killed mid-connection and started again adopts the live connection: its
    /// subflows get their paths back and the rest of the transfer follows them.
    @Test func restartedAgentAdoptsALiveConnection() throws {
        let bed = try Testbed.up(try bundledTopology("diamond.yaml"), lab: "ar\(getpid() % 100000)")
        defer { _ = try? bed.down() }
        let h1 = bed.namespace(of: "h1")!
        let args = ["agent", "--netns", h1, "--to", "fc00:2::/64", "--port", "5201",
                    "--path", "fc00:0:b::1", "--path", "fc00:0:c::1", "--for", "30"]
        var (agent, log) = try start(args)
        #expect(log.wait(for: "started", seconds: 10), "\(log.text)")
        let serve = try startServe(inNamespace: bed.namespace(of: "h2")!)
        defer { if serve.isRunning { serve.terminate() } }
        Thread.sleep(forTimeInterval: 0.5)
        let client = try startPython(inNamespace: h1, pausingMPTCPClient(to: "fc00:2::2", port: 5201, first: 2_000_000, pause: 4, then: 10_000_000))
        defer { if client.isRunning { client.terminate() } }
        #expect(log.wait(for: "subflow", seconds: 10), "\(log.text)")
        Thread.sleep(forTimeInterval: 0.5)
        kill(agent.processIdentifier, SIGKILL)
        agent.waitUntilExit()

        (agent, log) = try start(args)
        defer { if agent.isRunning { agent.terminate() } }
        #expect(log.wait(for: "adopted", seconds: 10), "\(log.text)")
        #expect(log.text.contains("subflows=2 of 2"), "\(log.text)")
        let before = try bed.linkCounters()
        client.waitUntilExit()
        serve.waitUntilExit()
        let after = try bed.linkCounters()
        #expect(moved("b", before, after) > 3_000_000 && moved("c", before, after) > 3_000_000,
                "after the restart: via b \(moved("b", before, after)), via c \(moved("c", before, after))")
        #expect(moved("a", before, after) < 1_000_000, "via a \(moved("a", before, after))")
        let st = try runSrte(["agent", "status", "--netns", h1, "--format", "json"])
        #expect(st.out.contains("\"connectionsAdopted\":1"), "\(st.out)")
    }

    /// `keep` on a planned rule: when the link under one subflow's path goes down mid-transfer,
    /// the agent opens a replacement on a path re-planned around it (via c) and closes the
    /// failed subflow; the transfer completes.
    @Test func keepReplacesAStalledSubflowOnAReplannedPath() throws {
        let bed = try Testbed.up(try bundledTopology("diamond.yaml"), lab: "ae\(getpid() % 100000)")
        defer { _ = try? bed.down() }
        let h1 = bed.namespace(of: "h1")!
        let policy = try policyFile("""
            rules:
              - match: { to: "fc00:2::/64", port: 5201 }
                plan: { topology: \(packageRoot)/topologies/diamond.yaml, from: h1, k: 2, disjoint: node }
                keep: true
            """)
        defer { try? FileManager.default.removeItem(atPath: policy) }
        let (agent, log) = try start(["agent", "--netns", h1, "--policy", policy, "--for", "40"])
        defer { if agent.isRunning { agent.terminate() } }
        #expect(log.wait(for: "started", seconds: 10), "\(log.text)")
        #expect(log.text.contains("rules=1"), "\(log.text)")
        let serve = try startServe(inNamespace: bed.namespace(of: "h2")!)
        defer { if serve.isRunning { serve.terminate() } }
        Thread.sleep(forTimeInterval: 0.5)
        let client = try startPython(inNamespace: h1, pausingMPTCPClient(to: "fc00:2::2", port: 5201, first: 3_000_000, pause: 0, then: 12_000_000))
        defer { if client.isRunning { client.terminate() } }
        #expect(log.wait(for: "subflow", seconds: 10), "\(log.text)")
        Thread.sleep(forTimeInterval: 0.3)
        _ = try bed.setLinks(between: "r1", and: "b", up: false)
        let before = try bed.linkCounters()
        #expect(log.wait(for: "replaced", seconds: 10), "\(log.text)")
        client.waitUntilExit()
        serve.waitUntilExit()
        #expect(client.terminationStatus == 0)
        let after = try bed.linkCounters()
        #expect(moved("c", before, after) > 1_000_000, "the replacement via c carried \(moved("c", before, after))")
        let st = try runSrte(["agent", "status", "--netns", h1, "--format", "json"])
        #expect(st.out.contains("\"subflowsReplaced\":1"), "\(st.out)")
    }

    /// `srte agent --reflect` on the server (no rules): the replies of each subflow that arrives
    /// with an SRH go back along its reverse, so the server's 8 MB answer leaves r2 via b and c
    /// like the client's subflows came, not via the IGP's a.
    @Test func reflectingServerAgentSendsRepliesBackAlongEachPath() throws {
        let bed = try Testbed.up(try bundledTopology("diamond.yaml"), lab: "af\(getpid() % 100000)")
        defer { _ = try? bed.down() }
        let h1 = bed.namespace(of: "h1")!, h2 = bed.namespace(of: "h2")!
        let (server, serverLog) = try start(["agent", "--netns", h2, "--reflect", "--for", "30"])
        defer { if server.isRunning { server.terminate() } }
        #expect(serverLog.wait(for: "started", seconds: 10), "\(serverLog.text)")
        let (client, clientLog) = try start(["agent", "--netns", h1, "--to", "fc00:2::/64", "--port", "5201",
                                             "--path", "fc00:0:b::1", "--path", "fc00:0:c::1", "--for", "30"])
        defer { if client.isRunning { client.terminate() } }
        #expect(clientLog.wait(for: "started", seconds: 10), "\(clientLog.text)")

        let answer = try startPython(inNamespace: h2, """
            import socket
            l = socket.socket(socket.AF_INET6, socket.SOCK_STREAM, 262)
            l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            l.bind(("::", 5201)); l.listen(1); l.settimeout(20)
            c, _ = l.accept()
            got = 0
            while got < 1000000:
                d = c.recv(65536)
                if not d: break
                got += len(d)
            c.sendall(b"r" * 8000000)
            c.close()
            """)
        defer { if answer.isRunning { answer.terminate() } }
        Thread.sleep(forTimeInterval: 0.5)
        let before = try bed.linkCounters()
        let r = try bed.exec("h1", ["python3", "-c", """
            import socket
            s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM, 262)
            s.connect(("fc00:2::2", 5201))
            s.sendall(b"q" * 1000000)
            got = 0
            while True:
                d = s.recv(65536)
                if not d: break
                got += len(d)
            assert got == 8000000, got
            """])
        #expect(r.status == 0, "\(r.stderr)")
        answer.waitUntilExit()
        let after = try bed.linkCounters()
        func fromR2(_ mid: String) -> Int { bytesSent(from: "r2", to: mid, before, after) }
        #expect(fromR2("b") > 2_000_000 && fromR2("c") > 2_000_000, "replies via b \(fromR2("b")), via c \(fromR2("c"))")
        #expect(fromR2("a") < 1_000_000, "replies via a \(fromR2("a"))")
        #expect(serverLog.text.contains("reflected"), "\(serverLog.text)")
    }

    /// The one-rule planned policy from the command line: --topology/--node/-k/--disjoint (and
    /// --keep) plan 3 node-disjoint paths to h2 and the connection gets one subflow on each.
    @Test func plannedPathsFromTheCommandLine() throws {
        let bed = try Testbed.up(try bundledTopology("diamond.yaml"), lab: "at\(getpid() % 100000)")
        defer { _ = try? bed.down() }
        let (agent, log) = try start(["agent", "--netns", bed.namespace(of: "h1")!, "--topology", packageRoot + "/topologies/diamond.yaml",
                                      "--node", "h1", "-k", "3", "--disjoint", "node", "--to", "fc00:2::/64", "--port", "5201",
                                      "--keep", "--for", "20"])
        defer { if agent.isRunning { agent.terminate() } }
        #expect(log.wait(for: "started", seconds: 10), "\(log.text)")
        let serve = try startServe(inNamespace: bed.namespace(of: "h2")!)
        defer { if serve.isRunning { serve.terminate() } }
        Thread.sleep(forTimeInterval: 0.5)
        let before = try bed.linkCounters()
        let r = try bed.exec("h1", ["python3", "-c", pythonMPTCPClient(to: "fc00:2::2", port: 5201, bytes: 12_000_000)])
        #expect(r.status == 0, "\(r.stderr)")
        serve.waitUntilExit()
        let after = try bed.linkCounters()
        for mid in ["a", "b", "c"] {
            #expect(moved(mid, before, after) > 2_000_000, "r1 → \(mid) carried \(moved(mid, before, after))")
        }
        let st = try runSrte(["agent", "status", "--netns", bed.namespace(of: "h1")!])
        #expect(st.out.contains("3 subflow(s)"), "\(st.out)")
    }
}
