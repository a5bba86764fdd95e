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

/// One `--mptcp-pm` value: `KIND` for every host, or `NODE=KIND` for one.
struct PathManagerChoice: ExpressibleByArgument {
    var node: String?
    var kind: MPTCPPathManagerKind

    init?(argument: String) {
        let parts = argument.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let kind = MPTCPPathManagerKind(argument: parts.last!), parts.count == 1 || !parts[0].isEmpty else { return nil }
        self.node = parts.count == 2 ? parts[0] : nil
        self.kind = kind
    }

    static var allValueStrings: [String] { ["userspace", "kernel", "NODE=userspace", "NODE=kernel"] }

    /// The path manager of every host and the per-host exceptions, from all `--mptcp-pm` values.
    static func resolve(_ choices: [PathManagerChoice]) throws -> (MPTCPPathManagerKind, [String: MPTCPPathManagerKind]) {
        let all = choices.filter { $0.node == nil }
        if Set(all.map(\.kind)).count > 1 { throw ValidationError("--mptcp-pm: two path managers for every host; give one KIND and NODE=KIND for exceptions") }
        var hosts: [String: MPTCPPathManagerKind] = [:]
        for c in choices {
            guard let n = c.node else { continue }
            if let k = hosts[n], k != c.kind { throw ValidationError("--mptcp-pm: two path managers for \(n)") }
            hosts[n] = c.kind
        }
        return (all.first?.kind ?? .userspace, hosts)
    }
}

extension MPTCPPathManagerKind {
    /// `userspace` or `kernel`, as `--mptcp-pm` spells it.
    var argumentName: String { self == .userspace ? "userspace" : "kernel" }
}

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
        get their address on lo, MPTCP (subflows 8, add_addr_accepted 8, no blackhole timeout) and \
        the userspace path manager by default (a server there accepts joins only while some process \
        on the host, in any namespace, subscribes to mptcp_pm_events, as `srte serve` does; \
        --mptcp-pm h2=kernel gives h2 the in-kernel one, for servers such as `mptcpize run iperf3 -s`). Link delays (--delay auto) come from the netem qdisc where the kernel \
        has it, else from a userspace delay bridge per delayed link: the link's two veth ends meet \
        in a namespace of their own, LAB+L<i>, where an srte-delay-bridge process forwards each \
        frame after the link's one-way delay. `status` shows which. SIDs (--sids auto) are seg6local routes where \
        the kernel has them (CONFIG_IPV6_SEG6_LWTUNNEL), else srte's tc BPF End/End.X program on \
        every router interface.

        Every subcommand names its lab with --lab NAME: by default `up` names it after the \
        topology, and the others take the only lab that is up.

        Example:
          srte testbed up topologies/diamond.yaml
          srte testbed exec h1 -- ping -c 1 fc00:2::2
          srte testbed link r1 a down
          srte testbed stats
          srte testbed status --lab diamond --format json
          srte testbed down --lab diamond

        Needs root. State is kept in /run/srte/testbed/LAB.json; `down` removes exactly what `up` \
        created, also after a failed or interrupted `up`. Exit status: 0 success, 2 unusable input, \
        3 a system or kernel error, 4 the lab does not exist or already exists, 130 `up` interrupted \
        (and cleaned up).
        """,
        subcommands: [Up.self, Down.self, Status.self, Exec.self, Link.self, Stats.self]
    )

    /// `--lab NAME`: the one way every `srte testbed` subcommand names its lab.
    struct LabOptions: ParsableArguments {
        @Option(help: ArgumentHelp("The lab; its namespaces are LAB-NODE. Default: for `up`, the topology's name; otherwise the only lab that is up.", valueName: "NAME"))
        var lab: String?

        /// The lab named by `--lab` or by an old spelling (`up --name`, a positional LAB, kept
        /// for scripts), refusing two different names.
        func named(_ legacy: String?, spelledAs old: String) throws -> String? {
            if let lab, let legacy, lab != legacy { throw ValidationError("--lab \(lab) and \(old) \(legacy) name different labs: give --lab once") }
            return lab ?? legacy
        }

        /// The lab to use: the one named, else the only one that is up.
        func resolve(_ legacy: String? = nil, spelledAs old: String = "LAB") throws -> String {
            if let name = try named(legacy, spelledAs: old) { return name }
            let labs = Testbed.labs()
            switch labs.count {
            case 1: return labs[0]
            case 0: throw CLIFailure(message: "no lab is up (srte testbed up TOPOLOGY)", code: ExitStatus.labState)
            default: throw CLIFailure.input("several labs are up (\(labs.joined(separator: ", "))): name one with --lab")
            }
        }
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

        @OptionGroup var lab: LabOptions

        /// The old spelling of `--lab`, kept for scripts.
        @Option(name: .customLong("name"), help: .hidden)
        var legacyName: String?

        @Option(help: "The /48 (or shorter) ULA prefix link addresses come from; must not overlap the topology.")
        var linkPrefix: String = TestbedPlan.defaultLinkPrefix

        @Option(name: .customLong("mptcp-pm"), help: ArgumentHelp("MPTCP path manager on hosts (default userspace), or on one host as NODE=KIND (repeat). A userspace-PM server accepts joins only while some process on the host subscribes to mptcp_pm_events: give a server of unmodified programs the kernel one (e.g. h2=kernel).", valueName: "[NODE=]KIND"))
        var mptcpPM: [PathManagerChoice] = []

        @Option(name: .customLong("default-bandwidth"), help: ArgumentHelp("Rate for links the file gives none (e.g. 50Mbit); without it they are unshaped.", valueName: "RATE"))
        var defaultBandwidth: String?

        @Option(help: ArgumentHelp("IPv6 MTU of every link, overriding the file's (default: the file's, else 1500).", valueName: "BYTES"))
        var mtu: Int?

        @Option(help: ArgumentHelp("Link delays: netem, bridge (a userspace delay bridge per delayed link), off, or auto (netem if the kernel has it, else bridge).", valueName: "MODE"))
        var delay: DelayMode = .auto

        @Option(help: ArgumentHelp("Router SIDs: seg6local routes, bpf (srte's tc ingress End/End.X program), or auto (seg6local if the kernel has it, else bpf). With C-SIDs, seg6local means `flavors next-csid` routes (Linux 6.1 for End, 6.6 for End.X), tried before they are chosen.", valueName: "MODE"))
        var sids: SIDsChoice = .auto

        @Flag(help: "Give routers RFC 9800 NEXT-C-SID End/End.X C-SIDs (F3216 in the /32 of the first locator) when the topology declares no csid:. A topology with csid: gets them anyway; routers marked csid: none keep plain End.")
        var csid = false

        @OptionGroup var output: FormatOptions

        func validate() throws {
            _ = try lab.named(legacyName, spelledAs: "--name")
            _ = try PathManagerChoice.resolve(mptcpPM)
        }

        func run() throws {
            var t = try loadTopology(topology)
            if csid {
                do { t = try t.compressible() } catch { throw CLIFailure.input("--csid: \(error.message)") }
            }
            if let defaultBandwidth { t = t.fillingBandwidth(try parseRate(defaultBandwidth)) }
            if let mtu { t = try settingMTU(mtu, of: t) }
            let plan = try TestbedPlan(topology: t, lab: try lab.named(legacyName, spelledAs: "--name"), linkPrefix: linkPrefix)
            let progress = Progress()
            defer { progress.finish() }
            let (pm, hostPMs) = try PathManagerChoice.resolve(mptcpPM)
            let testbed = try Testbed.up(plan: plan, options: .init(mptcpPathManager: pm, hostPathManagers: hostPMs, topologyFile: topology,
                                                                    routerSIDs: sids.routerSIDs, delay: delay),
                                     progress: progress.step)
            progress.finish()
            let out = StdoutBuffer()
            switch output.format {
            case .text:
                let routers = plan.nodes.filter(\.isRouter).count
                out.line("lab \(testbed.lab) is up: \(plan.nodes.count) namespaces (\(routers) routers, \(plan.nodes.count - routers) hosts), \(plan.links.count) links, in \(String(format: "%.2f", progress.elapsed)) s")
                for n in plan.nodes {
                    let what = n.isRouter
                        ? "End \(n.nodeSID.map { "\($0)" } ?? "-"), \(n.sids.filter { $0.behavior == "End.X" && !$0.isNextCSID }.count) End.X, "
                            + (n.csid == nil ? "" : "C-SID \(n.sids.first { $0.isNextCSID }.map { "\($0.address)" } ?? "-") (\(n.csid!.block)/\(n.csid!.csid)), ")
                            + "\(n.routes.count) routes"
                        : "\(n.address.map { "\($0)" } ?? "-"), \(n.routes.count) routes"
                    out.line(nodeTable.line([n.name, n.kind, n.namespace, what]))
                }
                out.line("delay: \(delayDescription(testbed.state, running: testbed.runningBridges()))")
                out.line("SIDs: \(sidsDescription(testbed.state))")
                for note in testbed.state.notes { out.line("note: \(note)") }
            case .json:
                out.line(statusJSON(try testbed.status()).rendered)
            }
            out.flush()
        }
    }

    /// `srte testbed down [--lab LAB]`.
    struct Down: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a lab: its namespaces (with their veths, routes and qdiscs), its delay bridges and its state file.")

        @OptionGroup var lab: LabOptions

        /// The old positional spelling of `--lab`, kept for scripts.
        @Argument(help: .hidden)
        var legacyLab: String?

        func validate() throws { _ = try lab.named(legacyLab, spelledAs: "LAB") }

        func run() throws {
            let name = try lab.resolve(legacyLab)
            let removed = try Testbed.down(name)
            let out = StdoutBuffer()
            out.line("lab \(name) is down: deleted \(removed.count) namespaces")
            out.flush()
        }
    }

    /// `srte testbed status [--lab LAB]`.
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a lab's nodes, links and their live state.")

        @OptionGroup var lab: LabOptions

        /// The old positional spelling of `--lab`, kept for scripts.
        @Argument(help: .hidden)
        var legacyLab: String?

        @OptionGroup var output: FormatOptions

        func validate() throws { _ = try lab.named(legacyLab, spelledAs: "LAB") }

        func run() throws {
            let t = try Testbed.open(try lab.resolve(legacyLab))
            let s = try t.status()
            let out = StdoutBuffer()
            switch output.format {
            case .json: out.line(statusJSON(s).rendered)
            case .text:
                let st = s.state
                let missing = st.plan.namespaces.filter { !s.presentNamespaces.contains($0) }
                out.line("lab \(st.lab): \(st.phase == .up ? "up" : "incomplete (up failed or is running; `srte testbed down --lab \(st.lab)` cleans it)"), topology \(st.plan.topologyName)\(st.topologyFile.map { " (\($0))" } ?? ""), MPTCP PM \(st.mptcpPathManager.argumentName)\(st.hostPathManagers.keys.sorted().map { " (\($0): \(st.hostPathManagers[$0]!.argumentName))" }.joined())")
                if !missing.isEmpty { out.line("missing namespaces: \(missing.joined(separator: " "))") }
                out.line("delay: \(delayDescription(st, running: s.runningBridges))")
                out.line("SIDs: \(sidsDescription(st))")
                out.line("nodes:")
                for n in st.plan.nodes {
                    let addr = n.address.map { "\($0)" } ?? n.nodeSID.map { "End \($0) (\(n.locator ?? ""))" } ?? "-"
                    out.line(nodeTable.line([n.name, n.kind, n.namespace, addr]))
                }
                out.line("links:")
                let links = Table([.left(3), .left(28), .left(9), .left(26)], indent: "  ")
                for (l, c) in zip(st.plan.links, s.links) {
                    let ends = "\(l.a):\(l.interfaceA) - \(l.b):\(l.interfaceB)"
                    let rate = l.bandwidth.map(formatRate) ?? "unlimited"
                    let mtu = l.mtu.map { " mtu \($0)" } ?? ""
                    let delay = "delay " + Topology.delayText(l.delay) + linkDelayNote(st, l, running: s.runningBridges)
                    out.line(links.line([String(l.index), ends, rate, delay, "\(endState(c.endA))/\(endState(c.endB))\(mtu)"]))
                }
                for note in st.notes { out.line("note: \(note)") }
            }
            out.flush()
        }
    }

    /// `srte testbed exec NODE -- CMD...`.
    struct Exec: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a command inside a node's namespace (ip netns exec); its exit status is returned.",
            discussion: "Example: srte testbed exec h1 -- ping -c 1 fc00:2::2")

        @OptionGroup var lab: LabOptions

        @Argument(help: "The node.")
        var node: String

        @Argument(parsing: .captureForPassthrough, help: "The command and its arguments (after --).")
        var command: [String] = []

        /// The command without the `--` that introduces it.
        var argv: [String] { command.first == "--" ? Array(command.dropFirst()) : command }

        func validate() throws {
            guard !argv.isEmpty else { throw ValidationError("give a command after --, e.g. srte testbed exec \(node) -- ip -6 route") }
        }

        func run() throws {
            let t = try Testbed.open(try lab.resolve())
            let full = try t.execArguments(node, argv)
            var cargs = full.map { strdup($0) } + [nil]
            execv(full[0], &cargs)
            throw CLIFailure.system("cannot run \(full[0]): \(Errno.current.message)")
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

        @OptionGroup var lab: LabOptions

        @Argument(help: "One endpoint.")
        var a: String

        @Argument(help: "The other endpoint.")
        var b: String

        @Argument(help: "down or up.")
        var state: State

        func run() throws {
            let t = try Testbed.open(try lab.resolve())
            let links = try t.setLinks(between: a, and: b, up: state == .up)
            let out = StdoutBuffer()
            for l in links { out.line("link \(l.index) \(l.a):\(l.interfaceA) - \(l.b):\(l.interfaceB) \(state.rawValue)") }
            out.flush()
        }
    }

    /// `srte testbed stats [--lab LAB]`.
    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Per-link packet and byte counters, from both ends (what each end sent).",
            discussion: "A→B is what A's interface transmitted; B→A what B's transmitted. Counters are cumulative since `up`. On a link with a delay bridge (kernels without netem), `bridge lost/late` is what no interface counts: frames the bridge lost (its queue or socket buffer was full) and frames it sent more than 1 ms after they were due (it lacked the CPU); the JSON has them per direction, with the worst lateness. The bridge updates them at most once a second.")

        @OptionGroup var lab: LabOptions

        /// The old positional spelling of `--lab`, kept for scripts.
        @Argument(help: .hidden)
        var legacyLab: String?

        @Flag(help: "Also show how many packets each SID (End, End.X) processed.")
        var sids = false

        @OptionGroup var output: FormatOptions

        func validate() throws { _ = try lab.named(legacyLab, spelledAs: "LAB") }

        func run() throws {
            let t = try Testbed.open(try lab.resolve(legacyLab))
            let counters = try t.linkCounters()
            let sidCounters = sids ? try t.sidCounters() : []
            let out = StdoutBuffer()
            switch output.format {
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
                let links = Table([.left(3), .left(22), .right(10), .right(12), .right(10), .right(12), .right(6), .right(13)])
                out.line(links.line(["#", "link", "A→B pkts", "A→B bytes", "B→A pkts", "B→A bytes", "drops", "bridge lost/late"]))
                for c in counters {
                    let drops = (c.endA?.txDropped ?? 0) + (c.endA?.rxDropped ?? 0) + (c.endB?.txDropped ?? 0) + (c.endB?.rxDropped ?? 0)
                    out.line(links.line([String(c.link), "\(c.a) - \(c.b)", String(c.endA?.txPackets ?? 0), String(c.endA?.txBytes ?? 0),
                                         String(c.endB?.txPackets ?? 0), String(c.endB?.txBytes ?? 0), String(drops),
                                         c.bridge.map { "\($0.lost)/\($0.lateOver1ms)" } ?? "-"]))
                }
                if counters.contains(where: { $0.bridge != nil }) {
                    out.line("(bridge: frames the link's delay bridge lost — its queue or socket buffer full — and frames it sent more than 1 ms late)")
                }
                if sids {
                    let table = Table([.left(8), .left(22), .left(8), .right(10), .right(12), .right(6)])
                    out.line("")
                    out.line(table.line(["node", "SID", "behavior", "packets", "bytes", "errors"]))
                    for c in sidCounters {
                        out.line(table.line([c.node, "\(c.sid)", c.behavior, String(c.packets), String(c.bytes), String(c.errors)]))
                    }
                }
            }
            out.flush()
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

/// The node rows of `up` and `status`: name, kind, namespace, then what the node has.
private let nodeTable = Table([.left(8), .left(7), .left(20)], indent: "  ")

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
             ("mtu", .int(l.effectiveMTU)), ("endA", countersJSON(c.endA)), ("endB", countersJSON(c.endB)),
             ("bridge", c.bridge.map { b in
                 .object([("forwarded", .array(b.forwarded.map { .int(Int($0)) })), ("dropped", .array(b.dropped.map { .int(Int($0)) })),
                          ("kernelDropped", .array(b.kernelDropped.map { .int(Int($0)) })),
                          ("lateOver1ms", .int(Int(b.lateOver1ms))), ("maxLateMicroseconds", .int(Int(b.maxLateMicroseconds)))])
             } ?? .null)])
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
                              ("neighbour", sid.neighbour.map { .string($0) } ?? .null),
                              ("flavor", sid.flavor.map { .string($0) } ?? .null)])
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
                    ("mptcpPathManager", .string(st.mptcpPathManager.argumentName)),
                    ("hostPathManagers", .object(st.hostPathManagers.keys.sorted().map { ($0, .string(st.hostPathManagers[$0]!.argumentName)) })),
                    ("nodes", .array(nodes)),
                    ("links", .array(zip(st.plan.links, s.links).map { linkJSON($0, $1) })),
                    ("notes", .array(st.notes.map { .string($0) }))])
}
