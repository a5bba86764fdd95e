import Foundation
import Testing
import SRv6Paths
import LinuxSystem
import TestSupport
@testable import SubflowSteering
@testable import PathAgent

final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}

final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [Agent.Event] = []
    func append(_ e: Agent.Event) { lock.lock(); events.append(e); lock.unlock() }
    var kinds: [String] { lock.lock(); defer { lock.unlock() }; return events.map(\.kind) }
}

/// The agent engineers an unmodified program's MPTCP connection: a Python client that knows
/// nothing of srte gets its initial subflow via b and a join via a. r1 has no route to h2's
/// prefix, so the connection only works if every subflow carries its SRH from its SYN on.
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates network namespaces and loads BPF"))
struct AgentLabTests {
    @Test func engineersAnUnmodifiedProgramsConnection() throws {
        let t = try TwoPathLab("agt")
        defer { t.lab.destroy() }
        for n in ["h1", "h2"] { try t.lab.sysctl(n, "net.mptcp.pm_type", "1") }
        for dev in ["r1-a", "r1-b"] {
            try t.lab.exec("r1", ["tc", "qdisc", "add", "dev", dev, "root", "tbf", "rate", "20mbit", "burst", "32kb", "latency", "50ms"])
        }
        try t.lab.exec("r1", ["ip", "-6", "route", "del", "fc00:20::/64"])
        let reservedBefore = try t.lab.exec("h1", ["cat", "/proc/sys/net/ipv4/ip_local_reserved_ports"])

        let policy = try AgentPolicy(yaml: """
            rules:
              - match: { to: "fc00:20::/64", port: 5201 }
                paths: [[fc00:0:b::1], [fc00:0:a::1]]
            """)
        let agent = try NetworkNamespace.run(in: t.lab.ns("h1")) { try Agent(policy: policy, interface: "h1-r1") }
        let log = EventLog()
        agent.log = { log.append($0) }
        let stop = Flag()
        let agentDone = DispatchSemaphore(value: 0)
        Thread { agent.run(until: { stop.isSet }); agentDone.signal() }.start()
        var stopped = false
        defer { if !stopped { stop.set(); agentDone.wait(); agent.stop() } }

        let sink = try NetworkNamespace.run(in: t.lab.ns("h2")) { try MPTCPSink(listen: SocketEndpoint(.unspecified, port: 5201)) }
        let result = SinkResult.serving(sink, timeout: .seconds(30))

        let size = 6_000_000
        let client = pythonMPTCPClient(to: "\(t.h2)", port: 5201, bytes: size)
        let bytes = try t.forwardBytes { _ = try t.lab.exec("h1", ["python3", "-c", client]) }
        #expect(result.finished(within: 30))
        let report = try #require(try result.get())
        #expect(report.bytes == UInt64(size) && report.multipath, "\(report)")
        #expect(report.subflows.count == 2, "one join per further path: \(report.subflows)")
        #expect(bytes.viaA > 1_000_000 && bytes.viaB > 1_000_000, "both paths carried a share: \(bytes)")
        #expect(log.kinds.contains("matched") && log.kinds.contains("subflow"), "\(log.kinds)")
        #expect(agent.counters.connectionsEngineered == 1 && agent.counters.subflowsOpened == 1)

        // Once the connection is gone, so is its steering.
        let clock = ContinuousClock(), deadline = clock.now + .seconds(2)
        while !agent.steering.steeredFlows.isEmpty && clock.now < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(agent.steering.steeredFlows.isEmpty)

        // Stopping removes the programs; the agent changes no sysctl.
        stop.set()
        agentDone.wait()
        agent.stop()
        stopped = true
        let attached = try NetworkNamespace.run(in: t.lab.ns("h1")) { try BPFSteering.attachedEgressPrograms(interface: "h1-r1") }
        #expect(attached == 0)
        #expect(try t.lab.exec("h1", ["cat", "/proc/sys/net/ipv4/ip_local_reserved_ports"]) == reservedBefore)
    }

    /// Lost events: with a tiny event buffer and the loop not reading while 30 connections open,
    /// the subscription overflows (ENOBUFS); the agent resyncs from sock_diag and still gives
    /// every connection its join.
    @Test func lostEventsAreRecoveredByAResync() throws {
        let t = try TwoPathLab("agr")
        defer { t.lab.destroy() }
        for n in ["h1", "h2"] { try t.lab.sysctl(n, "net.mptcp.pm_type", "1") }
        try t.lab.exec("r1", ["ip", "-6", "route", "del", "fc00:20::/64"])
        let policy = try AgentPolicy(yaml: """
            rules:
              - match: { to: "fc00:20::/64", port: 5201 }
                paths: [[fc00:0:b::1], [fc00:0:a::1]]
            """)
        let agent = try NetworkNamespace.run(in: t.lab.ns("h1")) { try Agent(policy: policy, interface: "h1-r1") }
        defer { agent.stop() }
        agent.subscription.setReceiveBuffer(bytes: 1024)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
        server.arguments = ["--net=/run/netns/\(t.lab.ns("h2"))", "/usr/bin/python3", "-c", """
            import socket, threading
            l = socket.socket(socket.AF_INET6, socket.SOCK_STREAM, 262)
            l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            l.bind(("::", 5201)); l.listen(64); l.settimeout(20)
            def drain(c):
                while c.recv(65536): pass
                c.close()
            for _ in range(30):
                c, _ = l.accept()
                threading.Thread(target=drain, args=(c,)).start()
            """]
        try server.run()
        defer { if server.isRunning { server.terminate() } }
        Thread.sleep(forTimeInterval: 0.5)
        let client = Process()
        client.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
        client.arguments = ["--net=/run/netns/\(t.lab.ns("h1"))", "/usr/bin/python3", "-c", """
            import socket, threading, time
            def one():
                s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM, 262)
                s.connect(("\(t.h2)", 5201))
                s.sendall(b"x" * 100000)
                time.sleep(4)
                s.close()
            ts = [threading.Thread(target=one) for _ in range(30)]
            for t in ts: t.start()
            for t in ts: t.join()
            """]
        try client.run()
        defer { if client.isRunning { client.terminate() } }
        Thread.sleep(forTimeInterval: 1.5)       // all connected and established; the agent has read nothing

        let stop = Flag()
        let done = DispatchSemaphore(value: 0)
        Thread { agent.run(until: { stop.isSet }); done.signal() }.start()
        let clock = ContinuousClock(), deadline = clock.now + .seconds(5)
        while agent.counters.subflowsOpened < 30 && clock.now < deadline { Thread.sleep(forTimeInterval: 0.05) }
        stop.set()
        done.wait()
        #expect(agent.counters.resyncs >= 1, "\(agent.counters)")
        #expect(agent.counters.connectionsEngineered == 30 && agent.counters.subflowsOpened == 30, "\(agent.counters)")
        client.waitUntilExit()
    }
}
