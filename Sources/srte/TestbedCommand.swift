import Glibc
import ArgumentParser
import Foundation
import SRv6Paths
import SubflowSteering
import LinuxSystem
import NetworkLab

extension MPTCPPathManagerKind: ExpressibleByArgument {
    public init?(argument: String) {
        switch argument {
        case "userspace": self = .userspace
        case "kernel": self = .kernel
        default: return nil
        }
    }

    public static var allValueStrings: [String] { ["userspace", "kernel"] }
    public var defaultValueDescription: String { self == .userspace ? "userspace" : "kernel" }
}

extension DelayMode: ExpressibleByArgument {}

/// `--sids`: how routers realise End / End.X.
enum SIDsChoice: String, ExpressibleByArgument, CaseIterable {
    case auto, seg6local, bpf

    var routerSIDs: Testbed.RouterSIDs? {
        switch self {
        case .auto: nil
        case .seg6local: .seg6local
        case .bpf: .bpf
        }
    }
}

/// `srte testbed`: emulate a topology in network namespaces.
struct TestbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "testbed",
        abstract: "Emulate a topology with network namespaces: one per node, one veth pair per link.",
        discussion: """
        `up` gives every node a namespace named LAB-NODE (LAB defaults to the topology's name), every \
        link a veth pair (interfaces named after the peer, alias = peer name) with addresses from \
        fd5e:7b00:5e76::/48 and a tbf at the link's bandwidth. Routers get forwarding, seg6_enabled, \
        an End route on their node SID, End.X routes on their adjacency SIDs (the SIDs `srte plan` \
        encodes) and static routes along all IGP shortest paths (multipath where costs tie). Hosts \
        get their address on lo, MPTCP (subflows 8, add_addr_accepted 8) and the userspace path \
        manager by default. Link delays (--delay auto) come from the netem qdisc where the kernel \
        has it, else from a userspace delay bridge per delayed link: the link's two veth ends meet \
        in a namespace of their own, LAB+L<i>, where an srte process forwards each frame after the \
        link's one-way delay. `status` shows which. SIDs (--sids auto) are seg6local routes where \
        the kernel has them (CONFIG_IPV6_SEG6_LWTUNNEL), else srte's tc BPF End/End.X program on \
        every router interface.

        Example:
          srte testbed up topologies/diamond.yaml
          srte testbed exec h1 -- ping -c 1 fc00:2::2
          srte testbed link r1 a down
          srte testbed stats
          srte testbed down

        Needs root. State is kept in /run/srte/testbed/LAB.json; `down` removes exactly what `up` \
        created, also after a failed or interrupted `up`. Exit status: 0 success, 2 unusable input, \
        3 a system or kernel error, 4 the lab does not exist or already exists, 130 `up` interrupted \
        (and cleaned up).
        """,
        subcommands: [Up.self, Down.self, Status.self, Exec.self, Link.self, Stats.self]
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    /// `srte testbed up TOPOLOGY`.
    struct Up: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a lab from a topology file.",
            discussion: """
            Fails without creating anything if the lab exists or a namespace name is taken. On any \
            failure, SIGINT or SIGTERM, what was created is removed again.
            """
        )

        @Argument(help: "The topology file (YAML; .json for srte-topology/1, .gml for Topology Zoo).")
        var topology: String

        @Option(name: .long, help: "The lab name (default: the topology's name); namespaces are LAB-NODE.")
        var name: String?

        @Option(help: "The /48 (or shorter) ULA prefix link addresses come from; must not overlap the topology.")
        var linkPrefix: String = TestbedPlan.defaultLinkPrefix

        @Option(name: .customLong("mptcp-pm"), help: "MPTCP path manager on hosts. A userspace-PM server accepts joins only while some process on the host subscribes to mptcp_pm_events.")
        var mptcpPM: MPTCPPathManagerKind = .userspace

        @Option(name: .customLong("default-bandwidth"), help: ArgumentHelp("Rate for links the file gives none (e.g. 50Mbit); without it they are unshaped.", valueName: "RATE"))
        var defaultBandwidth: String?

        @Option(help: ArgumentHelp("IPv6 MTU of every link, overriding the file's (default: the file's, else 1500).", valueName: "BYTES"))
        var mtu: Int?

        @Option(help: ArgumentHelp("Link delays: netem, bridge (a userspace delay bridge per delayed link), off, or auto (netem if the kernel has it, else bridge).", valueName: "MODE"))
        var delay: DelayMode = .auto

        @Option(help: ArgumentHelp("Router SIDs: seg6local routes, bpf (srte's tc ingress End/End.X program), or auto (seg6local if the kernel has it, else bpf).", valueName: "MODE"))
        var sids: SIDsChoice = .auto

        @Option(help: "Output: text or json.")
        var format: Format = .text

        func run() throws {
            try testbedReporting {
                var t = try loadTopology(topology)
                if let defaultBandwidth { t = t.fillingBandwidth(try parseRate(defaultBandwidth)) }
                if let mtu { t = try settingMTU(mtu, of: t) }
                let plan = try TestbedPlan(topology: t, lab: name, linkPrefix: linkPrefix)
                let progress = Progress()
                defer { progress.finish() }
                let lab = try Testbed.up(plan: plan, options: .init(mptcpPathManager: mptcpPM, topologyFile: topology, routerSIDs: sids.routerSIDs, delay: delay),
                                         progress: progress.step)
                progress.finish()
                let out = StdoutBuffer()
                switch format {
                case .text:
                    let routers = plan.nodes.filter(\.isRouter).count
                    out.line("lab \(lab.lab) is up: \(plan.nodes.count) namespaces (\(routers) routers, \(plan.nodes.count - routers) hosts), \(plan.links.count) links, in \(String(format: "%.2f", progress.elapsed)) s")
                    for n in plan.nodes {
                        let what = n.isRouter
                            ? "End \(n.nodeSID.map { "\($0)" } ?? "-"), \(n.sids.count - 1) End.X, \(n.routes.count) routes"
                            : "\(n.address.map { "\($0)" } ?? "-"), \(n.routes.count) routes"
                        out.line("  \(pad(n.name, 8)) \(pad(n.kind, 7)) \(pad(n.namespace, 20)) \(what)")
                    }
                    out.line("delay: \(delayDescription(lab.state, running: lab.runningBridges()))")
                    out.line("SIDs: \(sidsDescription(lab.state))")
                    for note in lab.state.notes { out.line("note: \(note)") }
                case .json:
                    out.line(statusJSON(try lab.status()).rendered)
                }
                out.flush()
            }
        }
    }

    /// `srte testbed down [LAB]`.
    struct Down: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a lab: its namespaces (with their veths, routes and qdiscs) and its state file.")

        @Argument(help: "The lab (default: the only lab).")
        var lab: String?

        func run() throws {
            try testbedReporting {
                let name = try resolveLab(lab)
                let removed = try Testbed.down(name)
                let out = StdoutBuffer()
                out.line("lab \(name) is down: deleted \(removed.count) namespaces")
                out.flush()
            }
        }
    }

    /// `srte testbed status [LAB]`.
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a lab's nodes, links and their live state.")

        @Argument(help: "The lab (default: the only lab).")
        var lab: String?

        @Option(help: "Output: text or json.")
        var format: Format = .text

        func run() throws {
            try testbedReporting {
                let t = try Testbed.open(try resolveLab(lab))
                let s = try t.status()
                let out = StdoutBuffer()
                switch format {
                case .json: out.line(statusJSON(s).rendered)
                case .text:
                    let st = s.state
                    let missing = st.plan.namespaces.filter { !s.presentNamespaces.contains($0) }
                    out.line("lab \(st.lab): \(st.phase == .up ? "up" : "incomplete (up failed or is running; `srte testbed down \(st.lab)` cleans it)"), topology \(st.plan.topologyName)\(st.topologyFile.map { " (\($0))" } ?? ""), MPTCP PM \(st.mptcpPathManager == .userspace ? "userspace" : "kernel")")
                    if !missing.isEmpty { out.line("missing namespaces: \(missing.joined(separator: " "))") }
                    out.line("delay: \(delayDescription(st, running: s.runningBridges))")
                    out.line("SIDs: \(sidsDescription(st))")
                    out.line("nodes:")
                    for n in st.plan.nodes {
                        let addr = n.address.map { "\($0)" } ?? n.nodeSID.map { "End \($0) (\(n.locator ?? ""))" } ?? "-"
                        out.line("  \(pad(n.name, 8)) \(pad(n.kind, 7)) \(pad(n.namespace, 20)) \(addr)")
                    }
                    out.line("links:")
                    for (l, c) in zip(st.plan.links, s.links) {
                        let ends = "\(l.a):\(l.interfaceA) - \(l.b):\(l.interfaceB)"
                        let rate = l.bandwidth.map(formatRate) ?? "unlimited"
                        let mtu = l.mtu.map { " mtu \($0)" } ?? ""
                        out.line("  \(pad(String(l.index), 3)) \(pad(ends, 28)) \(pad(rate, 9)) delay \(pad(Topology.delayText(l.delay) + linkDelayNote(st, l, running: s.runningBridges), 20)) \(endState(c.endA))/\(endState(c.endB))\(mtu)")
                    }
                    for note in st.notes { out.line("note: \(note)") }
                }
                out.flush()
            }
        }
    }

    /// `srte testbed exec NODE -- CMD...`.
    struct Exec: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a command inside a node's namespace (ip netns exec); its exit status is returned.",
            discussion: "Example: srte testbed exec h1 -- ping -c 1 fc00:2::2")

        @Option(help: "The lab (default: the only lab).")
        var lab: String?

        @Argument(help: "The node.")
        var node: String

        @Argument(parsing: .captureForPassthrough, help: "The command and its arguments (after --).")
        var command: [String] = []

        func run() throws {
            try testbedReporting {
                var argv = command
                if argv.first == "--" { argv.removeFirst() }
                guard !argv.isEmpty else { throw CLIFailure.input("give a command after --, e.g. srte testbed exec \(node) -- ip -6 route") }
                let t = try Testbed.open(try resolveLab(lab))
                let full = try t.execArguments(node, argv)
                var cargs = full.map { strdup($0) } + [nil]
                execv(full[0], &cargs)
                throw CLIFailure(message: "cannot run \(full[0]): \(String(cString: strerror(errno)))", code: 3)
            }
        }
    }

    /// `srte testbed link A B down|up`.
    struct Link: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take every link between two nodes down or up (both ends).",
            discussion: """
            Routes are static: traffic routed over a down link is lost, not rerouted. `up` restores \
            both nodes' routes and SIDs.
            """)

        enum State: String, ExpressibleByArgument, CaseIterable { case down, up }

        @Option(help: "The lab (default: the only lab).")
        var lab: String?

        @Argument(help: "One endpoint.")
        var a: String

        @Argument(help: "The other endpoint.")
        var b: String

        @Argument(help: "down or up.")
        var state: State

        func run() throws {
            try testbedReporting {
                let t = try Testbed.open(try resolveLab(lab))
                let links = try t.setLinks(between: a, and: b, up: state == .up)
                let out = StdoutBuffer()
                for l in links { out.line("link \(l.index) \(l.a):\(l.interfaceA) - \(l.b):\(l.interfaceB) \(state.rawValue)") }
                out.flush()
            }
        }
    }

    /// `srte testbed stats [LAB]`.
    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Per-link packet and byte counters, from both ends (what each end sent).",
            discussion: "A→B is what A's interface transmitted; B→A what B's transmitted. Counters are cumulative since `up`.")

        @Argument(help: "The lab (default: the only lab).")
        var lab: String?

        @Flag(help: "Also show how many packets each SID (End, End.X) processed.")
        var sids = false

        @Option(help: "Output: text or json.")
        var format: Format = .text

        func run() throws {
            try testbedReporting {
                let t = try Testbed.open(try resolveLab(lab))
                let counters = try t.linkCounters()
                let sidCounters = sids ? try t.sidCounters() : []
                let out = StdoutBuffer()
                switch format {
                case .json:
                    var fields: [(String, JSON)] = [("schemaVersion", .int(1)), ("lab", .string(t.lab)),
                                                    ("links", .array(zip(t.plan.links, counters).map { linkJSON($0, $1) }))]
                    if sids {
                        fields.append(("sids", .array(sidCounters.map { c in
                            .object([("node", .string(c.node)), ("sid", .string("\(c.sid)")), ("behavior", .string(c.behavior)),
                                     ("packets", .int(Int(c.packets))), ("bytes", .int(Int(c.bytes))), ("errors", .int(Int(c.errors)))])
                        })))
                    }
                    out.line(JSON.object(fields).rendered)
                case .text:
                    out.line("\(pad("#", 3)) \(pad("link", 22)) \(lpad("A→B pkts", 10)) \(lpad("A→B bytes", 12)) \(lpad("B→A pkts", 10)) \(lpad("B→A bytes", 12)) \(lpad("drops", 6))")
                    for c in counters {
                        let drops = (c.endA?.txDropped ?? 0) + (c.endA?.rxDropped ?? 0) + (c.endB?.txDropped ?? 0) + (c.endB?.rxDropped ?? 0)
                        out.line("\(pad(String(c.link), 3)) \(pad("\(c.a) - \(c.b)", 22)) \(lpad(String(c.endA?.txPackets ?? 0), 10)) \(lpad(String(c.endA?.txBytes ?? 0), 12)) \(lpad(String(c.endB?.txPackets ?? 0), 10)) \(lpad(String(c.endB?.txBytes ?? 0), 12)) \(lpad(String(drops), 6))")
                    }
                    if sids {
                        out.line("")
                        out.line("\(pad("node", 8)) \(pad("SID", 22)) \(pad("behavior", 8)) \(lpad("packets", 10)) \(lpad("bytes", 12)) \(lpad("errors", 6))")
                        for c in sidCounters {
                            out.line("\(pad(c.node, 8)) \(pad("\(c.sid)", 22)) \(pad(c.behavior, 8)) \(lpad(String(c.packets), 10)) \(lpad(String(c.bytes), 12)) \(lpad(String(c.errors), 6))")
                        }
                    }
                }
                out.flush()
            }
        }
    }
}

/// How the routers' SIDs are installed, for `up` and `status`.
private func sidsDescription(_ st: TestbedState) -> String {
    switch st.routerSIDs {
    case .seg6local?: return "seg6local routes (End, End.X, with counters)"
    case .bpf?: return "tc BPF End/End.X program on every router interface (srv6_router.bpf.c)"
    case nil: return "not installed"
    }
}

/// How link delays are emulated: "netem on every link end", "bridge: N userspace delay
/// bridge(s) …, M running", or "off (not emulated)".
private func delayDescription(_ st: TestbedState, running: Set<Int>) -> String {
    switch st.effectiveDelayMode {
    case .netem: return "netem on every link end"
    case .bridge:
        return "bridge: \(st.bridges.count) userspace delay bridge(s) in link namespaces \(st.plan.lab)+L<i>, \(running.count) running"
    case .off, .auto: return "off (not emulated)"
    }
}

private func linkDelayNote(_ st: TestbedState, _ l: TestbedPlan.Link, running: Set<Int>) -> String {
    guard l.delay > 0 else { return "" }
    switch st.effectiveDelayMode {
    case .netem: return " (netem)"
    case .bridge:
        guard st.bridges.contains(where: { $0.link == l.index }) else { return " (not emulated)" }
        return running.contains(l.index) ? " (bridge)" : " (bridge stopped)"
    case .off, .auto: return " (not emulated)"
    }
}

/// The lab to use: the one given, else the only one.
private func resolveLab(_ lab: String?) throws -> String {
    if let lab { return lab }
    let labs = Testbed.labs()
    switch labs.count {
    case 1: return labs[0]
    case 0: throw CLIFailure(message: "no lab is up (srte testbed up TOPOLOGY)", code: 4)
    default: throw CLIFailure.input("several labs are up (\(labs.joined(separator: ", "))): name one")
    }
}

/// `reporting(_:)` that also maps `TestbedError` to exit codes.
private func testbedReporting(_ body: () throws -> Void) throws {
    do { try body() } catch let e as TestbedError {
        diagnose("srte: \(e.message)")
        switch e.kind {
        case .invalidInput: throw ExitCode(2)
        case .system: throw ExitCode(3)
        case .state: throw ExitCode(4)
        case .interrupted: throw ExitCode(130)
        }
    } catch let f as CLIFailure {
        diagnose("srte: \(f.message)")
        throw ExitCode(f.code)
    }
}

/// Shows the current phase on stderr once an operation has taken more than a second.
private final class Progress: @unchecked Sendable {
    private let lock = NSLock()
    private var current = ""
    private var shown = false
    private var done = false
    private let start = Date()
    private var timer: DispatchSourceTimer?

    init() {
        let t = DispatchSource.makeTimerSource(queue: .global())
        t.schedule(deadline: .now() + 1)
        t.setEventHandler { [weak self] in self?.reveal() }
        t.resume()
        timer = t
    }

    var elapsed: Double { Date().timeIntervalSince(start) }

    func step(_ s: String) {
        lock.lock(); defer { lock.unlock() }
        current = s
        if shown && !done { diagnose("srte: \(s) (\(String(format: "%.1f", elapsed)) s)") }
    }

    private func reveal() {
        lock.lock(); defer { lock.unlock() }
        guard !done else { return }
        shown = true
        if !current.isEmpty { diagnose("srte: \(current) (\(String(format: "%.1f", elapsed)) s)") }
    }

    func finish() {
        lock.lock(); defer { lock.unlock() }
        done = true
        timer?.cancel()
    }
}

private func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
private func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }

/// 50000000 → "50Mbit".
func formatRate(_ bps: Int) -> String {
    for (unit, f) in [("Tbit", 1_000_000_000_000), ("Gbit", 1_000_000_000), ("Mbit", 1_000_000), ("Kbit", 1000)] where bps >= f && bps % f == 0 {
        return "\(bps / f)\(unit)"
    }
    return "\(bps)bit"
}

private func endState(_ c: Testbed.InterfaceCounters?) -> String {
    guard let c else { return "missing" }
    return c.adminUp ? c.operState.lowercased() : "down(admin)"
}

private func countersJSON(_ c: Testbed.InterfaceCounters?) -> JSON {
    guard let c else { return .null }
    return .object([("interface", .string(c.interface)), ("adminUp", .bool(c.adminUp)), ("operState", .string(c.operState)),
                    ("txPackets", .int(Int(c.txPackets))), ("txBytes", .int(Int(c.txBytes))),
                    ("rxPackets", .int(Int(c.rxPackets))), ("rxBytes", .int(Int(c.rxBytes))),
                    ("txDropped", .int(Int(c.txDropped))), ("rxDropped", .int(Int(c.rxDropped)))])
}

private func linkJSON(_ l: TestbedPlan.Link, _ c: Testbed.LinkCounters) -> JSON {
    .object([("index", .int(l.index)), ("a", .string(l.a)), ("b", .string(l.b)),
             ("interfaceA", .string(l.interfaceA)), ("interfaceB", .string(l.interfaceB)),
             ("addressA", .string("\(l.addressA)")), ("addressB", .string("\(l.addressB)")),
             ("bandwidth", l.bandwidth.map { .int($0) } ?? .null), ("delayMicroseconds", .int(l.delay)),
             ("mtu", .int(l.effectiveMTU)), ("endA", countersJSON(c.endA)), ("endB", countersJSON(c.endB))])
}

private func statusJSON(_ s: Testbed.Status) -> JSON {
    let st = s.state
    let nodes: [JSON] = st.plan.nodes.map { n in
        .object([("name", .string(n.name)), ("kind", .string(n.kind)), ("namespace", .string(n.namespace)),
                 ("present", .bool(s.presentNamespaces.contains(n.namespace))),
                 ("address", n.address.map { .string("\($0)") } ?? .null),
                 ("locator", n.locator.map { .string($0) } ?? .null),
                 ("nodeSID", n.nodeSID.map { .string("\($0)") } ?? .null),
                 ("sids", .array(n.sids.map { sid in
                     .object([("sid", .string("\(sid.address)")), ("behavior", .string(sid.behavior)),
                              ("interface", .string(sid.interface)),
                              ("neighbour", sid.neighbour.map { .string($0) } ?? .null)])
                 })),
                 ("routes", .int(n.routes.count))])
    }
    return .object([("schemaVersion", .int(1)), ("lab", .string(st.lab)), ("phase", .string(st.phase.rawValue)),
                    ("topology", .string(st.plan.topologyName)), ("topologyFile", st.topologyFile.map { .string($0) } ?? .null),
                    ("linkPrefix", .string(st.plan.linkPrefix)),
                    ("delayEmulated", .bool(st.delayEmulated ?? false)),
                    ("delayMode", .string(st.effectiveDelayMode.rawValue)),
                    ("routerSIDs", st.routerSIDs.map { .string($0.rawValue) } ?? .null),
                    ("bridges", .array(st.bridges.map { b in
                        .object([("link", .int(b.link)), ("namespace", .string(b.namespace)), ("pid", .int(Int(b.pid))),
                                 ("running", .bool(s.runningBridges.contains(b.link)))])
                    })),
                    ("mptcpPathManager", .string(st.mptcpPathManager == .userspace ? "userspace" : "kernel")),
                    ("nodes", .array(nodes)),
                    ("links", .array(zip(st.plan.links, s.links).map { linkJSON($0, $1) })),
                    ("notes", .array(st.notes.map { .string($0) }))])
}
