import ArgumentParser
import Foundation
import SRv6Paths
import SubflowSteering
import LinuxSystem
import NetworkLab

/// `srte experiment`: testbed up, measure, compare, testbed down.
struct ExperimentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiment",
        abstract: "Emulate a topology and measure engineered MPTCP subflows against the IGP path.",
        discussion: """
        Brings the topology up in network namespaces (as `srte testbed up`), runs a sink on the \
        destination host and measures, for --seconds each:
          1. single-path TCP;
          2. one MPTCP connection with k subflows left to the IGP (ECMP may spread them);
          3. one MPTCP connection with k subflows, each steered onto one planned disjoint path.
        Then reports per-path throughput, which links carried the traffic, and the sum of the \
        planned paths' bottleneck capacities, and tears the lab down (also on Ctrl-C).

        All three runs use the congestion control of --cc (default cubic; see Docs/Testbed.md for \
        why not this kernel's default, BBR). The sink checks every byte of the engineered run \
        against the sender's pattern.

        Failure: --fail A-B@T takes the link between A and B down T seconds into the engineered \
        run. With --keep, srte notices the stalled subflow (no acknowledgement for \
        --stall-timeout ms with data in flight), re-plans around the links of its path that no \
        working subflow uses, opens a replacement subflow on the new path, and only then closes \
        the failed one (make-before-break); the report gives the time from failure to \
        replacement, and --plot shows the dip and the recovery.

        Link delays come from the topology file (--delay auto: netem where the kernel has it, else a \
        userspace delay bridge per link, as `srte testbed up`; --delay off measures without them).

        An unmodified program: --traffic iperf3 runs plain `iperf3 -c`, then `mptcpize run iperf3 -c` \
        with no path manager (one subflow), then the same while `srte agent` (this executable) gives \
        its connections one subflow per planned path, steered from their SYN. The destination runs \
        the in-kernel path manager and `mptcpize run iperf3 -s`. Throughput is what the iperf3 \
        server received; per-path rates come from link counters. Needs iperf3 and mptcpize. With \
        --compress full|reduced (or a topology that declares csid:) the agent plans the same paths from \
        the lab's topology and sends them as RFC 9800 containers, as it does with `srte agent --topology \
        --compress`.

        Examples:
          srte experiment topologies/diamond.yaml
          srte experiment topologies/abilene.yaml --from Sunnyvale --to New_York --default-bandwidth 50Mbit --format json
          srte experiment topologies/diamond.yaml -k 2 --fail r1-b@5s --keep --plot failover.svg
          srte experiment topologies/diamond.yaml --traffic iperf3
        """
    )

    @Argument(help: ArgumentHelp("Topology file (YAML; .json and .gml are imported).", valueName: "TOPOLOGY"))
    var topologyFile: String

    @Option(help: ArgumentHelp("Source host (default: the first host in the file).", valueName: "NODE"))
    var from: String?

    @Option(help: ArgumentHelp("Destination host (default: the second host in the file).", valueName: "NODE"))
    var to: String?

    @Option(name: .short, help: "Subflows (default: the number of disjoint paths found, at most 4).")
    var k: Int?

    @Option(help: "Disjointness of the planned paths.")
    var disjoint: Disjointness = .link

    @Option(help: "Seconds per measurement.")
    var seconds: Double = 10

    @Option(help: "Steering mechanism for the engineered run (default: route where the kernel has seg6 routes, else bpf).")
    var steer: SteeringMechanism?

    @Option(help: ArgumentHelp("Lab name (default: <topology>-exp).", valueName: "LAB"))
    var lab: String?

    @Option(help: ArgumentHelp("Link delays, as `srte testbed up --delay`: netem, bridge (userspace delay bridges), off, or auto (netem if the kernel has it, else bridge).", valueName: "MODE"))
    var delay: DelayMode = .auto

    @OptionGroup var output: FormatOptions

    @Option(help: ArgumentHelp("Write an SVG plot of per-path throughput over time.", valueName: "FILE.svg"))
    var plot: String?

    @Option(help: ArgumentHelp("Take the link A-B down T seconds into the engineered run (e.g. r1-b@5s).", valueName: "A-B@T"))
    var fail: String?

    @OptionGroup var failover: FailoverOptions

    @Option(name: .customLong("default-bandwidth"), help: ArgumentHelp("Rate for links the file gives none (e.g. 50Mbit for imported maps); without it they are unshaped.", valueName: "RATE"))
    var defaultBandwidth: String?

    @Option(help: ArgumentHelp("IPv6 MTU of every link, overriding the file's (default: the file's, else 1500). Headers weigh less in larger frames: see Docs/Testbed.md, 'What a link can carry'.", valueName: "BYTES"))
    var mtu: Int?

    @Option(help: ArgumentHelp("What the runs send: srte (its own sender and a sink that checks every byte) or iperf3 (unmodified iperf3 through mptcpize, the engineered run's subflows opened by `srte agent`).", valueName: "srte|iperf3"))
    var traffic: Experiment.Traffic = .srte

    @Option(help: ArgumentHelp("Segment lists of the engineered run: off (whole SIDs), full (RFC 9800 NEXT-C-SID containers in a full SRH), reduced (containers, the first one only as Destination Address: RFC 8754 reduced SRH, BPF steering only). Default: reduced when the topology declares csid:, else off. A topology without csid: gets F3216 C-SIDs in the /32 of its first locator.", valueName: "MODE"))
    var compress: SRHCompression?

    @Option(name: .customLong("cc"), help: ArgumentHelp("TCP congestion control for all runs (see /proc/sys/net/ipv4/tcp_available_congestion_control); 'default' keeps the namespace's.", valueName: "NAME"))
    var congestionControl: String = "cubic"

    func validate() throws {
        guard seconds >= 1 && seconds <= 600 else { throw ValidationError("--seconds \(seconds): 1...600") }
        if let k, k < 1 { throw ValidationError("-k \(k): at least one subflow") }
    }

    func run() throws {
        TerminationGuard.install()
        guard geteuid() == 0 else { throw CLIFailure.system("srte experiment creates network namespaces: run it as root") }
        if failover.keep && fail == nil { diagnose("srte: note: --keep without --fail: subflows are replaced only if a path fails on its own") }
        var topology = try loadTopology(topologyFile)
        if let defaultBandwidth { topology = topology.fillingBandwidth(try parseRate(defaultBandwidth)) }
        if let mtu { topology = try settingMTU(mtu, of: topology) }
        var e = Experiment(topology: topology)
        if let fail { e.failure = try Self.parseFailure(fail, in: topology) }
        e.keep = failover.keep
        e.stallTimeout = failover.stallDuration
        e.congestionControl = congestionControl == "default" ? nil : congestionControl
        e.from = from
        e.to = to
        e.k = k
        e.disjoint = disjoint
        e.seconds = seconds
        e.steering = steer
        e.lab = lab
        e.delay = delay
        e.traffic = traffic
        if traffic == .iperf3 {
            if fail != nil || failover.keep { throw CLIFailure.input("--fail and --keep need --traffic srte (srte's own sender replaces subflows)") }
            if steer == .route { throw CLIFailure.input("--steer route needs --traffic srte: srte agent steers with BPF") }
            e.agentExecutable = try Self.ownExecutable()
        }
        e.compression = compress
        let started = Date()
        let r: Experiment.Result
        do {
            r = try e.run { line in
                diagnose(String(format: "srte: [%5.1fs] %@", Date().timeIntervalSince(started), line))
            }
        } catch { throw CLIFailure.system(error) }
        let out = StdoutBuffer()
        switch output.format {
        case .json: out.line(try ExperimentReport.json(r))
        case .text: out.line(ExperimentReport.text(r))
        }
        out.flush()
        if let plot {
            do { try ExperimentReport.svg(r).write(toFile: plot, atomically: true, encoding: .utf8) } catch {
                throw InContext("--plot \(plot)", error, code: ExitStatus.system)
            }
            diagnose("srte: wrote \(plot)")
        }
    }
}

extension ExperimentCommand {
    /// Parses `A-B@T` (T in s or ms; node names may themselves contain '-').
    static func parseFailure(_ text: String, in topology: Topology) throws -> Experiment.Failure {
        guard let at = text.lastIndex(of: "@") else {
            throw CLIFailure.input("--fail '\(text)': expected A-B@T, e.g. r1-b@5s")
        }
        let link = String(text[..<at]), time = String(text[text.index(after: at)...])
        var seconds: Double?
        if time.hasSuffix("ms") { seconds = Double(time.dropLast(2)).map { $0 / 1000 } }
        else if time.hasSuffix("s") { seconds = Double(time.dropLast()) }
        else { seconds = Double(time) }
        guard let t = seconds, t > 0, t.isFinite else {
            throw CLIFailure.input("--fail '\(text)': '\(time)' is not a time such as 5s or 2500ms")
        }
        let names = Set(topology.nodes.map(\.name))
        for i in link.indices where link[i] == "-" {
            let a = String(link[..<i]), b = String(link[link.index(after: i)...])
            if names.contains(a) && names.contains(b) { return Experiment.Failure(a: a, b: b, at: t) }
        }
        throw CLIFailure.input("--fail '\(text)': '\(link)' is not two node names of \(topology.name) joined by '-'")
    }
}

extension SteeringMechanism: ExpressibleByArgument {}
extension Experiment.Traffic: ExpressibleByArgument {}

extension ExperimentCommand {
    /// This srte executable (`/proc/self/exe`), which `--traffic iperf3` starts as `srte agent`.
    static func ownExecutable() throws -> String {
        do { return try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") } catch {
            throw CLIFailure.system("cannot find the srte executable (/proc/self/exe): \(error)")
        }
    }
}
extension SRHCompression: ExpressibleByArgument {}

enum ExperimentReport {
    /// The result's Codable form, keys sorted, indented.
    static func json(_ r: Experiment.Result) throws -> String {
        try JSON(encoding: r).pretty
    }

    static func f1(_ x: Double) -> String { String((x * 10).rounded() / 10) }

    static func text(_ r: Experiment.Result) -> String {
        var l: [String] = []
        l.append("srte experiment \(r.topology): \(r.from) → \(r.to), \(r.k) subflow(s), \(f1(r.seconds)) s per run, steering: \(r.steering), congestion control: \(r.congestionControl ?? "default")\(r.delay.map { ", delay: \($0)" } ?? "")")
        l.append("")
        let iperf3 = r.traffic == Experiment.Traffic.iperf3.rawValue
        if iperf3 {
            l.append("  single-path TCP (iperf3)                     \(f1(r.singlePathMbps).leftPad(8)) Mbit/s")
            l.append("  mptcpize run iperf3, no path manager         \(f1(r.unsteeredMbps).leftPad(8)) Mbit/s")
        } else {
            l.append("  single-path TCP                              \(f1(r.singlePathMbps).leftPad(8)) Mbit/s")
            l.append("  MPTCP, \(r.k) subflows left to the IGP            \(f1(r.unsteeredMbps).leftPad(8)) Mbit/s")
        }
        var eng = iperf3
            ? "  the same, srte agent: \(r.k) engineered subflows   \(f1(r.aggregateMbps).leftPad(8)) Mbit/s"
            : "  MPTCP, \(r.k) subflows on engineered paths       \(f1(r.aggregateMbps).leftPad(8)) Mbit/s"
        if let c = r.capacityMbps, c > 0 { eng += "  = \(String(format: "%.3f", r.aggregateMbps / c)) of the \(f1(c)) Mbit/s planned capacity" }
        l.append(eng)
        if let st = r.steadyMbps {
            var line = "    after its first second (ramp-up left out)  \(f1(st).leftPad(8)) Mbit/s"
            if let c = r.capacityMbps, c > 0 { line += "  = \(String(format: "%.3f", st / c)) of the capacity" }
            l.append(line)
        }
        if let pc = r.payloadCeilingMbps, let c = r.capacityMbps, c > 0 {
            l.append("    payload ceiling (headers of full frames)   \(f1(pc).leftPad(8)) Mbit/s  = \(String(format: "%.3f", pc / c)) of the capacity: IPv6, SRH, TCP, MPTCP DSS")
        }
        if let b = r.srhBytes {
            l.append("    segment lists: \(r.compression ?? "off"); SRH bytes per packet: \(b.map(String.init).joined(separator: ", "))")
        }
        if r.unsteeredMbps > 0 { l.append("  engineered / unsteered: \(String(format: "%.2f", r.aggregateMbps / r.unsteeredMbps))×") }
        l.append("")
        l.append(iperf3 ? "  per engineered path (link counters, frames with their headers):" : "  per engineered path:")
        let hopsWidth = max(28, 1 + (r.paths.map { $0.hops.joined(separator: " ").count }.max() ?? 0))
        let paths = Table([.left(0), .left(hopsWidth), .right(7)], indent: "    ")
        for (i, p) in r.paths.enumerated() {
            let cap = p.capacityMbps.map { " of \(f1($0))" } ?? ""
            var what = ""
            if let j = p.replaces { what += "  (replaces \(j + 1) from \(f1(p.openedAt ?? 0)) s)" }
            if !p.active { what += "  (failed)" }
            l.append(paths.line(["\(i + 1).", p.hops.joined(separator: " "), f1(p.mbps)]) + "\(cap) Mbit/s   segments \(p.segments.joined(separator: ", "))\(what)")
        }
        if !r.links.isEmpty {
            l.append("")
            l.append("  links that carried the engineered run (MB, each direction):")
            // Columns as wide as the longest "A → B" (imported maps have long PoP names).
            let width = max(22, 1 + (r.links.map { $0.a.count + $0.b.count + 3 }.max() ?? 0))
            let table = Table([.left(width), .right(8), .left(width + 3), .right(8)], indent: "    ")
            for k in r.links {
                l.append(table.line(["\(k.a) → \(k.b)", f1(Double(k.bytesAToB) / 1e6), "   \(k.b) → \(k.a)", f1(Double(k.bytesBToA) / 1e6)]))
            }
        }
        if let f = r.failure {
            l.append("")
            l.append("  failure: link \(f.link) down at \(f1(f.at)) s of the engineered run")
            if let d = f.detectedAfter { l.append("    detected after \(Int((d * 1000).rounded())) ms") }
            if let d = f.replacedAfter { l.append("    replacement subflow established \(Int((d * 1000).rounded())) ms after the failure") }
            else { l.append("    no replacement subflow") }
            for e in f.events { l.append("    \(e)") }
        }
        l.append("")
        if iperf3 {
            l.append("  iperf3: the client wrote \(r.engineeredBytes) bytes in the engineered run, the server read \(r.receivedBytes ?? 0) (iperf3 checks no content)")
        } else {
            l.append(r.verified ? "  sink: all \(r.engineeredBytes) bytes of the engineered run verified, in order"
                                : "  sink: VERIFICATION FAILED for the engineered run (\(r.engineeredBytes) bytes sent)")
        }
        for n in r.notes { l.append("note: \(n)") }
        return l.joined(separator: "\n")
    }

    /// Per-path throughput over time as an SVG line chart.
    static func svg(_ r: Experiment.Result) -> String {
        // iperf3 traffic has no per-subflow series: plot the server's total.
        var r = r
        if r.paths.allSatisfy({ $0.series.isEmpty }), let total = r.series {
            r.paths = [Experiment.Result.Path(hops: ["total", "(iperf3", "server)"], segments: [], mbps: r.aggregateMbps, capacityMbps: r.capacityMbps, series: total)]
        }
        let w = 720.0, h = 400.0, left = 60.0, right = 180.0, top = 40.0, bottom = 50.0
        let tMax = max(r.paths.flatMap { $0.series.map { $0[0] } }.max() ?? 1, 1)
        var totals: [Double: Double] = [:]
        for p in r.paths { for v in p.series { totals[v[0], default: 0] += v[1] } }
        let yMax = max(((r.paths.count > 1 ? totals.values.max() : nil) ?? r.paths.flatMap { $0.series.map { $0[1] } }.max() ?? 1) * 1.15, 1)
        func x(_ t: Double) -> Double { left + t / tMax * (w - left - right) }
        func y(_ v: Double) -> Double { h - bottom - v / yMax * (h - top - bottom) }
        let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(left)\" y=\"24\" font-size=\"14\">\(esc(r.topology)): \(esc(r.from)) → \(esc(r.to)), per-path throughput (aggregate \(f1(r.aggregateMbps)) Mbit/s)</text>\n"
        s += "<line x1=\"\(left)\" y1=\"\(h - bottom)\" x2=\"\(w - right)\" y2=\"\(h - bottom)\" stroke=\"black\"/>\n"
        s += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(h - bottom)\" stroke=\"black\"/>\n"
        for i in 0...4 {
            let v = yMax * Double(i) / 4
            s += "<text x=\"\(left - 8)\" y=\"\(y(v) + 4)\" text-anchor=\"end\">\(Int(v))</text>"
            s += "<line x1=\"\(left)\" y1=\"\(y(v))\" x2=\"\(w - right)\" y2=\"\(y(v))\" stroke=\"#ddd\"/>\n"
            let t = tMax * Double(i) / 4
            s += "<text x=\"\(x(t))\" y=\"\(h - bottom + 18)\" text-anchor=\"middle\">\(f1(t))</text>\n"
        }
        s += "<text x=\"\((left + w - right) / 2)\" y=\"\(h - 10)\" text-anchor=\"middle\">seconds</text>\n"
        s += "<text x=\"16\" y=\"\((top + h - bottom) / 2)\" transform=\"rotate(-90 16 \((top + h - bottom) / 2))\" text-anchor=\"middle\">Mbit/s</text>\n"
        for (i, p) in r.paths.enumerated() {
            let c = colors[i % colors.count]
            let pts = p.series.map { "\(x($0[0])),\(y($0[1]))" }.joined(separator: " ")
            s += "<polyline fill=\"none\" stroke=\"\(c)\" stroke-width=\"2\" points=\"\(pts)\"/>\n"
            let note = p.replaces != nil ? " (replacement)" : p.active ? "" : " (failed)"
            s += "<text x=\"\(w - right + 10)\" y=\"\(top + 18 * Double(i) + 10)\" fill=\"\(c)\">\(esc(p.hops.joined(separator: " ") + note))</text>\n"
        }
        // The aggregate, when there is more than one path: sum per sample time.
        if r.paths.count > 1 {
            var sum: [Double: Double] = [:]
            for p in r.paths { for v in p.series { sum[v[0], default: 0] += v[1] } }
            let pts = sum.keys.sorted().map { "\(x($0)),\(y(sum[$0]!))" }.joined(separator: " ")
            s += "<polyline fill=\"none\" stroke=\"black\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\" points=\"\(pts)\"/>\n"
            s += "<text x=\"\(w - right + 10)\" y=\"\(top + 18 * Double(r.paths.count) + 10)\">aggregate</text>\n"
        }
        if let f = r.failure {
            s += "<line x1=\"\(x(f.at))\" y1=\"\(top)\" x2=\"\(x(f.at))\" y2=\"\(h - bottom)\" stroke=\"#d62728\" stroke-dasharray=\"2 2\"/>\n"
            s += "<text x=\"\(x(f.at) + 4)\" y=\"\(top + 12)\" fill=\"#d62728\">\(esc(f.link)) down</text>\n"
            if let d = f.replacedAfter {
                s += "<text x=\"\(x(f.at) + 4)\" y=\"\(top + 26)\" fill=\"#d62728\">replaced after \(Int((d * 1000).rounded())) ms</text>\n"
            }
        }
        return s + "</svg>\n"
    }

    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}

extension String {
    /// Right-aligned in `n` characters (the number columns of the experiment's summary).
    func leftPad(_ n: Int) -> String { Table.pad(self, n, .right) }
}
