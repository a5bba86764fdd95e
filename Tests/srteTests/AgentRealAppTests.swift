import Foundation
import Testing
import TestSupport
import NetworkLab
import LinuxSystem
import SubflowSteering
import Glibc

/// `srte agent` with a real application: iperf3, made MPTCP by `mptcpize run`, neither of which
/// knows srte. The agent runs as a process (`srte agent --netns <lab>-h1`) in a lab of the bundled
/// diamond. h2 runs the in-kernel path manager (`--mptcp-pm h2=kernel` in `srte testbed up`):
/// iperf3's server does not subscribe to `mptcp_pm_events`, and a userspace-PM server accepts
/// joins only while some process on the host does, which other tests on this host may or may not.
///
/// (A plain Python client, `socket(AF_INET6, SOCK_STREAM, IPPROTO_MPTCP)`, is the program of
/// `AgentDaemonCLITests`.)
@Suite(.serialized, .enabled(if: isRoot && Iperf3Tools.available, "needs root (network namespaces), iperf3 and mptcpize (scripts/install-deps.sh)"),
       .timeLimit(.minutes(3)))
struct AgentRealAppTests {
    func up(_ tag: String) throws -> Testbed {
        try Testbed.up(try bundledTopology("diamond.yaml"), lab: "\(tag)\(getpid() % 100000)",
                       options: Testbed.UpOptions(hostPathManagers: ["h2": .kernel]))
    }

    func startAgent(_ args: [String]) throws -> (Process, Collected) { try startCollectingStderr(args) }

    /// `mptcpize run iperf3 -s -1` in h2, listening before this returns.
    func startServer(_ bed: Testbed) throws -> Process {
        let p = Process()
        let argv = try bed.execArguments("h2", ["mptcpize", "run", "iperf3", "-s", "-1", "-p", "5201"])
        p.executableURL = URL(fileURLWithPath: argv[0])
        p.arguments = Array(argv.dropFirst())
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(10)
        while try bed.exec("h2", ["ss", "-H", "-ltn", "sport = :5201"]).stdout.isEmpty && Date() < deadline { usleep(50_000) }
        return p
    }

    /// `mptcpize run iperf3 -c h2 -n BYTES` from h1; returns the client's JSON report.
    func client(_ bed: Testbed, bytes: Int) throws -> [String: Any] {
        let r = try bed.exec("h1", ["timeout", "60", "mptcpize", "run", "iperf3", "-c", "fc00:2::2", "-p", "5201", "-n", "\(bytes)",
                                    "-C", "cubic", "--json", "--connect-timeout", "5000"])
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect(r.status == 0 && json?["error"] == nil, "iperf3: \(json?["error"] ?? r.stderr)")
        return json ?? [:]
    }

    /// Bytes r1 sent toward each middle router between two counter readings.
    func fromR1(_ before: [Testbed.LinkCounters], _ after: [Testbed.LinkCounters]) -> [String: Int] {
        var out: [String: Int] = [:]
        for (b, a) in zip(before, after) where a.a == "r1" && ["a", "b", "c"].contains(a.b) {
            out[a.b] = Int((a.endA?.txBytes ?? 0) - (b.endA?.txBytes ?? 0))
        }
        return out
    }

    /// The agent gives iperf3's connection a subflow via b (from its SYN) and a join via c: each
    /// carries its share, and a, where the IGP would send everything, carries at most 5 %.
    /// iperf3 opens a control connection and then its data connection to the same port while
    /// the first is engineered, so this also covers a second connection opened while the
    /// steering's MTU route stands.
    @Test func engineersIperf3ThroughMptcpize() throws {
        let bed = try up("ai")
        defer { _ = try? bed.down() }
        #expect(try bed.exec("h2", ["sysctl", "-n", "net.mptcp.pm_type"]).stdout.hasPrefix("0"))
        #expect(try bed.exec("h1", ["sysctl", "-n", "net.mptcp.blackhole_timeout"]).stdout.hasPrefix("0"))
        let h1 = bed.namespace(of: "h1")!
        let (agent, log) = try startAgent(["agent", "--netns", h1, "--to", "fc00:2::/64", "--port", "5201",
                                           "--path", "fc00:0:b::1", "--path", "fc00:0:c::1", "--for", "60"])
        defer { if agent.isRunning { agent.terminate(); agent.waitUntilExit() } }
        #expect(log.wait(for: "started", seconds: 15), "\(log.text)")
        let server = try startServer(bed)
        defer { if server.isRunning { server.terminate() } }

        let size = 20_000_000
        let before = try bed.linkCounters()
        let report = try client(bed, bytes: size)
        let after = try bed.linkCounters()
        let end = report["end"] as? [String: Any]
        #expect(((end?["sum_sent"] as? [String: Any])?["bytes"] as? NSNumber)?.intValue ?? 0 >= size, "\(end ?? [:])")

        let moved = fromR1(before, after)
        let total = moved.values.reduce(0, +)
        // iperf3 -n stops once it has written that much; the last bytes may never be sent.
        #expect(total > size * 9 / 10, "r1 forwarded \(total) bytes toward the middle for a \(size)-byte transfer")
        for mid in ["b", "c"] {
            #expect(Double(moved[mid] ?? 0) > 0.25 * Double(total), "r1 → \(mid) carried \(moved[mid] ?? 0) of \(total) bytes: \(moved)")
        }
        #expect(Double(moved["a"] ?? 0) <= 0.05 * Double(total), "the IGP-only link r1 → a carried \(moved["a"] ?? 0) of \(total) bytes")
        #expect(log.text.contains("srte agent: matched") && log.text.contains("srte agent: subflow"), "\(log.text)")
        #expect(!log.text.contains("srte agent: error"), "\(log.text)")

        // The connections are gone: the agent's status says how many it engineered (control + data).
        let st = try runSrte(["agent", "status", "--netns", h1, "--format", "json"])
        let json = try JSONSerialization.jsonObject(with: Data(st.out.utf8)) as? [String: Any]
        let counters = json?["counters"] as? [String: Any]
        #expect((counters?["connectionsEngineered"] as? Int ?? 0) >= 2, "\(st.out)")
        #expect((counters?["subflowsFailed"] as? Int) == 0, "\(st.out)")
        agent.terminate()
        agent.waitUntilExit()
        #expect(try bed.exec("h1", ["ip", "-6", "route", "show", "proto", "83"]).stdout.isEmpty, "MTU routes left behind")
    }

    /// A destination no rule matches is left alone: iperf3's connections keep one subflow, on the
    /// IGP path via a.
    @Test func leavesUnmatchedDestinationsAlone() throws {
        let bed = try up("aj")
        defer { _ = try? bed.down() }
        let h1 = bed.namespace(of: "h1")!
        // Only port 5202 is engineered; iperf3 talks to 5201.
        let (agent, log) = try startAgent(["agent", "--netns", h1, "--to", "fc00:2::/64", "--port", "5202",
                                           "--path", "fc00:0:b::1", "--path", "fc00:0:c::1", "--for", "60"])
        defer { if agent.isRunning { agent.terminate(); agent.waitUntilExit() } }
        #expect(log.wait(for: "started", seconds: 15), "\(log.text)")
        let server = try startServer(bed)
        defer { if server.isRunning { server.terminate() } }

        let size = 8_000_000
        let before = try bed.linkCounters()
        // Count h2's established subflows toward port 5201 while the transfer runs.
        let done = Flag()
        let most = MaxCounter()
        let sampler = Thread {
            while !done.isSet {
                if let r = try? bed.exec("h2", ["ss", "-H", "-tn", "state", "established", "sport = :5201"]) {
                    most.observe(r.stdout.split(separator: "\n").count)
                }
                usleep(100_000)
            }
        }
        sampler.start()
        _ = try client(bed, bytes: size)
        done.set()
        usleep(300_000)
        let after = try bed.linkCounters()
        let moved = fromR1(before, after)
        #expect((moved["a"] ?? 0) > size * 9 / 10, "the IGP path carried \(moved)")
        #expect((moved["b"] ?? 0) + (moved["c"] ?? 0) < size / 100, "b and c carried \(moved)")
        // iperf3's control connection and its data connection: one subflow each, no joins.
        #expect(most.value <= 2, "h2 saw up to \(most.value) TCP subflows on port 5201")
        #expect(!log.text.contains("srte agent: matched") && log.text.contains("srte agent: unmatched"), "\(log.text)")
        let st = try runSrte(["agent", "status", "--netns", h1, "--format", "json"])
        let counters = (try JSONSerialization.jsonObject(with: Data(st.out.utf8)) as? [String: Any])?["counters"] as? [String: Any]
        #expect((counters?["connectionsEngineered"] as? Int) == 0 && (counters?["subflowsOpened"] as? Int) == 0, "\(st.out)")
        #expect((counters?["connectionsUnmatched"] as? Int ?? 0) >= 2, "iperf3's control and data connections: \(st.out)")
    }
}

/// Whether iperf3 and mptcpize are installed.
enum Iperf3Tools {
    static let available = ["iperf3", "mptcpize"].allSatisfy { tool in
        ["/usr/bin", "/usr/local/bin", "/bin"].contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)") }
    }
}

final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}

final class MaxCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var most = 0
    func observe(_ n: Int) { lock.lock(); most = max(most, n); lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return most }
}
