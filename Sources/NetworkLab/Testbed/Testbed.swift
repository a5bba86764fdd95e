import Foundation
import SRv6Paths
import Synchronization
import LinuxSystem
import SubflowSteering

/// A running emulation of a topology: one network namespace per node, one veth pair per link.
///
/// ```swift
/// let topology = try Topology(yaml: text, file: "diamond.yaml")
/// let lab = try Testbed.up(topology)                     // namespaces diamond-h1, diamond-r1, …
/// defer { try? lab.down() }
/// let h2 = lab.address(of: "h2")!                        // fc00:2::2
/// let fd = try lab.run(in: "h1") { socket(AF_INET6, SOCK_STREAM, 0) }   // a socket in h1
/// for c in try lab.linkCounters() { print(c.a, c.b, c.packetsAToB) }
/// ```
///
/// Routers get forwarding, `seg6_enabled` everywhere, an End route on their node SID, an End.X
/// route per adjacency SID (exactly `Topology.adjacencySID(link:from:)`), and static routes to
/// every locator and host address along all IGP shortest paths (multipath routes where there
/// are equal-cost paths). Hosts get their address on `lo` (and as `src` of their routes), a
/// default route via their routers, MPTCP with `subflows 8 add_addr_accepted 8`, no MPTCP
/// blackhole timeout, and the path manager of ``UpOptions/mptcpPathManager`` (or, per host, of
/// ``UpOptions/hostPathManagers``). Links get a tbf qdisc at their bandwidth on both
/// ends. Delays (``UpOptions/delay``) come from netem where the kernel has `sch_netem`, else from
/// a `srte-delay-bridge` process per delayed link, in the link's own namespace `<lab>+L<i>`
/// (``Testbed/delayMode``).
///
/// Routes are static: nothing reconverges when ``setLinks(between:and:up:)`` takes a link down.
///
/// Namespaces, veths, addresses and routes are created with `ip`/`tc` subprocesses (one `-batch`
/// per namespace) and sysctls are written through `/proc/sys` from inside each namespace.
public struct Testbed: Sendable {
    /// Where lab state files live.
    public static let stateDirectory = "/run/srte/testbed"

    /// What the lab created.
    public private(set) var state: TestbedState

    /// The plan the lab realises.
    public var plan: TestbedPlan { state.plan }
    /// The lab name.
    public var lab: String { state.lab }
    /// Whether link delays are emulated (by netem or bridges).
    public var delayEmulated: Bool { state.delayEmulated ?? false }
    /// How link delays are emulated: `netem`, `bridge` or `off`.
    public var delayMode: DelayMode { state.effectiveDelayMode }

    /// Options of ``up(plan:options:progress:)``.
    public struct UpOptions: Sendable {
        /// The MPTCP path manager hosts run (default: userspace, see `MPTCPPathManagerKind`).
        public var mptcpPathManager: MPTCPPathManagerKind
        /// Hosts that run another path manager than ``mptcpPathManager``, by node name. A server
        /// for programs that do not subscribe to `mptcp_pm_events` themselves (iperf3, a web
        /// server) runs the in-kernel one: it accepts joins up to `ip mptcp limits`, while a
        /// userspace-PM server accepts them only while some process on the host subscribes.
        public var hostPathManagers: [String: MPTCPPathManagerKind] = [:]
        /// The topology file, recorded in the state for `status`.
        public var topologyFile: String?
        /// How link delays are emulated (default: ``DelayMode/auto``).
        public var delay: DelayMode
        /// How routers realise SIDs; `nil`: seg6local where the kernel has it, else BPF.
        public var routerSIDs: RouterSIDs?

        /// Creates options.
        public init(mptcpPathManager: MPTCPPathManagerKind = .userspace, hostPathManagers: [String: MPTCPPathManagerKind] = [:],
                    topologyFile: String? = nil, routerSIDs: RouterSIDs? = nil, delay: DelayMode = .auto) {
            self.mptcpPathManager = mptcpPathManager
            self.hostPathManagers = hostPathManagers
            self.topologyFile = topologyFile
            self.routerSIDs = routerSIDs
            self.delay = delay
        }
    }

    // MARK: - Lifecycle

    /// Brings up a topology as lab `lab` (default: the topology's name).
    /// - Throws: ``TestbedError``; on any failure what was created has been removed.
    public static func up(_ topology: Topology, lab: String? = nil, options: UpOptions = UpOptions(),
                          progress: (String) -> Void = { _ in }) throws(TestbedError) -> Testbed {
        try up(plan: TestbedPlan(topology: topology, lab: lab), options: options, progress: progress)
    }

    /// Brings up a plan. Fails before creating anything when the lab exists or one of its
    /// namespace names is taken. SIGINT and SIGTERM during `up` stop it and remove what it
    /// created (the error's kind is then `.interrupted`).
    ///
    /// - Parameters:
    ///   - plan: the lab to create.
    ///   - options: how (path manager, delay emulation, SIDs).
    ///   - progress: called with a short line as each phase starts.
    /// - Throws: ``TestbedError``; on failure nothing the call created is left behind.
    public static func up(plan: TestbedPlan, options: UpOptions = UpOptions(),
                          progress: (String) -> Void = { _ in }) throws(TestbedError) -> Testbed {
        guard geteuid() == 0 else { throw TestbedError(.system, "the testbed needs root (network namespaces)") }
        for name in options.hostPathManagers.keys.sorted() where plan.node(name).map({ $0.isRouter }) ?? true {
            let hosts = plan.nodes.filter { !$0.isRouter }.map(\.name)
            throw TestbedError(.invalidInput, "a path manager for '\(name)': \(plan.node(name) == nil ? "no such node" : "a router") (hosts: \(hosts.joined(separator: ", ")))")
        }
        if FileManager.default.fileExists(atPath: TestbedState.path(of: plan.lab)) {
            throw TestbedError(.state, "lab '\(plan.lab)' already exists (\(TestbedState.path(of: plan.lab))); run `srte testbed down \(plan.lab)` first")
        }
        // Node namespaces, and the link namespaces delay bridges would get.
        for ns in plan.namespaces + plan.links.map(plan.linkNamespace(of:)) where NetworkNamespace.exists(ns) {
            throw TestbedError(.state, "network namespace '\(ns)' already exists (another lab or a leftover; `ip netns del \(ns)` if it is stale, or pick another --name)")
        }
        let state = TestbedState(lab: plan.lab, phase: .creating, pid: getpid(), created: Date().timeIntervalSince1970,
                                 topologyFile: options.topologyFile, namespaces: [], pendingNamespace: nil,
                                 delayEmulated: nil, mptcpPathManager: options.mptcpPathManager, notes: [], plan: plan)
        var recorded = state
        recorded.hostPathManagers = options.hostPathManagers
        recorded.pidStartTime = TestbedState.startTime(of: getpid())
        try recorded.create()
        var lab = Testbed(state: recorded)
        let saved = InterruptGuard()
        defer { saved.restore() }
        do {
            try lab.build(options, progress: progress)
        } catch {
            progress("up failed; removing what was created")
            let removed = lab.state.namespaces.count, links = lab.state.linkNamespaces.count, bridges = lab.state.bridges.count
            var cleanup: TestbedError? = nil
            do { try lab.teardown() } catch let e { cleanup = e }
            let signal = interruptSignal.load(ordering: .relaxed)
            var message = signal != 0 ? "interrupted by \(signal == SIGINT ? "SIGINT" : "SIGTERM")" : error.message
            if let cleanup { message += "; cleanup incomplete: \(cleanup.message) (run `srte testbed down \(plan.lab)`)" }
            else {
                message += "; removed the \(removed) namespace(s) it had created"
                if links > 0 { message += " (and \(links) link namespace(s), \(bridges) delay bridge(s))" }
            }
            throw TestbedError(signal != 0 ? .interrupted : error.kind, message)
        }
        return lab
    }

    private mutating func build(_ options: UpOptions, progress: (String) -> Void) throws(TestbedError) {
        let plan = state.plan
        progress("creating \(plan.nodes.count) namespaces")
        for node in plan.nodes {
            try checkInterrupt()
            try createNamespace(node.namespace, link: false)
            try Testbed.writeSysctls(plan.namespaceSysctls(for: node, mptcpPathManager: state.mptcpPathManager(of: node.name)),
                                     in: node.namespace)
        }
        try checkInterrupt()
        let netem = try probeNetem()
        let (mode, note) = try plan.resolveDelay(options.delay, netemAvailable: netem.available, netemError: netem.error)
        state.delayMode = mode
        state.delayEmulated = mode != .off
        if let note { state.notes.append(note) }
        let bridged = plan.bridgedLinks(mode)
        // Resolve the executable before creating anything else.
        let executable = bridged.isEmpty ? "" : try Testbed.bridgeExecutable()
        if !bridged.isEmpty {
            progress("creating \(bridged.count) link namespaces")
            for l in bridged {
                try checkInterrupt()
                let ns = plan.linkNamespace(of: l)
                try createNamespace(ns, link: true)
                try Testbed.writeSysctls(plan.linkNamespaceSysctls(), in: ns)
            }
        }
        try state.save()
        try checkInterrupt()
        if !plan.links.isEmpty {
            progress("creating \(plan.links.count) links (\(bridged.isEmpty ? "veth pairs" : "\(bridged.count) through delay bridges"))")
            try LabTool.check(["ip", "-batch", "-"], stdin: plan.vethCommands(bridged: Set(bridged.map(\.index))).joined(separator: "\n") + "\n",
                                 what: "creating veth pairs")
        }
        for l in bridged {
            try checkInterrupt()
            try LabTool.check(["ip", "-n", plan.linkNamespace(of: l), "-batch", "-"],
                                 stdin: plan.linkNamespaceCommands(for: l).joined(separator: "\n") + "\n",
                                 what: "ports in \(plan.linkNamespace(of: l))")
        }
        if !bridged.isEmpty {
            progress("starting \(bridged.count) delay bridges")
            try startBridges(bridged, executable: executable)
        }
        progress("configuring interfaces and addresses")
        for node in plan.nodes {
            try checkInterrupt()
            try Testbed.writeSysctls(plan.interfaceSysctls(for: node), in: node.namespace)
            try Testbed.batch(node, plan.addressCommands(for: node), what: "addresses")
        }
        let sids = try chooseRouterSIDs(options.routerSIDs)
        state.routerSIDs = sids
        try state.save()
        progress("installing SIDs (\(sids == .bpf ? "tc BPF router program" : "seg6local")) and routes")
        for node in plan.nodes {
            try checkInterrupt()
            try Testbed.batch(node, plan.routeCommands(for: node, seg6local: sids == .seg6local), what: "SIDs and routes")
            if sids == .bpf && node.isRouter { try Testbed.installBPFSIDs(node) }
        }
        try checkInterrupt()
        if plan.links.contains(where: { $0.bandwidth != nil }) || mode == .netem {
            progress("shaping links (tbf\(mode == .netem ? " + netem" : ""))")
        }
        for node in plan.nodes {
            try checkInterrupt()
            let lines = plan.qdiscCommands(for: node, emulateDelay: mode == .netem)
            if lines.isEmpty { continue }
            try LabTool.check(["tc", "-n", node.namespace, "-batch", "-"], stdin: lines.joined(separator: "\n") + "\n",
                                 what: "tc in \(node.namespace)")
        }
        let userspaceHosts = plan.nodes.filter { !$0.isRouter && state.mptcpPathManager(of: $0.name) == .userspace }.map(\.name)
        if !userspaceHosts.isEmpty {
            let which = userspaceHosts.count == plan.nodes.filter({ !$0.isRouter }).count ? "hosts run" : "\(userspaceHosts.joined(separator: ", ")) run\(userspaceHosts.count == 1 ? "s" : "")"
            state.notes.append("\(which) the userspace MPTCP path manager (net.mptcp.pm_type=1): a server accepts MP_JOINs only while some process on the host (any namespace) subscribes to mptcp_pm_events, as srte serve does")
        }
        try checkInterrupt()
        state.phase = .up
        try state.save()
    }

    /// Creates a namespace, recording it as pending before and as created after, so a
    /// killed `up` leaves a state file that names it.
    private mutating func createNamespace(_ ns: String, link: Bool) throws(TestbedError) {
        if link { state.pendingLinkNamespace = ns } else { state.pendingNamespace = ns }
        try state.save()
        let r = try LabTool.run(["ip", "netns", "add", ns])
        if link { state.pendingLinkNamespace = nil } else { state.pendingNamespace = nil }
        if r.status == 0 {
            if link { state.linkNamespaces.append(ns) } else { state.namespaces.append(ns) }
        }
        try state.save()
        guard r.status == 0 else {
            throw TestbedError(.system, "ip netns add \(ns) failed: \(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    /// Starts one bridge per link (all first, then waits for each to report ready), recording
    /// each process in the state as soon as it exists and saving the state once all are spawned
    /// (a bridge that an `up` killed in between did not save is found by `down` in its link
    /// namespace).
    private mutating func startBridges(_ links: [TestbedPlan.Link], executable: String) throws(TestbedError) {
        var pending: [(TestbedPlan.Link, Int32, Int32)] = []   // link, pid, read end of its ready pipe
        defer { for p in pending { close(p.2) } }
        for l in links {
            try checkInterrupt()
            let argv = [executable] + plan.bridgeArguments(for: l) + ["--ready-fd", String(DelayBridgeProcess.readyFD),
                                                                       "--stats-file", Testbed.bridgeStatsPath(lab: lab, link: l.index)]
            let (pid, fd) = try DelayBridgeProcess.spawn(argv)
            state.bridges.append(TestbedState.Bridge(link: l.index, namespace: plan.linkNamespace(of: l), pid: pid,
                                                     startTime: TestbedState.startTime(of: pid)))
            pending.append((l, pid, fd))
        }
        try state.save()
        let deadline = monotonicNanoseconds() + 20_000_000_000
        for (l, _, fd) in pending {
            try checkInterrupt()
            let answer = DelayBridgeProcess.awaitReady(fd, deadline: deadline) { interruptSignal.load(ordering: .relaxed) != 0 }
            try checkInterrupt()
            guard answer == "ready" else {
                throw TestbedError(.system, "the delay bridge of link \(l.index) (\(l.a)-\(l.b)) did not start: \(answer.isEmpty ? "no answer" : answer)")
            }
        }
    }

    /// `requested`, or (nil) seg6local when the kernel has it and the BPF program otherwise.
    private mutating func chooseRouterSIDs(_ requested: RouterSIDs?) throws(TestbedError) -> RouterSIDs {
        guard let router = plan.nodes.first(where: { $0.isRouter && !$0.sids.isEmpty }) else { return requested ?? .seg6local }
        if requested == .bpf { return .bpf }
        if let csidRouter = plan.nodes.first(where: { $0.sids.contains(where: \.isNextCSID) }) {
            // NEXT-C-SID (RFC 9800) in seg6local needs the lwtunnel and the flavor (End 6.1, End.X 6.6).
            let problem = Self.nextCSIDProblem(inNamespace: csidRouter.namespace)
            guard let problem else { return .seg6local }
            if requested == .seg6local {
                throw TestbedError(.system, "the topology has C-SIDs (csid:), and this kernel cannot run them as seg6local routes (\(problem)); use --sids bpf or auto")
            }
            state.notes.append("routers run End/End.X with NEXT-C-SID (RFC 9800) as srte's tc BPF program: this kernel has no seg6local next-csid flavor (\(problem))")
            return .bpf
        }
        // seg6 and seg6local routes come with the same kernel option; one probe tells both.
        let problem: String? = try NetworkNamespace.runTyped(in: router.namespace) { PolicyRoutingSteering.kernelProblem() }
        guard let problem else { return .seg6local }
        if requested == .seg6local {
            throw TestbedError(.system, "this kernel has no seg6local routes (CONFIG_IPV6_SEG6_LWTUNNEL; the kernel said: \(problem)); use --sids bpf or auto")
        }
        state.notes.append("routers run End/End.X as srte's tc BPF program: this kernel has no seg6local routes (CONFIG_IPV6_SEG6_LWTUNNEL; the kernel said: \(problem))")
        return .bpf
    }

    /// Why this kernel cannot hold NEXT-C-SID seg6local routes (nil: it can), tried in a
    /// namespace of its own that is deleted again.
    public static func nextCSIDProblemOnThisKernel() -> String? {
        let ns = "srte-probe-\(getpid())"
        guard (try? LabTool.check(["ip", "netns", "add", ns])) != nil else { return "cannot create a namespace to try" }
        defer { _ = try? LabTool.check(["ip", "netns", "del", ns]) }
        _ = try? LabTool.check(["ip", "-n", ns, "link", "set", "lo", "up"])
        return nextCSIDProblem(inNamespace: ns)
    }

    /// Why `namespace` cannot hold NEXT-C-SID seg6local routes (End and End.X with
    /// `flavors next-csid`), or nil when it can: tries one of each on a prefix no lab uses and
    /// removes them again.
    static func nextCSIDProblem(inNamespace namespace: String) -> String? {
        let probes = ["fc00:ffff:fffe::/48 encap seg6local action End flavors next-csid lblen 32 nflen 16 dev lo",
                      "fc00:ffff:ffff::/48 encap seg6local action End.X nh6 fe80::1 flavors next-csid lblen 32 nflen 16 dev lo"]
        for p in probes {
            let words = p.split(separator: " ").map(String.init)
            do { _ = try LabTool.check(["ip", "-n", namespace, "-6", "route", "add"] + words) } catch {
                return "it needs seg6local routes with the next-csid flavor: CONFIG_IPV6_SEG6_LWTUNNEL, Linux 6.1 for End, 6.6 for End.X; \(error)"
            }
            _ = try? LabTool.check(["ip", "-n", namespace, "-6", "route", "del", words[0]])
        }
        return nil
    }

    /// Tries a netem qdisc on the first namespace's `lo`; removes it again.
    private func probeNetem() throws(TestbedError) -> (available: Bool, error: String) {
        guard let node = plan.nodes.first else { return (false, "no nodes") }
        let dev = "lo"
        let r = try LabTool.run(["tc", "-n", node.namespace, "qdisc", "add", "dev", dev, "root", "netem", "delay", "1ms"])
        if r.status == 0 {
            _ = try LabTool.run(["tc", "-n", node.namespace, "qdisc", "del", "dev", dev, "root"])
            return (true, "")
        }
        return (false, r.stderr.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    private func checkInterrupt() throws(TestbedError) {
        if interruptSignal.load(ordering: .relaxed) != 0 { throw TestbedError(.interrupted, "interrupted") }
    }

    /// Runs `ip -6 -n NS -batch -` with `lines`.
    private static func batch(_ node: TestbedPlan.Node, _ lines: [String], what: String) throws(TestbedError) {
        guard !lines.isEmpty else { return }
        try LabTool.check(["ip", "-6", "-n", node.namespace, "-batch", "-"], stdin: lines.joined(separator: "\n") + "\n",
                             what: "\(what) in \(node.namespace)")
    }

    /// Writes sysctls (paths under /proc/sys) from inside a namespace.
    static func writeSysctls(_ settings: [(String, String)], in namespace: String) throws(TestbedError) {
        let failure: String? = try NetworkNamespace.runTyped(in: namespace) {
            for (key, value) in settings {
                if TestbedPlan.optionalSysctls.contains(key) && access("/proc/sys/\(key)", F_OK) != 0 { continue }
                do throws(SystemCallError) { try Sysctl.write(key, value) } catch {
                    return "\(key.replacingOccurrences(of: "/", with: "."))=\(value): \(error.reason)"
                }
            }
            return nil
        }
        if let failure { throw TestbedError(.system, "sysctl in \(namespace): \(failure)") }
    }

    /// Removes this lab: stops its delay bridges, deletes every namespace it created (which
    /// removes its veths, routes and qdiscs), then the state file.
    /// - Returns: The node namespaces deleted.
    @discardableResult
    public func down() throws(TestbedError) -> [String] {
        try teardown()
    }

    @discardableResult
    private func teardown() throws(TestbedError) -> [String] {
        var failures: [String] = []
        // Bridges first: a process holds its link namespace alive after `ip netns del`.
        var links = state.linkNamespaces
        if let p = state.pendingLinkNamespace, !links.contains(p) { links.append(p) }
        let survivors = DelayBridgeProcess.stop(state.bridges, namespaces: links.filter { NetworkNamespace.exists($0) })
        if !survivors.isEmpty {
            failures.append("stop delay bridge process(es) \(survivors.map(String.init).joined(separator: ", ")): still running after SIGKILL (see /proc/PID/stack)")
        }
        var candidates = links + state.namespaces
        if let p = state.pendingNamespace, !candidates.contains(p) { candidates.append(p) }
        var removed: [String] = []
        for ns in candidates.reversed() where NetworkNamespace.exists(ns) {
            let r = try LabTool.run(["ip", "netns", "del", ns])
            if r.status == 0 { removed.append(ns) } else { failures.append("\(ns): \(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines))") }
        }
        guard failures.isEmpty else {
            var left = state
            left.namespaces = state.namespaces.filter { NetworkNamespace.exists($0) }
            left.linkNamespaces = links.filter { NetworkNamespace.exists($0) }
            left.bridges = state.bridges.filter { survivors.contains($0.pid) }
            try? left.save()
            throw TestbedError(.system, "could not \(failures.map { $0.hasPrefix("stop ") ? $0 : "delete " + $0 }.joined(separator: "; "))")
        }
        state.remove()
        for l in plan.links {
            let stats = Testbed.bridgeStatsPath(lab: lab, link: l.index)
            unlink(stats)
            unlink(stats + ".tmp")
        }
        // Node namespaces only: link namespaces are an implementation detail of bridges.
        return removed.reversed().filter { state.namespaces.contains($0) || $0 == state.pendingNamespace }
    }

    /// Removes lab `lab` (see ``down()``), also after a failed or interrupted `up`.
    /// - Throws: ``TestbedError`` (`.state`) when there is no such lab or its `up` is still running.
    @discardableResult
    public static func down(_ lab: String) throws(TestbedError) -> [String] {
        let t = try open(lab)
        if t.state.phase == .creating, t.state.pid != getpid(), t.state.upProcessIsAlive {
            throw TestbedError(.state, "lab '\(lab)' is still being created by process \(t.state.pid); interrupt it (it cleans up) or wait")
        }
        return try t.down()
    }

    /// Opens an existing lab from its state file.
    public static func open(_ lab: String) throws(TestbedError) -> Testbed {
        Testbed(state: try TestbedState.load(lab))
    }

    /// The labs that have a state file, sorted.
    public static func labs() -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: stateDirectory)) ?? []
        return files.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
    }

    // MARK: - Using a lab

    /// The namespace of `node`, if the lab has that node.
    public func namespace(of node: String) -> String? { plan.node(node)?.namespace }

    /// The address that reaches `node`: a host's address, a router's node SID.
    public func address(of node: String) -> IPv6Address? {
        guard let n = plan.node(node) else { return nil }
        return n.address ?? n.nodeSID
    }

    /// Calls `body` on the current thread inside `node`'s namespace (see
    /// `NetworkNamespace.run(in:_:)`): sockets created there stay in that namespace.
    public func run<T>(in node: String, _ body: () throws -> T) throws -> T {
        guard let ns = namespace(of: node) else { throw TestbedError(.invalidInput, "lab '\(lab)' has no node '\(node)'") }
        return try NetworkNamespace.run(in: ns, body)
    }

    /// Runs a command inside `node`'s namespace (`ip netns exec`) and returns its output.
    public func exec(_ node: String, _ argv: [String]) throws(TestbedError) -> CommandResult {
        guard let ns = namespace(of: node) else { throw TestbedError(.invalidInput, "lab '\(lab)' has no node '\(node)'") }
        guard !argv.isEmpty else { throw TestbedError(.invalidInput, "no command to run") }
        return try LabTool.run(["ip", "netns", "exec", ns] + argv)
    }

    /// The full argument vector that runs `argv` inside `node`'s namespace
    /// (`/usr/sbin/ip netns exec NS argv…`), for callers that `exec` it themselves.
    public func execArguments(_ node: String, _ argv: [String]) throws(TestbedError) -> [String] {
        guard let ns = namespace(of: node) else { throw TestbedError(.invalidInput, "lab '\(lab)' has no node '\(node)'") }
        guard let ip = Subprocess.locate("ip") else { throw TestbedError(.system, "ip not found (install iproute2)") }
        return [ip, "netns", "exec", ns] + argv
    }

    /// Takes every link between `a` and `b` down or up, at both ends.
    ///
    /// Taking an interface down makes the kernel drop the routes through it (dead next hops of
    /// multipath routes are only disabled); bringing it up re-installs both nodes' SIDs and
    /// routes. Other nodes keep their routes: the testbed has no IGP, so traffic routed over a
    /// down link is lost rather than rerouted.
    /// - Returns: The links changed.
    @discardableResult
    public func setLinks(between a: String, and b: String, up: Bool) throws(TestbedError) -> [TestbedPlan.Link] {
        guard let na = plan.node(a) else { throw TestbedError(.invalidInput, "lab '\(lab)' has no node '\(a)'") }
        guard let nb = plan.node(b) else { throw TestbedError(.invalidInput, "lab '\(lab)' has no node '\(b)'") }
        let links = plan.links(between: a, and: b)
        guard !links.isEmpty else { throw TestbedError(.invalidInput, "no link between '\(a)' and '\(b)' in lab '\(lab)'") }
        for l in links {
            for (node, dev) in [(plan.node(l.a)!, l.interfaceA), (plan.node(l.b)!, l.interfaceB)] {
                try LabTool.check(["ip", "-n", node.namespace, "link", "set", "dev", dev, up ? "up" : "down"])
            }
        }
        if up {
            for node in [na, nb] {
                try Testbed.batch(node, plan.routeCommands(for: node, seg6local: state.routerSIDs != .bpf), what: "restoring routes")
            }
        }
        return links
    }

    // MARK: - Observing a lab

    /// Packet and byte counters of one interface, as the kernel counts them.
    public struct InterfaceCounters: Sendable, Hashable, Codable {
        /// The interface name.
        public var interface: String
        /// Whether the interface is administratively up.
        public var adminUp: Bool
        /// The operational state (`UP`, `DOWN`, `LOWERLAYERDOWN`, …).
        public var operState: String
        /// Packets received.
        public var rxPackets: UInt64
        /// Bytes received.
        public var rxBytes: UInt64
        /// Packets sent.
        public var txPackets: UInt64
        /// Bytes sent.
        public var txBytes: UInt64
        /// Packets dropped on receive.
        public var rxDropped: UInt64
        /// Packets dropped on send.
        public var txDropped: UInt64
    }

    /// What a link's delay bridge counted (its `--stats-file`, rewritten at most once a second):
    /// a lab's losses and late frames that no interface counter shows.
    public struct BridgeCounters: Sendable, Hashable, Codable {
        /// Frames forwarded, a→b and b→a.
        public var forwarded: [UInt64]
        /// Frames the bridge dropped (queue full, frame too long, far port refused it), a→b and b→a.
        public var dropped: [UInt64]
        /// Frames the kernel dropped before the bridge read them (its socket buffer full), arriving from a and from b.
        public var kernelDropped: [UInt64]
        /// Frames that left more than 1 ms after they were due (the bridge lacked the CPU).
        public var lateOver1ms: UInt64
        /// The latest a frame left, in microseconds after it was due.
        public var maxLateMicroseconds: UInt64

        /// Every frame lost on the link, whoever dropped it.
        public var lost: UInt64 { dropped.reduce(0, +) + kernelDropped.reduce(0, +) }
    }

    /// Where the bridge of link `index` of lab `lab` keeps its counters.
    public static func bridgeStatsPath(lab: String, link index: Int) -> String {
        "\(stateDirectory)/\(lab).L\(index).bridge"
    }

    /// The counters of both ends of one link.
    public struct LinkCounters: Sendable, Hashable, Codable {
        /// The link index (file order).
        public var link: Int
        /// First endpoint.
        public var a: String
        /// Second endpoint.
        public var b: String
        /// `a`'s end (`nil` if its namespace or interface is gone).
        public var endA: InterfaceCounters?
        /// `b`'s end.
        public var endB: InterfaceCounters?
        /// The link's delay bridge (`nil`: no bridge, or it has not reported yet).
        public var bridge: BridgeCounters?

        /// Packets that went from `a` to `b` (as sent by `a`).
        public var packetsAToB: UInt64 { endA?.txPackets ?? 0 }
        /// Packets that went from `b` to `a` (as sent by `b`).
        public var packetsBToA: UInt64 { endB?.txPackets ?? 0 }
    }

    /// The counters of every interface in `node`'s namespace (`ip -s -j link show`).
    public func interfaceCounters(of node: String) throws(TestbedError) -> [String: InterfaceCounters] {
        guard let ns = namespace(of: node) else { throw TestbedError(.invalidInput, "lab '\(lab)' has no node '\(node)'") }
        guard NetworkNamespace.exists(ns) else { return [:] }
        let out = try LabTool.check(["ip", "-n", ns, "-s", "-j", "link", "show"])
        return try Testbed.parseLinkJSON(out)
    }

    /// Per-link counters from both ends, in link order.
    public func linkCounters() throws(TestbedError) -> [LinkCounters] {
        var byNode: [String: [String: InterfaceCounters]] = [:]
        for n in plan.nodes where !n.interfaces.isEmpty { byNode[n.name] = try interfaceCounters(of: n.name) }
        return plan.links.map { l in
            let bridge = FileManager.default.contents(atPath: Testbed.bridgeStatsPath(lab: lab, link: l.index))
                .flatMap { try? JSONDecoder().decode(BridgeCounters.self, from: $0) }
            return LinkCounters(link: l.index, a: l.a, b: l.b, endA: byNode[l.a]?[l.interfaceA], endB: byNode[l.b]?[l.interfaceB], bridge: bridge)
        }
    }

    /// How many packets one SID processed (the `count` of its `seg6local` route, or the BPF
    /// router program's counters).
    public struct SIDCounters: Sendable, Hashable, Codable {
        /// The router owning the SID.
        public var node: String
        /// The SID.
        public var sid: IPv6Address
        /// `End` or `End.X`.
        public var behavior: String
        /// Packets processed.
        public var packets: UInt64
        /// Bytes processed.
        public var bytes: UInt64
        /// Packets the behaviour dropped.
        public var errors: UInt64
    }

    /// The counters of every SID of every router (`ip -s -j -6 route show`, or the BPF router
    /// program's map), in node order.
    public func sidCounters() throws(TestbedError) -> [SIDCounters] {
        var out: [SIDCounters] = []
        for n in plan.nodes where n.isRouter && NetworkNamespace.exists(n.namespace) {
            if state.routerSIDs == .bpf { out += try Testbed.bpfSIDCounters(n); continue }
            let text = try LabTool.check(["ip", "-n", n.namespace, "-6", "-s", "-j", "route", "show"])
            out += try Testbed.parseSIDJSON(text, node: n.name)
        }
        return out
    }

    /// Parses the `seg6local` routes of `ip -s -j -6 route show` output.
    static func parseSIDJSON(_ text: String, node: String) throws(TestbedError) -> [SIDCounters] {
        guard let list = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [[String: Any]] else {
            throw TestbedError(.system, "cannot parse `ip -s -j route show` output")
        }
        return list.compactMap { r in
            guard r["encap"] as? String == "seg6local", let dst = r["dst"] as? String,
                  let sid = IPv6Address(String(dst.split(separator: "/")[0])) else { return nil }
            let st = r["stats64"] as? [String: Any]
            func u64(_ k: String) -> UInt64 { (st?[k] as? NSNumber)?.uint64Value ?? 0 }
            return SIDCounters(node: node, sid: sid, behavior: r["action"] as? String ?? "?",
                               packets: u64("packets"), bytes: u64("bytes"), errors: u64("errors"))
        }
    }

    /// Parses `ip -s -j link show` output.
    static func parseLinkJSON(_ text: String) throws(TestbedError) -> [String: InterfaceCounters] {
        guard let list = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [[String: Any]] else {
            throw TestbedError(.system, "cannot parse `ip -s -j link show` output")
        }
        func u64(_ d: [String: Any]?, _ k: String) -> UInt64 {
            (d?[k] as? NSNumber)?.uint64Value ?? 0
        }
        var out: [String: InterfaceCounters] = [:]
        for e in list {
            guard let name = e["ifname"] as? String else { continue }
            let flags = e["flags"] as? [String] ?? []
            let stats = e["stats64"] as? [String: Any]
            let rx = stats?["rx"] as? [String: Any], tx = stats?["tx"] as? [String: Any]
            out[name] = InterfaceCounters(interface: name, adminUp: flags.contains("UP"), operState: e["operstate"] as? String ?? "UNKNOWN",
                                          rxPackets: u64(rx, "packets"), rxBytes: u64(rx, "bytes"),
                                          txPackets: u64(tx, "packets"), txBytes: u64(tx, "bytes"),
                                          rxDropped: u64(rx, "dropped"), txDropped: u64(tx, "dropped"))
        }
        return out
    }

    /// A lab's health: which namespaces exist and the state of every link end.
    public struct Status: Sendable {
        /// The recorded state.
        public var state: TestbedState
        /// Namespaces of the plan that exist now.
        public var presentNamespaces: Set<String>
        /// Both ends of every link, live.
        public var links: [LinkCounters]
        /// Links whose recorded delay bridge is still the same running process.
        public var runningBridges: Set<Int> = []
    }

    /// The links whose recorded delay bridge is still the same running process (reads `/proc`).
    public func runningBridges() -> Set<Int> { Set(state.bridges.filter { TestbedState.isRunning($0) }.map(\.link)) }

    /// The lab's live status.
    public func status() throws(TestbedError) -> Status {
        Status(state: state, presentNamespaces: Set(plan.namespaces.filter { NetworkNamespace.exists($0) }),
               links: try linkCounters(), runningBridges: runningBridges())
    }
}

// MARK: - Signals during `up`

/// The signal (SIGINT or SIGTERM) that arrived during `up`, 0 if none.
private let interruptSignal = Atomic<Int32>(0)

/// The handlers `up` replaced, and how many `up`s are running (handlers are installed by the
/// first and restored by the last, so concurrent `up`s in one process do not undo each other).
private struct InstalledHandlers {
    var depth = 0
    var oldInt = sigaction()
    var oldTerm = sigaction()
}
private let installedHandlers = Mutex(InstalledHandlers())

/// Installs SIGINT/SIGTERM handlers that only record the signal, and unblocks both signals on
/// the calling thread (a process may inherit them blocked, e.g. from a test runner); restores
/// the previous handlers and mask. A signal that arrived meanwhile is not re-raised: `up`
/// reports it as `.interrupted` instead.
private final class InterruptGuard {
    private var oldMask = sigset_t()

    init() {
        installedHandlers.withLock { h in
            h.depth += 1
            guard h.depth == 1 else { return }
            interruptSignal.store(0, ordering: .relaxed)
            var sa = sigaction()
            sa.__sigaction_handler.sa_handler = { sig in interruptSignal.store(sig, ordering: .relaxed) }
            sigemptyset(&sa.sa_mask)
            sa.sa_flags = 0
            sigaction(SIGINT, &sa, &h.oldInt)
            sigaction(SIGTERM, &sa, &h.oldTerm)
        }
        var unblock = sigset_t()
        sigemptyset(&unblock)
        sigaddset(&unblock, SIGINT)
        sigaddset(&unblock, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &unblock, &oldMask)
    }

    func restore() {
        // Mask first, so a signal pending under the old mask is not delivered to SIG_DFL.
        if sigismember(&oldMask, SIGINT) == 1 || sigismember(&oldMask, SIGTERM) == 1 {
            pthread_sigmask(SIG_SETMASK, &oldMask, nil)
        }
        installedHandlers.withLock { h in
            h.depth -= 1
            guard h.depth == 0 else { return }
            sigaction(SIGINT, &h.oldInt, nil)
            sigaction(SIGTERM, &h.oldTerm, nil)
        }
    }
}

extension NetworkNamespace {
    /// `NetworkNamespace.run(in:_:)` with a typed error.
    static func runTyped<T>(in name: String, _ body: () -> T) throws(TestbedError) -> T {
        do { return try run(in: name, body) } catch {
            throw TestbedError(.system, "entering network namespace \(name): \(error)")
        }
    }
}
