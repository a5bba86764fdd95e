import Foundation
import Testing
import TestSupport
import NetworkLab
import LinuxSystem
import SubflowSteering
import PathAgent
import Glibc

/// srte's C API beyond opening and closing subflows (capi/tests/ops_client.c against a running
/// `srte agent` in a lab of the bundled diamond): per-subflow socket options, a subflow's
/// priority and the connection's event stream, as root and as another user, with a third user
/// holding the socket refused.
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates network namespaces"), .timeLimit(.minutes(4)))
struct CAPIOperationsTests {
    /// The subflows of h1 as `ss -tie` shows them (one line each), the local port first.
    func ssLines(_ bed: Testbed) throws -> [String] {
        let r = try runTool(["ip", "netns", "exec", bed.namespace(of: "h1")!, "ss", "-tieHO", "state", "established"])
        return r.out.split(separator: "\n").map(String.init)
    }

    /// An MPTCP connection from h1 to `server` that has sent 1000 bytes.
    func connectFromH1(_ bed: Testbed, to server: SocketEndpoint) throws -> MPTCPSocket {
        try NetworkNamespace.run(in: bed.namespace(of: "h1")!) {
            let c = try MPTCPSocket()
            try c.connect(to: server)
            _ = try c.send([UInt8](repeating: 7, count: 1000))
            return c
        }
    }

    /// The agent's socket in h1.
    func agentSocket(_ bed: Testbed) throws -> String {
        "/run/srte/agent-\(try NetworkNamespace.run(in: bed.namespace(of: "h1")!) { try NetworkNamespace.currentCookie() }).sock"
    }

    static func be32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.bigEndian, Array.init) }
    static func native(_ v: Int32) -> [UInt8] { withUnsafeBytes(of: v, Array.init) }

    /// One request of the agent protocol (Docs/AgentProtocol.md), without the keep bit.
    static func frame(_ op: UInt8, _ body: [UInt8]) -> [UInt8] {
        [0x53, 0x52, 0x54, 0x41, 1, op, 0, 0] + be32(UInt32(body.count)) + [0, 0, 0, 0] + body
    }

    /// An answer's errno (nil: shorter than a header).
    static func errorOf(_ answer: [UInt8]) -> Int32? {
        answer.count >= 16 ? Int32(bitPattern: UInt32(answer[12]) << 24 | UInt32(answer[13]) << 16 | UInt32(answer[14]) << 8 | UInt32(answer[15])) : nil
    }

    /// Sends request `op` with `socket` on a connection of its own and reads the answer:
    /// (errno, body as text, body).
    static func call(_ path: String, _ op: UInt8, _ body: [UInt8], socket: Int32) throws -> (errno: Int32, text: String, body: [UInt8]) {
        let s = try UnixSocket.connect(to: path)
        defer { close(s) }
        try UnixSocket.send(s, frame(op, body), descriptors: [socket], credentials: true)
        shutdown(s, Int32(SHUT_WR))
        let a = try UnixSocket.readAll(s, timeout: .seconds(5))
        let b = Array(a.dropFirst(16))
        return (errorOf(a) ?? -1, String(decoding: b, as: UTF8.self), b)
    }

    /// Runs ops_client in h1 (as root, which forks the users it is told); returns its output and
    /// `ss -tie` taken while it holds the connection.
    func run(_ bed: Testbed, _ client: String, _ args: [String], duringHold: () throws -> Void = {}) throws -> (out: String, ss: [String]) {
        let serve = try startServe(inNamespace: bed.namespace(of: "h2")!)
        defer { if serve.isRunning { serve.terminate() } }
        Thread.sleep(forTimeInterval: 0.3)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["ip", "netns", "exec", bed.namespace(of: "h1")!, client, "fc00:2::2", "5201", "--hold", "1500"] + args
        let pipe = Pipe(), out = Collected()
        p.standardOutput = pipe
        p.standardError = pipe
        pipe.fileHandleForReading.readabilityHandler = { h in out.append(h.availableData) }
        try p.run()
        defer { if p.isRunning { p.terminate() } }
        var ss: [String] = []
        if out.wait(for: "holding", seconds: 20) {
            ss = try ssLines(bed)
            try duringHold()
        }
        let deadline = Date().addingTimeInterval(30)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        Thread.sleep(forTimeInterval: 0.1)
        pipe.fileHandleForReading.readabilityHandler = nil
        out.append(pipe.fileHandleForReading.availableData)
        serve.waitUntilExit()
        return (out.text, ss)
    }

    @Test func subflowOptionsPriorityAndEventsAsRootAndAsAnotherUser() throws {
        let build = try CAPIBuild()
        defer { build.remove() }
        let client = try build.compileClient("ops_client")
        let bed = try Testbed.up(try bundledTopology("diamond.yaml"), lab: "cs\(getpid() % 100000)")
        defer { _ = try? bed.down() }
        // uid 65534 may open subflows (no SRH) and give them marks 40-49; 65533 has a grant too,
        // but not the connection.
        let policy = try agentPolicyFile("""
            rules: []
            grants:
              - { uid: 65534, marks: 40-49 }
              - { uid: 65533, marks: 40-49 }
            """)
        defer { try? FileManager.default.removeItem(atPath: policy) }
        // A connection made before the agent started: its subflows connected without RTT
        // callbacks, which no BPF hook can turn on later.
        let early = try startServe(inNamespace: bed.namespace(of: "h2")!, port: 5202)
        defer { if early.isRunning { early.terminate() } }
        Thread.sleep(forTimeInterval: 0.3)
        let before = try connectFromH1(bed, to: try #require(SocketEndpoint(parsing: "[fc00:2::2]:5202")))
        let (agent, log) = try CAPITests().startAgent(bed, policy: policy)
        defer { if agent.isRunning { agent.terminate(); agent.waitUntilExit() } }
        #expect(log.wait(for: "started", seconds: 10), "\(log.text)")

        // Set TCP_CONGESTION on the early connection's subflow 1 (protocol op 7): refused, saying why.
        let refused = try Self.call(try agentSocket(bed), 7, Self.be32(1) + Self.be32(UInt32(IPPROTO_TCP)) + Self.be32(UInt32(TCP_CONGESTION)) + Array("reno".utf8),
                                    socket: before.fileDescriptor)
        #expect(refused.errno == EOPNOTSUPP && refused.text.contains("connected before the agent's option program was attached"), "\(refused.errno): \(refused.text)")
        withExtendedLifetime(before) {}

        for (uid, mark) in [(UInt32?.none, 42), (UInt32?.some(65534), 43)] {
            let who = uid.map { "uid \($0)" } ?? "root"
            // During the hold the server marks the subflow backup (its own path manager's
            // SET_FLAGS): an MP_PRIO the client receives, reported as the peer's change.
            let (out, ss) = try run(bed, client, ["--thief", "65533", "--cc", "reno", "--mark", "\(mark)", "--peer-prio"] + (uid.map { ["--as", "\($0)"] } ?? [])) {
                try NetworkNamespace.run(in: bed.namespace(of: "h2")!) {
                    // The one join on the server: the subflow this program opened.
                    let sub = try #require(try SubflowDiagnostics.all().first { $0.local.port == 5201 && $0.isJoin && $0.tcpState == 1 })
                    try MPTCPPathManager().setBackup(token: sub.token, local: sub.local, remote: sub.remote, backup: true)
                }
            }
            #expect(out.contains("events ok"), "\(who): \(out)\n\(log.text)")
            #expect(out.contains("open ok id=2"), "\(who): \(out)")
            // Events: the subflow this program opened, by its id.
            #expect(out.contains("event sub-established id=2 lport=") && !out.contains("event sub-established id=2 lport=0 "), "\(who): \(out)")
            #expect(out.contains("setcc ok") && out.contains("setmark ok"), "\(who): \(out)")
            #expect(out.contains("measured applied-after=") && !out.contains("applied-after=-1"), "\(who): the option took effect under traffic: \(out)")
            // Read back through the agent (sock_diag of the subflow) after traffic.
            #expect(out.contains("getcc=reno getmark=\(mark) tclass=0 maxseg="), "\(who): \(out)")
            #expect(out.contains("tcpinfo len=") && out.contains("state=1"), "\(who): \(out)")
            #expect(out.contains("getfastopen errno=EOPNOTSUPP") && out.contains("not supported"), "\(who): \(out)")
            // Integer options through bpf_setsockopt, read live through bpf_getsockopt: the
            // kernel doubles SO_SNDBUF (65536 asked), which only a read from the socket shows.
            #expect(out.contains(uid == nil ? "setprio7 ok" : "setprio7 errno=EPERM"), "\(who): \(out)")
            #expect(out.contains("setints ok") && out.contains("live prio=5 nodelay=1 sndbuf=131072"), "\(who): \(out)")
            // The initial subflow connected while the agent's program was attached: reachable too.
            #expect(out.contains("set-initial ok") && out.contains("initial-cc=reno"), "\(who): \(out)")
            // Priority: the backup flag as the kernel reports it, and the event.
            #expect(out.contains("prio ok"), "\(who): \(out)")
            #expect(out.contains("event priority id=2 low=1 peer=0"), "\(who): \(out)")
            #expect(out.contains("event priority id=2 low=1 peer=1"), "\(who): the server's MP_PRIO: \(out)")
            #expect(out.contains("ids n=2 1:E- 2:EL"), "\(who): \(out)")
            // The other user holding the socket may read, not change.
            #expect(out.contains("thief ids n=2 1:E- 2:EL"), "\(who): \(out)")
            #expect(out.contains("thief setcc errno=EPERM") && out.contains("belongs to uid \(uid ?? 0)"), "\(who): \(out)")
            #expect(out.contains("thief prio errno=EPERM"), "\(who): \(out)")
            #expect(out.contains("after-thief getcc=reno") && out.contains("after-thief ids n=2 1:E- 2:EL"), "\(who): unchanged: \(out)")
            // The kernel's own view (ss in h1): the subflow the program opened (its local port
            // as the event stream reported it) has the congestion control and the mark; the
            // initial subflow the congestion control only.
            let lport = out.split(separator: "\n").first { $0.hasPrefix("event sub-established id=2 lport=") }
                .flatMap { $0.split(separator: " ").first { $0.hasPrefix("lport=") } }.map { String($0.dropFirst(6)) } ?? "?"
            let opened = ss.filter { $0.contains("]:\(lport) ") }
            let initial = ss.filter { $0.contains("]:5201") && !$0.contains("]:\(lport) ") }
            #expect(opened.count == 1 && opened[0].contains("reno") && opened[0].contains("fwmark:0x\(String(mark, radix: 16))"),
                    "\(who): \(ss.joined(separator: "\n"))")
            #expect(initial.count == 1 && initial[0].contains("reno") && !initial[0].contains("fwmark"), "\(who): \(ss.joined(separator: "\n"))")
            // ss's MPTCP subflow flags: b = backup (MPTCP_SUBFLOW_FLAG_BKUP_LOC).
            func flags(_ line: String?) -> String? {
                guard let line, let r = line.range(of: " flags:") else { return nil }
                return String(line[r.upperBound...].prefix { $0 != " " })
            }
            #expect(flags(opened.first)?.contains("b") == true && flags(initial.first)?.contains("b") == false,
                    "\(who): \(ss.joined(separator: "\n"))")
            // Closing: the subflow's event, then the connection's, then the end of the stream.
            #expect(out.contains("event sub-closed id=2"), "\(who): \(out)")
            #expect(out.contains("event closed") && out.contains("events end"), "\(who): \(out)")
        }

        // A user other than root: a mark outside its grant and a congestion control outside
        // net.ipv4.tcp_allowed_congestion_control are what the kernel would refuse it (EPERM).
        let (out, _) = try run(bed, client, ["--as", "65534", "--cc", "cubic", "--mark", "7"])
        #expect(out.contains("setcc errno=EPERM") && out.contains("tcp_allowed_congestion_control"), "\(out)")
        #expect(out.contains("setmark errno=EPERM") && out.contains("mark 7 is not granted"), "\(out)")
        #expect(agent.isRunning)
    }

    /// A lab with `srte agent` in h1 (a grant-only policy: root's requests need none) and
    /// `srte serve` listening in `serveNode` on `port`; `body` runs with the agent's log.
    func withAgent(lab name: String, serveNode: String, port: Int = 5201, _ body: (Testbed, Collected) throws -> Void) throws {
        let lab = try AgentLab(name, policy: "rules: []\ngrants:\n  - { uid: 65534 }\n")
        defer { lab.close() }
        let (bed, agent, log) = (lab.bed, lab.agent, lab.log)
        let ns = bed.namespace(of: serveNode)!
        _ = try runTool(["ip", "-n", ns, "link", "set", "lo", "up"])
        let serve = try startServe(inNamespace: ns, port: port)
        defer { if serve.isRunning { serve.terminate() } }
        Thread.sleep(forTimeInterval: 0.3)
        try body(bed, log)
        #expect(agent.isRunning, "\(log.text)")
    }

    /// A live read of an integer option waits for the subflow's next acknowledgment (up to
    /// 100 ms): the agent answers it later and serves everyone else meanwhile — a hello sent
    /// after the read, on another connection, is answered first. (An agent that waited in its
    /// loop answered the read first, after 100 ms of serving no one.)
    @Test func anOptionReadThatWaitsForAnAcknowledgmentHoldsUpNoOne() throws {
        try withAgent(lab: "cw", serveNode: "h2") { bed, _ in
            // A connection made while the agent runs (its option program reaches the subflow),
            // idle once its data is acknowledged: no acknowledgment comes to answer a read.
            let connection = try connectFromH1(bed, to: try #require(SocketEndpoint(parsing: "[fc00:2::2]:5201")))
            Thread.sleep(forTimeInterval: 0.3)
            let path = try agentSocket(bed)
            // Op 6: SO_PRIORITY of subflow 1 (an integer option: read live by the program).
            let read = try UnixSocket.connect(to: path)
            defer { close(read) }
            try UnixSocket.send(read, Self.frame(6, Self.be32(1) + Self.be32(UInt32(SOL_SOCKET)) + Self.be32(UInt32(SO_PRIORITY)) + Self.be32(4)),
                                descriptors: [connection.fileDescriptor], credentials: true)
            shutdown(read, Int32(SHUT_WR))
            Thread.sleep(forTimeInterval: 0.01)     // the agent has the read
            let hello = try UnixSocket.connect(to: path)
            defer { close(hello) }
            try UnixSocket.send(hello, Self.frame(1, []), credentials: true)
            shutdown(hello, Int32(SHUT_WR))
            let helloAnswer = try UnixSocket.readAll(hello, timeout: .seconds(5))
            var waiting = pollfd(fd: read, events: Int16(POLLIN), revents: 0)
            let readStillWaiting = poll(&waiting, 1, 0) == 0
            #expect(Self.errorOf(helloAnswer) == 0, "hello: \(helloAnswer)")
            #expect(readStillWaiting, "the option read was answered before a hello sent after it: the agent waited for the acknowledgment in its loop")
            let readAnswer = try UnixSocket.readAll(read, timeout: .seconds(5))
            // Then the read is answered: the value, or EAGAIN (no acknowledgment within 100 ms).
            let e = Self.errorOf(readAnswer)
            #expect(e == 0 || e == EAGAIN, "\(String(decoding: readAnswer.dropFirst(16), as: UTF8.self))")
            withExtendedLifetime(connection) {}
        }
    }

    /// Subflows opened with local port 0 get the kernel's ephemeral ports (from
    /// net.ipv4.ip_local_port_range, not a range of the agent's own): 200 opened and closed
    /// (FIN) on one connection, one after another, the first one's port as the kernel reports it.
    /// Then with explicit ports, each with a local address id of its own: the broker's ids go
    /// round (an agent whose ids stopped at the last one refused a second subflow kept open).
    @Test func portZeroOpensTakeEphemeralPortsAndLocalIDsGoRound() throws {
        try withAgent(lab: "cz", serveNode: "h2") { bed, log in
            let connection = try connectFromH1(bed, to: try #require(SocketEndpoint(parsing: "[fc00:2::2]:5201")))
            Thread.sleep(forTimeInterval: 0.3)
            let path = try agentSocket(bed), fd = connection.fileDescriptor
            // The tuple: no flags, AF_INET6, no SRH, no interface, ports 0 and addresses :: (the
            // initial subflow's).
            let tuple: [UInt8] = [0, UInt8(AF_INET6)] + [UInt8](repeating: 0, count: 46)
            var ports: [UInt16] = []
            var failure: String? = nil
            for i in 0..<200 {
                let open = try Self.call(path, 3, tuple, socket: fd)
                guard open.errno == 0, open.body.count >= 4 + 48 else { failure = "open \(i): \(open.errno) \(open.text)"; break }
                let b = open.body
                let id = UInt32(b[0]) << 24 | UInt32(b[1]) << 16 | UInt32(b[2]) << 8 | UInt32(b[3])
                ports.append(UInt16(b[4 + 8]) << 8 | UInt16(b[4 + 9]))
                if i == 0 {
                    // The kernel's view: the subflow's local port is the one answered.
                    let live = try NetworkNamespace.run(in: bed.namespace(of: "h1")!) { try SubflowDiagnostics.all() }
                    #expect(live.contains { $0.local.port == ports[0] && $0.remote.port == 5201 && $0.isJoin }, "\(live.map(\.local))")
                }
                let close = try Self.call(path, 4, Self.be32(id) + Self.be32(UInt32(SHUT_RDWR)), socket: fd)
                guard close.errno == 0 else { failure = "close \(i) (id \(id)): \(close.errno) \(close.text)"; break }
            }
            #expect(failure == nil, "\(failure ?? "")\n\(log.text.suffix(2000))")
            let range = try runTool(["ip", "netns", "exec", bed.namespace(of: "h1")!, "cat", "/proc/sys/net/ipv4/ip_local_port_range"]).out
                .split(whereSeparator: \.isWhitespace).compactMap { UInt16($0) }
            #expect(ports.count == 200 && range.count == 2 && ports.allSatisfy { $0 >= range[0] && $0 <= range[1] }, "\(range) \(ports.prefix(10))")
            // (The agent's fallback range, 43000-43999, would hold all of them.)
            #expect(ports.contains { !(43000...43999).contains($0) }, "the kernel's choice, not the agent's range: \(ports.prefix(10))")

            // Explicit ports: each subflow's own local address id. 130 opened and closed, then two
            // kept open at once: the ids go round the broker's 128 (skipping the port-0 one).
            func explicitTuple(port: UInt16) -> [UInt8] { [0, UInt8(AF_INET6), 0, 0, 0, 0, 0, 0, UInt8(port >> 8), UInt8(port & 0xff)] + [UInt8](repeating: 0, count: 38) }
            var explicitFailure: String? = nil
            var kept: [UInt32] = []
            for i in 0..<132 {
                let open = try Self.call(path, 3, explicitTuple(port: 47000 + UInt16(i)), socket: fd)
                guard open.errno == 0, open.body.count >= 4 else { explicitFailure = "open \(i): \(open.errno) \(open.text)"; break }
                let id = UInt32(open.body[0]) << 24 | UInt32(open.body[1]) << 16 | UInt32(open.body[2]) << 8 | UInt32(open.body[3])
                if i >= 130 { kept.append(id); continue }
                let close = try Self.call(path, 4, Self.be32(id) + Self.be32(UInt32(SHUT_RDWR)), socket: fd)
                guard close.errno == 0 else { explicitFailure = "close \(i): \(close.errno) \(close.text)"; break }
            }
            #expect(explicitFailure == nil && kept.count == 2, "\(explicitFailure ?? "")")
            withExtendedLifetime(connection) {}
        }
    }

    /// `srte agent --cpu-latency N` holds a PM QoS request while it runs: the kernel's request
    /// in force is at most N then, and what it was before once the agent is gone — killed, too.
    @Test func theAgentsCPULatencyRequestLastsAsLongAsTheAgent() throws {
        let before = try #require(CPULatencyRequest.current(), "no \(CPULatencyRequest.device)")
        let lab = try AgentLab("cq", policy: "rules: []\ngrants:\n  - { uid: 65534 }\n", arguments: ["--cpu-latency", "7"])
        defer { lab.close() }
        #expect(lab.log.text.contains("cpuLatency=7us"), "\(lab.log.text)")
        #expect((CPULatencyRequest.current() ?? .max) <= 7)
        let status = try runSrte(["agent", "status", "--netns", lab.bed.namespace(of: "h1")!, "--format", "json"])
        #expect(status.out.contains("\"cpuLatency\":7"), "\(status.out) \(status.err)")
        let socket = try agentSocket(lab.bed)
        kill(lab.agent.processIdentifier, SIGKILL)
        lab.agent.waitUntilExit()
        unlink(socket)      // (what a killed agent leaves; `srte cleanup` removes it too)
        #expect(CPULatencyRequest.current() == before, "the request outlived the agent")
    }

    /// An IPv4 subflow (an AF_INET MPTCP socket) gets its options too: the option program keys
    /// it by its IPv4-mapped addresses; its TOS is IP_TOS, and IPV6_TCLASS is refused naming it.
    /// Over the loopback of h1 (the lab routes IPv6 only), server and client both there.
    @Test func anIPv4SubflowGetsItsOptions() throws {
        try withAgent(lab: "c4", serveNode: "h1", port: 5301) { bed, _ in
            let h1 = bed.namespace(of: "h1")!
            // socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP) to 127.0.0.1: an IPv4 initial subflow.
            let fd: Int32 = try NetworkNamespace.run(in: h1) {
                let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 262)
                guard s >= 0 else { throw SystemCallError("socket(AF_INET, IPPROTO_MPTCP)", errno: .current) }
                var a = sockaddr_in()
                a.sin_family = sa_family_t(AF_INET)
                a.sin_port = UInt16(5301).bigEndian
                a.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
                let r = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
                guard r == 0 else { let e = Errno.current; close(s); throw SystemCallError("connect(127.0.0.1:5301)", errno: e) }
                return s
            }
            defer { close(fd) }
            let data = [UInt8](repeating: 7, count: 4000)
            #expect(send(fd, data, data.count, 0) == data.count)
            Thread.sleep(forTimeInterval: 0.2)
            let path = try agentSocket(bed)
            let be32 = Self.be32, native = Self.native
            func call(_ op: UInt8, _ body: [UInt8]) throws -> (errno: Int32, text: String, body: [UInt8]) { try Self.call(path, op, body, socket: fd) }
            let ids = try call(2, [])
            #expect(ids.errno == 0 && ids.body.count >= 12, "subflow ids: \(ids.errno) \(ids.text)")
            // (u32 count, then per subflow u32 id, u8 flags, 3 bytes padding)
            let b = ids.body
            let id = b.count >= 12 ? UInt32(b[4]) << 24 | UInt32(b[5]) << 16 | UInt32(b[6]) << 8 | UInt32(b[7]) : 1
            // Op 7: TCP_CONGESTION reno, IP_TOS 0x20; IPV6_TCLASS refused, naming IP_TOS.
            let cc = try call(7, be32(id) + be32(UInt32(IPPROTO_TCP)) + be32(UInt32(TCP_CONGESTION)) + Array("reno".utf8))
            #expect(cc.errno == 0, "set TCP_CONGESTION on an IPv4 subflow: \(cc.errno) \(cc.text)")
            let tos = try call(7, be32(id) + be32(UInt32(IPPROTO_IP)) + be32(UInt32(IP_TOS)) + native(0x20))
            #expect(tos.errno == 0, "set IP_TOS: \(tos.errno) \(tos.text)")
            let tclass = try call(7, be32(id) + be32(UInt32(IPPROTO_IPV6)) + be32(UInt32(IPV6_TCLASS)) + native(0x20))
            #expect(tclass.errno == EOPNOTSUPP && tclass.text.contains("IP_TOS"), "IPV6_TCLASS on an IPv4 subflow: \(tclass.errno) \(tclass.text)")
            // Traffic: the program applies them at the subflow's next acknowledgment.
            for _ in 0..<5 {
                _ = send(fd, data, data.count, 0)
                Thread.sleep(forTimeInterval: 0.05)
            }
            let getCC = try call(6, be32(id) + be32(UInt32(IPPROTO_TCP)) + be32(UInt32(TCP_CONGESTION)) + be32(16))
            #expect(getCC.errno == 0 && String(decoding: getCC.body.prefix { $0 != 0 }, as: UTF8.self) == "reno", "get TCP_CONGESTION: \(getCC.errno) \(getCC.text)")
            let getTOS = try call(6, be32(id) + be32(UInt32(IPPROTO_IP)) + be32(UInt32(IP_TOS)) + be32(4))
            let tosValue = getTOS.body.count == 4 ? getTOS.body.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) } : -1
            #expect(getTOS.errno == 0 && tosValue == 0x20, "get IP_TOS: \(getTOS.errno) \(tosValue)")
            // The kernel's own view of h1's IPv4 connection to port 5301 (client side): reno.
            let ss = try runTool(["ip", "netns", "exec", h1, "ss", "-4tieHO", "state", "established", "dport = :5301"])
            #expect(ss.out.contains("reno"), "\(ss.out)")
        }
    }
}
