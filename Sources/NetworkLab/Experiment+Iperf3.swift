import Glibc
import Foundation
import SRv6Paths
import LinuxSystem
import SubflowSteering

/// `srte experiment --traffic iperf3`: the same three runs with an unmodified program, iperf3,
/// made MPTCP by `mptcpize` (an `LD_PRELOAD` library that turns its TCP sockets into MPTCP ones),
/// and the engineered run's subflows opened and steered by `srte agent`, started as a process of
/// the srte executable (NetworkLab does not link the agent).
extension Experiment {
    /// One iperf3 measurement, from the client's `--json` report with the server's own report
    /// (`--get-server-output`) inside it.
    struct Iperf3Run {
        /// Received payload rate over the whole run (the server's count).
        var mbps: Double
        /// Received payload rate of the server's intervals after the first second.
        var steadyMbps: Double?
        /// Bytes the client sent and the server received.
        var sent: UInt64, received: UInt64
        /// The server's per-interval rates: (end of interval in s, Mbit/s).
        var series: [[Double]]
    }

    /// Parses iperf3 3.x `--json` client output (with `--get-server-output`).
    static func parseIperf3(_ text: String) throws -> Iperf3Run {
        guard let json = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
            throw SubflowError(.system, "iperf3 printed no JSON report: \(text.prefix(300))")
        }
        if let e = json["error"] as? String { throw SubflowError(.system, "iperf3: \(e)") }
        let end = json["end"] as? [String: Any]
        func number(_ d: [String: Any]?, _ k: String) -> Double? { (d?[k] as? NSNumber)?.doubleValue }
        let sent = number(end?["sum_sent"] as? [String: Any], "bytes") ?? 0
        let received = number(end?["sum_received"] as? [String: Any], "bytes") ?? 0
        let server = json["server_output_json"] as? [String: Any]
        let intervals = ((server?["intervals"] ?? json["intervals"]) as? [[String: Any]] ?? []).compactMap { $0["sum"] as? [String: Any] }
        var series: [[Double]] = []
        var steadyBytes = 0.0, steadySeconds = 0.0, allBytes = 0.0, allSeconds = 0.0
        for i in intervals {
            guard let s = number(i, "start"), let e = number(i, "end"), let b = number(i, "bytes"), e > s else { continue }
            series.append([(e * 100).rounded() / 100, (b * 8 / (e - s) / 1e6 * 10).rounded() / 10])
            allBytes += b
            allSeconds += e - s
            if s >= 0.999 { steadyBytes += b; steadySeconds += e - s }
        }
        func r1(_ x: Double) -> Double { (x * 10).rounded() / 10 }
        let rate = number(end?["sum_received"] as? [String: Any], "bits_per_second").map { $0 / 1e6 }
            ?? (allSeconds > 0 ? allBytes * 8 / allSeconds / 1e6 : 0)
        return Iperf3Run(mbps: r1(rate), steadyMbps: steadySeconds >= 1 ? r1(steadyBytes * 8 / steadySeconds / 1e6) : nil,
                         sent: UInt64(sent), received: UInt64(received), series: series)
    }

    /// The iperf3 and mptcpize executables, or an error that says how to install them.
    static func iperf3Tools() throws -> (iperf3: String, mptcpize: String) {
        guard let i = Subprocess.locate("iperf3"), let m = Subprocess.locate("mptcpize") else {
            throw SubflowError(.system, "--traffic iperf3 needs iperf3 and mptcpize (Debian: apt-get install iperf3 mptcpize, or scripts/install-deps.sh)")
        }
        return (i, m)
    }

    /// The `srte agent` arguments that give a connection to `destination`:`port` one subflow
    /// per planned path (its waypoints, or `direct` for a path the IGP takes anyway).
    static func agentArguments(namespace: String, destination: IPv6Address, port: UInt16, paths: [PlanReport.Path], seconds: Int) -> [String] {
        ["agent", "--netns", namespace, "--to", "\(destination)/128", "--port", "\(port)"]
            + paths.flatMap { p in ["--path", p.waypoints.isEmpty ? "direct" : p.waypoints.map(\.description).joined(separator: ",")] }
            + ["--for", "\(seconds)", "--format", "json"]
    }

    /// The `srte agent` arguments that plan the same paths itself from `topologyFile` (the
    /// experiment's topology, C-SIDs included) and pack them with `compression`: listed paths
    /// cannot say that a first container travels only as Destination Address, a planned rule can.
    static func agentArguments(namespace: String, destination: IPv6Address, port: UInt16, topologyFile: String, from: String,
                               k: Int, disjoint: Disjointness, compression: SRHCompression, seconds: Int) -> [String] {
        ["agent", "--netns", namespace, "--to", "\(destination)/128", "--port", "\(port)", "--topology", topologyFile, "--node", from,
         "-k", "\(k)", "--disjoint", disjoint.rawValue, "--compress", compression.rawValue, "--for", "\(seconds)", "--format", "json"]
    }

    /// One iperf3 run from `src` to `dst`: a one-off server (`-1`) in `dst`, the client in `src`,
    /// both through `mptcpize run` when `mptcp`.
    func iperf3Run(_ bed: Testbed, src: String, dst: String, to address: IPv6Address, seconds: Int, mptcp: Bool,
                   tools: (iperf3: String, mptcpize: String), children: ChildProcesses) throws -> Iperf3Run {
        let wrap = mptcp ? [tools.mptcpize, "run"] : []
        let server = try children.start(try bed.execArguments(dst, wrap + [tools.iperf3, "-s", "-1", "-p", "\(port)"]), name: "iperf3 server")
        defer { children.stop(server) }
        // Its "Server listening" line sits in stdio's buffer (a pipe): ask the kernel instead.
        let deadline = Date().addingTimeInterval(10)
        while try bed.exec(dst, ["ss", "-H", "-ltn", "sport = :\(port)"]).stdout.isEmpty {
            guard server.process.isRunning, Date() < deadline else {
                throw SubflowError(.system, "the iperf3 server in \(dst) did not start listening: \(server.output.suffix(300))")
            }
            usleep(50_000)
        }
        var client = [tools.iperf3, "-c", "\(address)", "-p", "\(port)", "-t", "\(seconds)", "--json", "--get-server-output",
                      "--connect-timeout", "5000"]
        if let cc = congestionControl { client += ["-C", cc] }
        let c = try children.start(try bed.execArguments(src, wrap + client), name: "iperf3 client")
        defer { children.stop(c) }
        guard c.waitExit(seconds: Double(seconds) + 30) else {
            throw SubflowError(.system, "the iperf3 client in \(src) did not finish within \(seconds + 30) s")
        }
        return try Experiment.parseIperf3(c.stdout)
    }

    /// The three runs with iperf3 (see ``Traffic/iperf3``), in a lab that is up.
    func runIperf3(_ bed: Testbed, src: String, dst: String, plan: PlanReport, compression: SRHCompression = .off, notes: [String],
                   progress: @escaping (String) -> Void) throws -> Result {
        guard let srte = agentExecutable else {
            throw SubflowError(.badArgument, "--traffic iperf3 needs the srte executable to start `srte agent` from")
        }
        let tools = try Experiment.iperf3Tools()
        let seconds = max(1, Int(self.seconds.rounded(.up)))
        var notes = notes
        let dstAddress = try endpointAddress(dst, in: bed, pathManager: .kernel)
        _ = try endpointAddress(src, in: bed, pathManager: .userspace)
        let children = ChildProcesses()
        let guardToken = TerminationGuard.onTermination { children.stopAll() }
        defer { TerminationGuard.remove(guardToken); children.stopAll() }

        progress("measuring single-path TCP (iperf3) for \(seconds) s")
        let tcp = try iperf3Run(bed, src: src, dst: dst, to: dstAddress, seconds: seconds, mptcp: false, tools: tools, children: children)
        progress("measuring MPTCP (mptcpize run iperf3, no path manager) for \(seconds) s")
        let plain = try iperf3Run(bed, src: src, dst: dst, to: dstAddress, seconds: seconds, mptcp: true, tools: tools, children: children)

        let paths = plan.paths
        let wire = paths.map { $0.wire(compression, topology: plan.topology) }
        progress("starting srte agent in \(src): \(paths.count) path(s) for [\(dstAddress)]:\(port)\(compression == .off ? "" : ", segment lists \(compression)")")
        guard let srcNamespace = bed.namespace(of: src) else { throw SubflowError(.badArgument, "no node '\(src)'") }
        let arguments: [String]
        var topologyFile: String? = nil
        defer { if let topologyFile { unlink(topologyFile) } }
        if compression == .off {
            arguments = Experiment.agentArguments(namespace: srcNamespace, destination: dstAddress, port: port, paths: paths, seconds: seconds + 120)
        } else {
            // The agent plans the same paths from the same topology (the planner is deterministic).
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("srte-experiment-\(getpid())-\(bed.lab).yaml").path
            do { try plan.topology.yaml(comment: ["srte experiment: the lab's topology, for srte agent"]).write(toFile: file, atomically: true, encoding: .utf8) } catch {
                throw SubflowError(.system, "writing the topology for srte agent to \(file): \(error)")
            }
            topologyFile = file
            arguments = Experiment.agentArguments(namespace: srcNamespace, destination: dstAddress, port: port, topologyFile: file, from: src,
                                                  k: paths.count, disjoint: plan.disjoint, compression: compression, seconds: seconds + 120)
        }
        let agent = try children.start([srte] + arguments, name: "srte agent")
        defer { children.stop(agent) }
        guard agent.wait(forOutput: "\"started\"", seconds: 20) else {
            throw SubflowError(.system, "srte agent did not start: \(agent.output.suffix(500))")
        }
        let before = try bed.linkCounters()
        progress("measuring MPTCP (mptcpize run iperf3) engineered by srte agent for \(seconds) s")
        let engineered = try iperf3Run(bed, src: src, dst: dst, to: dstAddress, seconds: seconds, mptcp: true, tools: tools, children: children)
        let after = try bed.linkCounters()
        children.stop(agent)
        let log = agent.output
        let matched = log.components(separatedBy: "\"event\": \"matched\"").count - 1
        let opened = log.components(separatedBy: "\"event\": \"subflow\"").count - 1
        notes.append("srte agent engineered \(matched) connection(s) of iperf3 (its control and data connections) and opened \(opened) join(s)")
        if log.contains("\"event\": \"error\"") || log.contains("\"event\": \"failed\"") {
            notes.append("srte agent reported: " + log.split(separator: "\n").filter { $0.contains("\"error\"") || $0.contains("\"failed\"") }.prefix(3).joined(separator: "; "))
        }
        notes.append("unmodified programs: iperf3 through mptcpize; \(dst) runs the in-kernel path manager (accepts joins up to its limits), \(src) the userspace one, driven by srte agent in the engineered run; the middle run has no path manager (one subflow)")
        notes.append("per-path rates for iperf3 traffic come from link counters (frames, headers included), from each path's links no other planned path uses")
        progress("tearing down lab \(bed.lab)")

        let loads = Experiment.linkLoads(before: before, after: after)
        var results: [Result.Path] = []
        let names = topology.nodes.map(\.name)
        for (i, p) in paths.enumerated() {
            let others = Set(paths.enumerated().filter { $0.offset != i }.flatMap { $0.element.path.links })
            var own = p.path.links.enumerated().filter { !others.contains($0.element) }
            if own.isEmpty { own = Array(p.path.links.enumerated()) }
            let bytes = own.map { hop, link -> UInt64 in
                let from = names[p.path.nodes[hop]]
                guard let b = before.first(where: { $0.link == link }), let a = after.first(where: { $0.link == link }) else { return 0 }
                return a.a == from ? (a.endA?.txBytes ?? 0) &- (b.endA?.txBytes ?? 0) : (a.endB?.txBytes ?? 0) &- (b.endB?.txBytes ?? 0)
            }.min() ?? 0
            results.append(Result.Path(hops: p.path.nodes.map { names[$0] }, segments: wire[i].entries.map(\.description),
                                       mbps: (Double(bytes) * 8 / Double(seconds) / 1e6 * 10).rounded() / 10,
                                       capacityMbps: bottleneckMbps(of: p.path), series: []))
        }
        let (capacity, ceiling) = capacityAndCeiling(paths, srhBytes: compression == .off ? nil : wire.map(\.srhBytes))
        var result = Result(topology: topology.name, from: src, to: dst, k: paths.count, seconds: Double(seconds), steering: "bpf",
                            singlePathMbps: tcp.mbps, unsteeredMbps: plain.mbps, aggregateMbps: engineered.mbps,
                            capacityMbps: capacity, paths: results, links: loads, notes: notes, congestionControl: congestionControl,
                            engineeredBytes: engineered.sent, verified: false,
                            failure: nil, delay: bed.delayMode.rawValue, steadyMbps: engineered.steadyMbps,
                            payloadCeilingMbps: ceiling.map { ($0 * 10).rounded() / 10 })
        result.traffic = Traffic.iperf3.rawValue
        if compression != .off {
            result.compression = compression.rawValue
            result.srhBytes = wire.map(\.srhBytes)
        }
        result.series = engineered.series
        result.receivedBytes = engineered.received
        return result
    }
}

/// Child processes of one experiment (iperf3 servers and clients, the agent), stopped on
/// return and on SIGINT/SIGTERM.
final class ChildProcesses: @unchecked Sendable {
    private let lock = NSLock()
    private var running: [Child] = []

    /// One child: its stdout and stderr collected as they arrive.
    final class Child: @unchecked Sendable {
        let process = Process()
        let name: String
        private let lock = NSLock()
        private var out = Data(), err = Data()
        /// Left by the two reader threads at end of file.
        let readers = DispatchGroup()

        init(name: String) { self.name = name }

        func append(_ d: Data, error: Bool) { lock.lock(); if error { err += d } else { out += d }; lock.unlock() }
        /// What it printed on stdout.
        var stdout: String { lock.lock(); defer { lock.unlock() }; return String(decoding: out, as: UTF8.self) }
        /// Stdout and stderr together (for messages and matching).
        var output: String { lock.lock(); defer { lock.unlock() }; return String(decoding: out + err, as: UTF8.self) }

        /// Waits until `text` appears in its output, or it exits, or `seconds` pass.
        func wait(forOutput text: String, seconds: Double) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if output.contains(text) { return true }
                if !process.isRunning { return output.contains(text) }
                usleep(20_000)
            }
            return false
        }

        /// Waits for it to exit and its output to be read to the end; false after `seconds`.
        func waitExit(seconds: Double) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            guard !process.isRunning else { return false }
            process.waitUntilExit()
            // A grandchild holding the pipes open must not stall us: at most two more seconds.
            return readers.wait(timeout: .now() + 2) == .success
        }
    }

    /// Starts `argv` with stdout and stderr collected.
    func start(_ argv: [String], name: String) throws -> Child {
        let c = Child(name: name)
        c.process.executableURL = URL(fileURLWithPath: argv[0])
        c.process.arguments = Array(argv.dropFirst())
        let out = Pipe(), err = Pipe()
        c.process.standardOutput = out
        c.process.standardError = err
        c.process.standardInput = FileHandle.nullDevice
        do { try c.process.run() } catch {
            throw SubflowError(.system, "cannot start \(name) (\(argv[0])): \(error)")
        }
        // One thread per pipe reads until end of file, so nothing the child wrote is lost.
        for (pipe, isError) in [(out, false), (err, true)] {
            c.readers.enter()
            Thread { [c] in
                let h = pipe.fileHandleForReading
                while true {
                    let d = h.availableData
                    if d.isEmpty { break }
                    c.append(d, error: isError)
                }
                c.readers.leave()
            }.start()
        }
        lock.lock(); running.append(c); lock.unlock()
        return c
    }

    /// SIGTERM, then SIGKILL after two seconds; forgets the child.
    func stop(_ c: Child) {
        if c.process.isRunning {
            c.process.terminate()
            if !c.waitExit(seconds: 2) { kill(c.process.processIdentifier, SIGKILL); _ = c.waitExit(seconds: 2) }
        }
        lock.lock(); running.removeAll { $0 === c }; lock.unlock()
    }

    /// Stops every child still running.
    func stopAll() {
        lock.lock(); let all = running; lock.unlock()
        for c in all { stop(c) }
    }
}
