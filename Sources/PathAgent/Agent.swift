import Foundation
import Glibc
import SRv6Paths
import LinuxSystem
import SubflowSteering

/// The path-manager agent: gives every matching MPTCP connection of any program in this network
/// namespace one subflow per path of its policy rule.
///
/// - The initial subflow: `ConnectSteering` puts the rule's first path on its SYN (the
///   path-manager events come too late for that: CREATED arrives with the SYN-ACK).
///   The program also decides which rule a connection falls under (destination, port, source,
///   and the uid and cgroup of the process that called `connect()`) and records it; the agent
///   reads that record when the connection's CREATED event arrives, so both agree.
/// - Joins: when the connection is fully established (the ESTABLISHED event; the kernel refuses
///   SUBFLOW_CREATE before), one SUBFLOW_CREATE per further path with local port 0. The kernel
///   runs the same connect hook for a join, inside the request and in the agent's task: the
///   program gives it the path the agent armed for it (`ConnectSteering.connectJoin`) and reports
///   the port it got. No port range is reserved, so thousands of connections and their
///   TIME_WAIT cannot exhaust one.
/// - A subflow that closes, and a connection that closes, lose their steering at once (the
///   program deletes a flow's entry when its socket reaches TCP_CLOSE).
///
/// Connections whose initial local port lies in ``ownPorts`` while that range is reserved in
/// the namespace (as `srte open` reserves it, so no program gets such a port by chance) are
/// srte's own, which open their subflows themselves: the agent leaves them alone (the program
/// skips them while the range is reserved; the agent checks about once a second).
///
/// What the agent installs — the BPF programs, steered flows and MTU routes — goes in
/// ``stop()`` (and with the process for the BPF programs).
///
/// Not thread-safe: run ``run(until:)`` on one thread and call ``stop()`` after it returns.
public final class Agent: @unchecked Sendable {
    /// What happened, for the log (one line per event).
    public struct Event: Sendable {
        public var kind: String
        public var token: UInt32?
        public var fields: [(String, String)]
        public init(_ kind: String, token: UInt32? = nil, _ fields: [(String, String)] = []) {
            self.kind = kind
            self.token = token
            self.fields = fields
        }
    }

    /// A connection's token as the agent writes it: 8 lowercase hex digits (what
    /// `String(format: "%08x")` gives, without Foundation's formatter, which cost a tenth of
    /// the agent's CPU under connection churn: every event logs a token).
    public static func tokenText(_ token: UInt32) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(unsafeUninitializedCapacity: 8) { b in
            for i in 0..<8 { b[i] = digits[Int(token >> (28 - 4 * UInt32(i)) & 0xf)] }
            return 8
        }
    }

    /// Counters for `status`.
    public struct Counters: Sendable, Hashable, Codable {
        public var connectionsSeen = 0
        public var connectionsEngineered = 0
        public var connectionsUnmatched = 0
        public var subflowsOpened = 0
        public var subflowsFailed = 0
        /// Subflows opened again on a path whose subflow closed (rules with `keep`).
        public var subflowsReplaced = 0
        /// Times the agent lost events (the netlink socket overflowed) and re-read the open
        /// connections from sock_diag.
        public var resyncs = 0
        /// Connections that existed before the agent started (or were missed) and that it
        /// took over from sock_diag.
        public var connectionsAdopted = 0
        /// Connections the program matched that closed before the agent read their CREATED
        /// event (short ones): their initial subflow had the rule's path; no join was due.
        public var connectionsClosedEarly = 0
    }

    /// The local ports of srte's own connections (its reserved range): not the agent's.
    public static let ownPorts = MultipathConnection.defaultPortRange

    public private(set) var policy: AgentPolicy
    public private(set) var counters = Counters()
    /// Connections each rule took.
    public private(set) var ruleMatches: [Int]
    /// The control socket's path (`srte agent status`), when there is one.
    public let controlPath: String?
    var controlFD: Int32 = -1
    /// Answers the control socket (status and the subflow protocol, Docs/AgentProtocol.md).
    var broker: SubflowBroker?
    /// Called for every event.
    public var log: (Event) -> Void = { _ in }

    let steering: BPFSteering
    let onConnect: ConnectSteering
    let pm: MPTCPPathManager
    let subscription: MPTCPEventSubscription
    /// `net.ipv4.ip_local_reserved_ports` of the agent's namespace.
    let reservedPorts: SysctlFile?
    /// sock_diag in the agent's namespace, whichever thread asks (a netlink socket stays in the
    /// namespace it was opened in; a thread may be elsewhere).
    let diag: NetlinkConnection
    /// `reflect`: replies of flows that arrive with an SRH go back along its reverse.
    let reflector: SRHReflector?
    var lastReflectSweep = ContinuousClock.now
    /// What `setPathManager` changed (undone by ``stop()``), and the parameters opened in the
    /// agent's namespace to undo it from any thread.
    var state: AgentStateFile?
    var stateWriters: [String: SysctlWriter] = [:]

    /// Where a rule's connections go: its listed paths, or per destination node of a planned
    /// rule (the prefix the node owns) the paths planned to it.
    enum Resolved {
        case paths([PathSpec])
        case planned([PlannedDestination])

        func paths(toward destination: IPv6Address) -> [PathSpec]? {
            switch self {
            case .paths(let p): return p
            case .planned(let owners): return owners.first { $0.owner.contains(destination) }?.paths
            }
        }

        /// Per path toward `destination`, whether it travels in a reduced SRH (all `false` for listed paths).
        func reduced(toward destination: IPv6Address) -> [Bool] {
            switch self {
            case .paths(let p): return p.map { _ in false }
            case .planned(let owners): return owners.first { $0.owner.contains(destination) }?.reduced ?? []
            }
        }

        /// A keeper that re-plans around failures toward `destination` (planned rules), packing
        /// replacements as the planned paths were.
        func keeper(toward destination: IPv6Address) -> PathKeeper? {
            guard case .planned(let owners) = self, let o = owners.first(where: { $0.owner.contains(destination) }) else { return nil }
            return PathKeeper(plan: o.report, compression: o.compression)
        }
    }

    /// The paths a planned rule gives the connections to one node of its topology.
    struct PlannedDestination {
        /// The part of the rule's prefix the node owns.
        var owner: IPv6Prefix
        var node: String
        /// Waypoints per path (containers where compressed); the destination is appended per connection.
        var paths: [PathSpec]
        /// Per path, whether its first waypoint travels only as Destination Address (reduced SRH).
        var reduced: [Bool]
        /// SRH bytes per packet of each path (0: no SRH).
        var srhBytes: [Int]
        var compression: SRHCompression
        var report: PlanReport
    }
    var resolved: [Resolved]
    struct Connection {
        var rule: Int
        var paths: [PathSpec]
        var local: SocketEndpoint
        var remote: SocketEndpoint
        /// The joins the agent opened and that are open, with the index of their path.
        var joins: [(flow: FourTuple, path: Int)] = []
        /// Per path, whether it travels in a reduced SRH (its first waypoint only as Destination Address).
        var reduced: [Bool] = []
        /// The local address id of the joins (all from the initial subflow's address, port 0);
        /// 0 until the first join.
        var joinLocalID: UInt8 = 0
        var opened = false
        /// Taken over from sock_diag rather than seen connecting.
        var adopted = false
        /// `keep`: re-plans for a planned rule (nil for listed paths, which reopen on the same path).
        var keep = false
        var keeper: PathKeeper? = nil
        /// Per subflow, the bytes acked when last seen to move, and when.
        var progress: [FourTuple: (acked: UInt64, at: ContinuousClock.Instant)] = [:]
        /// When each path was last replaced (listed paths reopen at most every 5 s).
        var replacedAt: [Int: ContinuousClock.Instant] = [:]
        /// The path indices whose subflow failed and was replaced.
        var retired: Set<Int> = []

        /// Whether path `i` travels in a reduced SRH.
        func isReduced(_ i: Int) -> Bool { i < reduced.count && reduced[i] }
        /// Path `i` as the log and status show it: its waypoints, `(reduced SRH)` when the
        /// first travels only as Destination Address.
        func pathText(_ i: Int) -> String { isReduced(i) ? "\(paths[i]) (reduced SRH)" : "\(paths[i])" }
        var pathTexts: [String] { paths.indices.map(pathText) }
    }
    /// `keep`: a subflow with bytes in flight and no acknowledgement for this long has failed.
    public var stallTimeout: Duration = .milliseconds(500)
    var lastKeepCheck = ContinuousClock.now
    var connections: [UInt32: Connection] = [:]
    var stopped = false
    /// The CPU wake-up latency request (µs) the process holds for the agent (`srte agent
    /// --cpu-latency`), reported by ``status()``; set by whoever holds it.
    public var cpuLatency: Int32?
    /// Whether ``ownPorts`` was reserved when last checked (the program skips them then).
    var ownPortsReserved = false
    var lastReservationCheck = ContinuousClock.now
    var lastHopRefresh = ContinuousClock.now

    /// Sets the agent up in the calling thread's network namespace: checks that MPTCP uses the
    /// userspace path manager there, attaches the steering programs (egress `interface`, by
    /// default the one toward the first rule's destination) and subscribes to the events.
    /// - Throws: ``AgentError`` naming what is missing (the path manager, root, a policy
    ///   feature the daemon does not apply yet), or the kernel's error.
    /// - Parameters:
    ///   - policy: the rules.
    ///   - interface: the egress interface for steering (`nil`: toward the first rule's destination).
    ///   - cgroup: the cgroup v2 directory whose programs' connections are engineered.
    ///   - control: where to answer `srte agent status` (``defaultControlPath(namespaceCookie:)``
    ///     for the namespace; `nil`: no control socket).
    ///   - setPathManager: switch the namespace to the userspace path manager if it is not
    ///     (restored by ``stop()``, or by `srte cleanup` after a SIGKILL).
    ///   - reflect: also act as a server's path manager: its subscription lets the kernel
    ///     accept joins, and replies to flows that arrive with an SRH follow its reverse
    ///     (`SRHReflector` on `interface`). The policy may then have no rules.
    public init(policy: AgentPolicy, interface: String? = nil, cgroup: String = SubflowSocketOptions.defaultCgroup,
                control: String? = nil, setPathManager: Bool = false, reflect: Bool = false) throws {
        self.policy = policy
        self.ruleMatches = Array(repeating: 0, count: policy.rules.count)
        self.controlPath = control
        // No rules is fine for a server (--reflect) or an agent that only serves the C API (grants).
        let (connectRules, resolved) = try Self.compile(policy, allowEmpty: reflect || !policy.grants.isEmpty, reflect: reflect)
        self.resolved = resolved
        guard geteuid() == 0 else { throw AgentError("the agent needs root (CAP_NET_ADMIN and CAP_BPF): it subscribes to mptcp_pm_events and loads BPF programs") }
        let changed = try Self.checkPathManager(switching: setPathManager, control: control)
        state = changed
        let writers = Dictionary(((changed?.sysctls.keys).map(Array.init) ?? []).compactMap { k in (try? SysctlWriter(k)).map { (k, $0) } },
                                 uniquingKeysWith: { a, _ in a })
        stateWriters = writers
        var ready = false
        defer { if !ready { changed?.undo(through: writers) } }
        let egress: String
        if let interface { egress = interface } else if let first = policy.rules.first {
            egress = try RouteTable.egressInterface(toward: first.match.to?.address ?? .unspecified)
        } else {
            egress = try SRHReflector.soleInterface()
        }
        if reflect {
            let off = SRv6Reception.disabled(on: [egress])
            guard off.isEmpty else {
                throw AgentError("--reflect needs SRv6 reception, but seg6_enabled is 0 on \(off.joined(separator: ", ")): packets with an SRH would be dropped. Run `\(SRv6Reception.fix(off))`")
            }
        }
        steering = try BPFSteering(interface: egress)
        reservedPorts = try? SysctlFile("net/ipv4/ip_local_reserved_ports")
        ownPortsReserved = Self.reserves(reservedPorts)
        do {
            onConnect = try ConnectSteering(steering: steering, cgroup: cgroup, agentProcess: getpid(),
                                            skipLocalPorts: ownPortsReserved ? Self.ownPorts : nil)
            try onConnect.setRules(connectRules)
            pm = try MPTCPPathManager()
            subscription = try pm.subscribe()
            diag = NetlinkConnection(transport: try MNLSocket(.sockDiag))
            reflector = reflect ? try SRHReflector(interface: egress, steering: steering) : nil
        } catch {
            steering.removeAll()
            throw error
        }
        if let control {
            do throws(SystemCallError) {
                try? FileManager.default.createDirectory(atPath: (control as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
                                                         attributes: [.posixPermissions: 0o755])
                // Anyone may connect: the subflow protocol checks each request's credentials.
                controlFD = try UnixSocket.listen(at: control, mode: 0o666)
                try UnixSocket.passCredentials(controlFD)
            } catch {
                onConnect.close()
                steering.removeAll()
                throw AgentError("control socket: \(error)")
            }
            do {
                broker = try SubflowBroker(steering: steering, pm: pm, policy: { [unowned self] in self.policy },
                                           enginePaths: { [unowned self] in self.connections[$0].map { ($0.paths, $0.joins) } },
                                           onConnect: cgroup == SubflowSocketOptions.defaultCgroup ? onConnect : nil,
                                           agentJoinID: { [unowned self] token, address in
                                               self.connections[token].flatMap { $0.local.address == address && $0.joinLocalID != 0 ? $0.joinLocalID : nil }
                                           },
                                           textAnswer: { [unowned self] in self.textAnswer($0, peer: $1) })
            } catch {
                close(controlFD)
                unlink(control)
                onConnect.close()
                steering.removeAll()
                throw AgentError("control socket: \(error)")
            }
        }
        ready = true
    }

    /// Checks that MPTCP uses the userspace path manager in this namespace; with `switching`,
    /// switches it there first (recording the old value in an ``AgentStateFile``, which
    /// ``stop()`` or `srte cleanup` undoes).
    /// - Returns: the state file when something was switched.
    /// - Throws: ``AgentError`` with the one sentence that says what to do.
    static func checkPathManager(switching: Bool, control: String?) throws -> AgentStateFile? {
        guard let s = MPTCPNamespaceState.current() else {
            throw AgentError("this kernel has no MPTCP (/proc/sys/net/mptcp is missing): the agent needs CONFIG_MPTCP=y")
        }
        guard s.enabled else { throw AgentError("MPTCP is disabled in this network namespace: run `sysctl -w net.mptcp.enabled=1`") }
        if s.isUserspace { return nil }
        let names = "net.mptcp.pm_type=1" + (s.pathManager != nil ? " (net.mptcp.path_manager=userspace)" : "")
        guard switching else {
            throw AgentError("this network namespace uses the in-kernel MPTCP path manager; the agent is a userspace path manager: set \(names) in it, or run the agent with --set-pm, which switches it and restores it on exit (connections opened before keep the in-kernel one)")
        }
        let cookie = (try? NetworkNamespace.currentCookie()) ?? 0
        var old: [String: String] = [:]
        if let t = s.pmType { old["net/mptcp/pm_type"] = "\(t)" }
        let file = AgentStateFile(pid: getpid(), startTime: Processes.status(getpid())?.startTime, namespaceCookie: cookie,
                                  controlSocket: control, sysctls: old)
        do { try file.save() } catch { throw AgentError("recording the path-manager switch in \(AgentStateFile.path(namespaceCookie: cookie)): \(error)") }
        do throws(SystemCallError) { try Sysctl.write("net/mptcp/pm_type", "1") } catch {
            file.undo()
            throw AgentError("switching to the userspace path manager (net.mptcp.pm_type=1): \(error)")
        }
        return file
    }

    deinit { stop() }

    /// The connect-time rules and the per-rule paths of `policy`.
    /// - Throws: ``AgentError`` for a rule the agent does not apply yet, a planned rule it
    ///   cannot plan, or more connect-time rules than the program holds.
    static func compile(_ policy: AgentPolicy, allowEmpty: Bool = false, reflect: Bool = false) throws -> ([ConnectSteering.Rule], [Resolved]) {
        guard !policy.rules.isEmpty || allowEmpty else {
            throw AgentError("the policy has no rules (and no grants for the C API): nothing to engineer")
        }
        var connectRules: [ConnectSteering.Rule] = []
        var resolved: [Resolved] = []
        for (i, r) in policy.rules.enumerated() {
            let to = r.match.to ?? IPv6Prefix(address: .unspecified, length: 0)
            let ports = r.match.ports ?? 1...65535
            func waypoints(_ p: PathSpec) -> [IPv6Address] { if case .segments(let s) = p { s } else { [] } }
            func rule(_ destination: IPv6Prefix, _ first: [IPv6Address], reduced: Bool = false) -> ConnectSteering.Rule {
                ConnectSteering.Rule(destination: destination, ports: ports, waypoints: first, source: r.match.from,
                                     uids: r.match.uids, cgroup: r.match.cgroup, tag: UInt32(i + 1), reduced: reduced)
            }
            switch r.paths {
            case .explicit(let paths):
                resolved.append(.paths(paths))
                connectRules.append(rule(to, waypoints(paths[0])))
            case .plan(let spec):
                let owners = try Self.plan(spec, covering: to, rule: i, line: r.line, reflect: reflect)
                resolved.append(.planned(owners))
                for o in owners { connectRules.append(rule(o.owner, waypoints(o.paths[0]), reduced: o.reduced[0])) }
                // The rest of the prefix matches too (first match wins) but cannot be planned to: no SRH.
                connectRules.append(rule(to, []))
            }
        }
        guard connectRules.count <= ConnectSteering.maxRules else {
            throw AgentError("the policy needs \(connectRules.count) connect-time rules (one per explicit rule, one per planned destination node and one per planned rule); the program holds \(ConnectSteering.maxRules)")
        }
        return (connectRules, resolved)
    }

    /// One `planned` event per destination node of each planned rule: the node, how the lists
    /// are packed (`compress`), the paths (containers where compressed, `(reduced SRH)` where the
    /// first travels only as Destination Address) and their SRH bytes per packet.
    public func plannedEvents() -> [Event] {
        var out: [Event] = []
        for (i, r) in resolved.enumerated() {
            guard case .planned(let owners) = r else { continue }
            for o in owners {
                let texts = o.paths.indices.map { o.reduced[$0] ? "\(o.paths[$0]) (reduced SRH)" : "\(o.paths[$0])" }
                out.append(Event("planned", [("rule", "\(i + 1)"), ("node", o.node), ("compress", o.compression.rawValue),
                                             ("paths", texts.joined(separator: " ")),
                                             ("srh", o.srhBytes.map(String.init).joined(separator: ","))]))
            }
        }
        return out
    }

    /// Replaces the policy (SIGHUP): new connections follow `new`; open ones keep their paths.
    /// - Throws: ``AgentError`` for a rule the agent cannot apply (the old policy then stays in force).
    public func reload(_ new: AgentPolicy) throws {
        let (connectRules, resolved) = try Self.compile(new, allowEmpty: reflector != nil || !new.grants.isEmpty, reflect: reflector != nil)
        try onConnect.setRules(connectRules)
        policy = new
        self.resolved = resolved
        ruleMatches = Array(repeating: 0, count: new.rules.count)
        for k in connections.keys { connections[k]?.rule = -1 }     // their rule may be gone
        log(Event("reloaded", [("rules", "\(new.rules.count)")]))
    }

    /// Handles events and control requests until `shouldStop` says so (checked at least every
    /// 100 ms). Lost events (the netlink socket overflowed under a burst: ENOBUFS) are
    /// recovered by re-reading the open connections from sock_diag (``resync()``).
    public func run(until shouldStop: () -> Bool) {
        while !shouldStop() && !stopped {
            // The events, the control socket and the control clients whose request is incomplete.
            var fds = [pollfd(fd: subscription.fileDescriptor, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: controlFD, events: Int16(POLLIN), revents: 0)]
            if controlFD >= 0 { fds += (broker?.waitingDescriptors ?? []).map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) } }
            // (A few milliseconds while an answer waits for the kernel: a live option read.)
            _ = poll(&fds, nfds_t(controlFD >= 0 ? fds.count : 1), broker?.hasPending == true ? 2 : 100)
            if fds[0].revents != 0 {
                do {
                    for e in try subscription.queued() { handle(e) }
                } catch let e as NetlinkError where e.errno == ENOBUFS {
                    counters.resyncs += 1
                    log(Event("resync", [("why", "path-manager events were lost (ENOBUFS)")]))
                    resync()
                } catch {
                    log(Event("error", [("what", "reading path-manager events"), ("error", "\(error)")]))
                }
            }
            // Every turn: answers what arrived, expires slow clients, sweeps closed subflows.
            if controlFD >= 0 { serveControl(readable: Set(fds.dropFirst(2).filter { $0.revents != 0 }.map(\.fd)), listenerReady: fds[1].revents != 0) }
            if ContinuousClock.now - lastReservationCheck > .seconds(1) { checkOwnPorts() }
            if ContinuousClock.now - lastHopRefresh > .seconds(10) {
                lastHopRefresh = ContinuousClock.now
                steering.refreshFirstHops()     // every rule's first hop stays resolved
            }
            if ContinuousClock.now - lastKeepCheck > .milliseconds(100) { checkKept() }
            if let reflector, ContinuousClock.now - lastReflectSweep > .milliseconds(500) { sweepReflected(reflector) }
        }
    }

    /// Whether `flow` is not one of this host's engineered flows (which `reflect` must not
    /// re-steer): neither matched by the connect-time program nor steered by the agent.
    func isForeign(_ flow: FourTuple) -> Bool {
        !onConnect.steers(flow) && steering.steeredFlows[flow] == nil
    }

    /// `reflect`: learns flows that arrived since the last event, and forgets the reflected
    /// flows whose sockets are gone (within a second of their close).
    func sweepReflected(_ reflector: SRHReflector) {
        lastReflectSweep = ContinuousClock.now
        _ = try? reflector.reflect(where: isForeign)
        guard !reflector.reflected.isEmpty, let all = try? SubflowDiagnostics.all(on: diag) else { return }
        let live = Set(all.map { FourTuple($0.local, $0.remote) })
        for f in reflector.reflected.keys where !live.contains(f) { reflector.forget(f) }
    }

    /// `keep`: finds subflows that stalled (bytes in flight, nothing acknowledged for
    /// ``stallTimeout``) or left the established state, opens a replacement first — on a path
    /// re-planned around the failed one's links for a planned rule (the machinery of
    /// `srte open --keep`), on the same path for listed paths — and then closes the failed one.
    func checkKept() {
        lastKeepCheck = ContinuousClock.now
        guard connections.values.contains(where: { $0.keep && $0.opened }) else { return }
        guard let all = try? SubflowDiagnostics.all(on: diag) else { return }
        let now = ContinuousClock.now
        let byToken = Dictionary(grouping: all, by: \.token)
        for token in Array(connections.keys) {
            guard var c = connections[token], c.keep, c.opened, let mine = byToken[token] else { continue }
            let initial = FourTuple(c.local, c.remote)
            var pathOf = Dictionary(c.joins.map { ($0.flow, $0.path) }, uniquingKeysWith: { a, _ in a })
            pathOf[initial] = 0
            var failed: [(flow: FourTuple, path: Int)] = []
            for s in mine {
                let flow = FourTuple(s.local, s.remote)
                guard let path = pathOf[flow], !c.retired.contains(path) else { continue }
                let inFlight = s.bytesSent > s.bytesAcked
                if s.tcpState != 1 && s.tcpState != 2 {
                    failed.append((flow, path))
                } else if let p = c.progress[flow], p.acked == s.bytesAcked, inFlight {
                    if now - p.at >= stallTimeout { failed.append((flow, path)) }
                } else {
                    c.progress[flow] = (s.bytesAcked, now)
                }
            }
            for f in failed {
                if c.keeper == nil, let last = c.replacedAt[f.path], now - last < .seconds(5) { continue }
                c.retired.insert(f.path)
                let active = c.paths.indices.filter { !c.retired.contains($0) }
                let next: PathSpec
                if let keeper = c.keeper {
                    guard let r = keeper.replacement(forFailed: f.path, active: active, newIndex: c.paths.count) else {
                        log(Event("error", token: token, [("what", "replacing the subflow on path \(c.paths[f.path])"),
                                                          ("error", "no path avoids the failed links")]))
                        continue
                    }
                    next = r.waypoints.isEmpty ? .direct : .segments(r.waypoints)
                    c.reduced.append(r.reduced && !r.waypoints.isEmpty)
                } else {
                    next = c.paths[f.path]
                    c.reduced.append(c.reduced[f.path])
                }
                c.paths.append(next)
                c.replacedAt[c.paths.count - 1] = now
                if openJoin(token: token, connection: &c, path: c.paths.count - 1) {
                    counters.subflowsReplaced += 1
                    log(Event("replaced", token: token, [("failed", c.pathText(f.path)), ("path", c.pathText(c.paths.count - 1))]))
                }
                // Break after make: the failed subflow goes (its steering with it).
                do throws(NetlinkError) {
                    try pm.destroySubflow(token: token, local: SocketEndpoint(f.flow.localAddress, port: f.flow.localPort),
                                          remote: SocketEndpoint(f.flow.remoteAddress, port: f.flow.remotePort))
                } catch {
                    log(Event("error", token: token, [("what", "closing the failed subflow \(f.flow)"), ("error", "\(error)")]))
                }
                c.progress[f.flow] = nil
            }
            connections[token] = c
        }
    }

    /// Whether `file` (`ip_local_reserved_ports`) reserves all of ``ownPorts``.
    static func reserves(_ file: SysctlFile?) -> Bool {
        guard let reserved = try? file?.read() else { return false }
        return MultipathConnection.reservedPorts(reserved, cover: ownPorts)
    }

    /// Tells the program whether ``ownPorts`` is reserved now (`srte open` reserves it when it
    /// starts, possibly after the agent).
    func checkOwnPorts() {
        lastReservationCheck = ContinuousClock.now
        let now = Self.reserves(reservedPorts)
        guard now != ownPortsReserved else { return }
        ownPortsReserved = now
        try? onConnect.setSkippedLocalPorts(now ? Self.ownPorts : nil)
    }

    /// Re-reads the namespace's MPTCP connections from sock_diag: connections the agent did
    /// not know (lost events, or open before it started) are adopted when the policy matches
    /// them — every subflow they have is steered by 4-tuple along a path of the rule, in path
    /// order, and joins open for the paths left — and connections that are gone are forgotten.
    public func resync() {
        let open: [MPTCPConnectionDiagnostics]
        let subflows: [SubflowDiagnostics]
        do {
            open = try MPTCPConnectionDiagnostics.all(on: diag)
            subflows = try SubflowDiagnostics.all(on: diag)
        } catch {
            log(Event("error", [("what", "reading MPTCP connections (sock_diag)"), ("error", "\(error)")]))
            return
        }
        let live = Set(open.map(\.token))
        for token in connections.keys where !live.contains(token) { connections[token] = nil }
        let byToken = Dictionary(grouping: subflows, by: \.token)
        for c in open where c.token != 0 && connections[c.token] == nil {
            // The client side only: its initial subflow asked for MP_CAPABLE (MCAP_LOC).
            guard let mine = byToken[c.token], let first = mine.first(where: { !$0.isJoin }),
                  first.flags & 0x02 != 0 else { continue }
            adopt(token: c.token, uid: c.uid, inode: c.inode, subflows: mine, initial: first)
        }
    }

    /// Takes over a connection found by ``resync()``.
    func adopt(token: UInt32, uid: UInt32, inode: UInt32, subflows: [SubflowDiagnostics], initial: SubflowDiagnostics) {
        let local = initial.local, remote = initial.remote
        guard !local.isIPv4, !(Self.ownPorts.contains(local.port) && ownPortsReserved) else { return }
        // The connect-time program's record when it saw the connection (events were lost);
        // otherwise the policy, on what sock_diag and /proc tell (a connection older than the agent).
        let recorded = onConnect.match(of: FourTuple(local, remote)).flatMap { $0 > 0 ? Int($0) - 1 : nil }
        onConnect.forget(FourTuple(local, remote))
        let index: Int
        if let recorded {
            index = recorded
        } else {
            let owner = Processes.owners(ofSocketInodes: [inode])[inode]
            let cgroup = owner.flatMap { Self.cgroupV2(of: $0.pid) }
            let facts = ConnectionFacts(local: local.address, remote: remote.address, remotePort: remote.port, uid: uid, cgroup: cgroup)
            guard let (i, _) = policy.firstMatch(facts) else { return }
            index = i
        }
        guard index < resolved.count, let paths = resolved[index].paths(toward: remote.address) else { return }
        counters.connectionsSeen += 1
        counters.connectionsEngineered += 1
        counters.connectionsAdopted += 1
        ruleMatches[index] += 1
        var c = Connection(rule: index, paths: paths, local: local, remote: remote, adopted: recorded == nil)
        c.reduced = resolved[index].reduced(toward: remote.address)
        if policy.rules[index].keep {
            c.keep = true
            c.keeper = resolved[index].keeper(toward: remote.address)
        }
        // The subflows it has take the paths in order: the initial subflow path 1.
        let ordered = [initial] + subflows.filter { $0 != initial && $0.tcpState == 1 }
        for (i, s) in ordered.prefix(paths.count).enumerated() {
            let flow = FourTuple(s.local, s.remote)
            // A subflow the program steered keeps that steering.
            if !onConnect.steers(flow), case .segments(let w) = paths[i] {
                if c.isReduced(i), let r = try? ReducedSegmentRoutingHeader(path: w + [s.remote.address], nextHeader: UInt8(IPPROTO_TCP)) {
                    try? steering.steer(flow, alongReduced: r)
                } else if let srh = try? SegmentRoutingHeader(path: w + [s.remote.address], nextHeader: UInt8(IPPROTO_TCP)) {
                    try? steering.steer(flow, along: srh)
                }
            }
            if i > 0 { c.joins.append((flow, i)) }
        }
        c.joinLocalID = subflows.map(\.localID).max() ?? 0
        log(Event("adopted", token: token, [("local", "\(local)"), ("remote", "\(remote)"), ("rule", "\(index + 1)"),
                                            ("subflows", "\(ordered.count) of \(paths.count)")]))
        c.opened = true
        if ordered.count < paths.count, initial.fullyEstablished || initial.tcpState == 1 {
            for i in ordered.count..<paths.count { openJoin(token: token, connection: &c, path: i) }
        }
        connections[token] = c
    }

    /// The cgroup v2 path of process `pid` (`0::PATH` in `/proc/PID/cgroup`).
    static func cgroupV2(of pid: Int32) -> String? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8) else { return nil }
        return text.split(separator: "\n").first { $0.hasPrefix("0::") }.map { String($0.dropFirst(3)) }
    }

    /// `/run/srte/agent-<netns cookie>.sock`: one agent per network namespace.
    public static func defaultControlPath(namespaceCookie: UInt64) -> String {
        "/run/srte/agent-\(namespaceCookie).sock"
    }

    /// What `srte agent status` shows: the rules, and per connection its owner (from sock_diag
    /// and `/proc`, where visible) and per subflow its path, TCP state, bytes acked and RTT.
    public func status() -> AgentStatus {
        let subflows = (try? SubflowDiagnostics.all(on: diag)) ?? []
        let owners = (try? MPTCPConnectionDiagnostics.all(on: diag)) ?? []
        let ownerOf = Dictionary(owners.map { ($0.token, $0) }, uniquingKeysWith: { a, _ in a })
        let processes = Processes.owners(ofSocketInodes: Set(connections.keys.compactMap { ownerOf[$0]?.inode }))
        return AgentStatus(
            pid: getpid(),
            rules: policy.rules.enumerated().map { i, r in
                AgentStatus.RuleStatus(index: i + 1, line: r.line, match: "\(r.match)", subflows: r.paths.subflowCount, connections: ruleMatches[i])
            },
            connections: connections.sorted { $0.key < $1.key }.map { token, c in
                let o = ownerOf[token]
                let p = o.flatMap { processes[$0.inode] }
                let pathOf = Dictionary(c.joins.map { ($0.flow, $0.path) }, uniquingKeysWith: { a, _ in a })
                let initial = FourTuple(c.local, c.remote)
                let mine = subflows.filter { $0.token == token }.sorted {
                    let a = FourTuple($0.local, $0.remote), b = FourTuple($1.local, $1.remote)
                    return (a == initial ? 0 : pathOf[a].map { $0 } ?? Int.max) < (b == initial ? 0 : pathOf[b].map { $0 } ?? Int.max)
                }
                return AgentStatus.ConnectionStatus(
                    token: Self.tokenText(token), local: "\(c.local)", remote: "\(c.remote)", rule: c.rule >= 0 ? c.rule + 1 : 0,
                    paths: c.pathTexts,
                    joins: c.joins.map { "[\($0.flow.localAddress)]:\($0.flow.localPort)" },
                    uid: o?.uid, pid: p?.pid, command: p?.command, adopted: c.adopted,
                    subflows: mine.map { s in
                        let flow = FourTuple(s.local, s.remote)
                        let index = flow == initial ? 0 : pathOf[flow]
                        return AgentStatus.SubflowStatus(
                            local: "\(s.local)", remote: "\(s.remote)", path: index.map { $0 + 1 },
                            segments: index.map { c.pathText($0) }, state: SubflowDiagnostics.stateName(s.tcpState),
                            bytesAcked: s.bytesAcked, rttMicroseconds: s.rttMicroseconds)
                    })
            },
            counters: counters,
            steering: { let n = onConnect.entryCounts(); return AgentStatus.SteeringEntries(flows: n.flows, matches: n.matches) }(),
            cpuLatency: cpuLatency)
    }

    /// Answers the control socket's clients without blocking (call it when `controlFD` is
    /// readable, and now and then): a line `status` gets the status as one JSON object, a
    /// binary request the subflow protocol's answer (`SubflowBroker`, Docs/AgentProtocol.md).
    /// A request still incomplete waits for the next call (at most 2 s).
    /// - Parameters:
    ///   - readable: the control clients a poll found readable (`nil`: try every one).
    ///   - listenerReady: whether the poll found a client waiting to be accepted.
    func serveControl(readable: Set<Int32>? = nil, listenerReady: Bool = true) {
        guard controlFD >= 0 else { return }
        broker?.serve(listener: controlFD, readable: readable, listenerReady: listenerReady)
    }

    /// One path-manager event.
    func handle(_ e: MPTCPEvent) {
        guard let token = e.token else { return }
        broker?.publish(e)      // the event streams of the C API (srte_mptcp_event_fd)
        if e.serverSide == true || connections[token] == nil, let reflector {
            // A server-side connection or subflow: steer the replies of what arrived with an SRH.
            if let added = try? reflector.reflect(where: isForeign), !added.isEmpty {
                for f in added { log(Event("reflected", token: token, [("flow", "\(f)"), ("path", reflector.reflected[f].map { $0.map(\.description).joined(separator: ",") } ?? "")])) }
            }
            if e.type == .subflowClosed, let l = e.local, let r = e.remote { reflector.forget(FourTuple(l, r)) }
        }
        switch e.type {
        case .created:
            // (Already known: adopted by a resync before its queued event was read.)
            guard e.serverSide != true, connections[token] == nil, let local = e.local, let remote = e.remote else { return }
            counters.connectionsSeen += 1
            // The connect-time program decided (and recorded) which rule the connection falls under.
            let initial = FourTuple(local, remote)
            let record = onConnect.record(of: initial)
            if record != nil { onConnect.forget(initial) }      // read: the program's record goes
            if let record, record.tag != 0, record.closed {
                // Closed before its event was read: its SYN had the rule's path; nothing to open.
                counters.connectionsClosedEarly += 1
                return
            }
            guard let tag = record?.tag, tag != 0 else {
                if Self.ownPorts.contains(local.port) && ownPortsReserved {
                    log(Event("skipped", token: token, [("local", "\(local)"), ("remote", "\(remote)"), ("why", "srte's own connection")]))
                    return
                }
                counters.connectionsUnmatched += 1
                log(Event("unmatched", token: token, [("local", "\(local)"), ("remote", "\(remote)")]))
                return
            }
            let index = Int(tag) - 1
            guard index < resolved.count, let paths = resolved[index].paths(toward: remote.address) else {
                counters.connectionsUnmatched += 1
                log(Event("unplanned", token: token, [("local", "\(local)"), ("remote", "\(remote)"), ("rule", "\(index + 1)"),
                                                      ("why", "no node of the rule's topology owns the destination")]))
                return
            }
            counters.connectionsEngineered += 1
            ruleMatches[index] += 1
            var c = Connection(rule: index, paths: paths, local: local, remote: remote)
            c.reduced = resolved[index].reduced(toward: remote.address)
            if policy.rules[index].keep {
                c.keep = true
                c.keeper = resolved[index].keeper(toward: remote.address)
            }
            connections[token] = c
            log(Event("matched", token: token, [("local", "\(local)"), ("remote", "\(remote)"), ("rule", "\(index + 1)"),
                                                ("subflows", "\(paths.count)"), ("paths", c.pathTexts.joined(separator: " "))]))
        case .established:
            guard var c = connections[token], !c.opened else { return }
            c.opened = true
            for i in c.paths.indices.dropFirst() { openJoin(token: token, connection: &c, path: i) }
            connections[token] = c
        case .subflowClosed:
            guard var c = connections[token], let l = e.local, let r = e.remote,
                  let i = c.joins.firstIndex(where: { $0.flow == FourTuple(l, r) }) else { return }
            let closed = c.joins.remove(at: i)
            if steering.steeredFlows[closed.flow] != nil { try? steering.unsteer(closed.flow) }    // an adopted one
            connections[token] = c
            log(Event("subflow-closed", token: token, [("local", "\(l)"), ("error", e.error.map { Errno(Int32($0)).message } ?? "none")]))
        case .closed:
            guard let c = connections.removeValue(forKey: token) else { return }
            // Subflows steered by 4-tuple (adopted ones), not by the program: removed here.
            for f in [FourTuple(c.local, c.remote)] + c.joins.map(\.flow) where steering.steeredFlows[f] != nil {
                try? steering.unsteer(f)
            }
            log(Event("closed", token: token, [("remote", "\(c.remote)")]))
        default:
            break
        }
    }

    /// The nodes of `spec`'s topology that own addresses in `prefix` (a host's address, a
    /// router's locator), each with the paths planned to it from `spec.from`, waypoints only
    /// (the connection's destination is appended per connection).
    ///
    /// With compression (`spec.compress`, by default `reduced` when the topology declares C-SIDs)
    /// the lists are planned for the fewest SRH bytes and packed into RFC 9800 containers,
    /// reduced where the first entry is a container — as `srte open --topology` does. An agent
    /// that reflects (`reflect`) sends whole SIDs unless told otherwise, and refuses to be told
    /// otherwise: a reflecting peer cannot reverse containers nor recover a reduced SRH's first
    /// entry (Docs/CompressedSIDs.md).
    /// - Throws: ``AgentError`` when the topology cannot be read, no node can be planned to,
    ///   or compression is asked of a reflecting agent.
    static func plan(_ spec: PlanSpec, covering prefix: IPv6Prefix, rule i: Int, line: Int, reflect: Bool = false) throws -> [PlannedDestination] {
        let what = "rule \(i + 1) (line \(line))"
        var topology: Topology
        do { topology = try spec.loadTopology() } catch { throw AgentError("\(what): \(error.message)") }
        if reflect, let c = spec.compress, c != .off {
            throw AgentError("\(what): compress \(c) with --reflect: an agent that reflects expects its peers to reflect too, and a reflecting server reverses the SRH a flow arrives with, which it cannot do for RFC 9800 containers nor for a reduced SRH (its first waypoint is not in the header). Use compress: off (the default with --reflect), or run this agent without --reflect")
        }
        let compression = spec.compress ?? (topology.hasCSIDs && !reflect ? .reduced : .off)
        if compression != .off {
            do { topology = try topology.compressible() } catch { throw AgentError("\(what): compress \(compression): \(error.message)") }
        }
        let planner = DisjointPathPlanner(topology: topology, metric: spec.metric)
        var out: [PlannedDestination] = []
        for n in topology.nodes where n.name != spec.from {
            guard let owner = PlanSpec.owned(by: n, within: prefix) else { continue }
            let report: PlanReport
            do {
                report = try PlanReport(topology: topology, from: spec.from, to: n.name, k: spec.k, disjoint: spec.disjoint,
                                        metric: spec.metric, planner: planner, encoding: compression.encoding)
            } catch {
                throw AgentError("\(what): planning from \(spec.from) to \(n.name): \(error)")
            }
            guard !report.paths.isEmpty else { continue }
            let wire = report.paths.map { $0.wire(compression, topology: topology) }
            let paths = wire.map { w in w.waypoints.isEmpty ? PathSpec.direct : .segments(w.waypoints) }
            out.append(PlannedDestination(owner: owner, node: n.name, paths: paths, reduced: wire.map(\.reduced),
                                          srhBytes: wire.map(\.srhBytes), compression: compression, report: report))
        }
        guard !out.isEmpty else {
            throw AgentError("\(what): no node of topology \(spec.topology) owns an address in \(prefix) and can be planned to from \(spec.from)")
        }
        return out
    }

    /// Opens one join along path `index` of `c`: SUBFLOW_CREATE from the initial subflow's
    /// address with local port 0, the path armed for the connect-time program, which steers
    /// the join before its SYN and reports its port. Failures are logged with errno and
    /// extended ack; the connection keeps the subflows it has.
    @discardableResult
    func openJoin(token: UInt32, connection c: inout Connection, path index: Int) -> Bool {
        let path = c.paths[index]
        var waypoints: [IPv6Address] = []
        if case .segments(let s) = path { waypoints = s }
        let reduced = c.isReduced(index)
        // Every join of a connection comes from one address with port 0: one local address id
        // (the kernel keeps one entry per address and port and refuses another id for it).
        // The broker's port-0 subflows of the connection from that address share it too.
        if c.joinLocalID == 0 { c.joinLocalID = broker?.anyPortIDs[token]?[c.local.address] ?? 1 }
        for attempt in 0..<2 {
            let local = SocketEndpoint(c.local.address, port: 0)
            let id = c.joinLocalID
            do {
                let (_, port) = try onConnect.connectJoin(to: c.remote, waypoints: waypoints, reduced: reduced) {
                    try pm.createSubflow(token: token, localID: id, local: local, remote: c.remote)
                }
                counters.subflowsOpened += 1
                let flow = FourTuple(local: c.local.address, localPort: port ?? 0, remote: c.remote.address, remotePort: c.remote.port)
                c.joins.append((flow, index))
                log(Event("subflow", token: token, [("local", "[\(c.local.address)]:\(port.map(String.init) ?? "?")"), ("path", c.pathText(index))]))
                return true
            } catch let error as NetlinkError where error.errno == EINVAL && attempt == 0
                        && (error.extAckMessage ?? "").contains("did not match address and id") {
                c.joinLocalID = c.joinLocalID &+ 1      // the address carries another id already: next one
                continue
            } catch {
                counters.subflowsFailed += 1
                log(Event("error", token: token, [("what", "SUBFLOW_CREATE toward \(c.remote) along \(path)"), ("error", "\(error)")]))
                return false
            }
        }
        counters.subflowsFailed += 1
        return false
    }

    /// Removes everything the agent installed: the connect-time program, every steered flow and
    /// MTU route, the control socket, and a path-manager switch (`setPathManager`).
    public func stop() {
        guard !stopped else { return }
        stopped = true
        onConnect.close()
        reflector?.close()
        steering.removeAll()
        subscription.cancel()
        broker?.stop()
        broker = nil
        if controlFD >= 0 {
            close(controlFD)
            controlFD = -1
            if let controlPath { unlink(controlPath) }
        }
        connections.removeAll()
        state?.undo(through: stateWriters)
        state = nil
    }
}

/// Why the agent cannot run.
public struct AgentError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The answer to `srte agent status` (JSON, `schemaVersion` 1).
public struct AgentStatus: Codable, Sendable {
    public var schemaVersion = 1
    public var pid: Int32
    public var rules: [RuleStatus]
    public var connections: [ConnectionStatus]
    public var counters: Agent.Counters
    /// Entries in the kernel now: flows steered by the tc program and match records of the
    /// connect-time program (both 0 once the connections are gone).
    public var steering: SteeringEntries?
    /// The CPU wake-up latency request (µs) the agent's process holds (`--cpu-latency`), if any.
    public var cpuLatency: Int32? = nil

    public struct SteeringEntries: Codable, Sendable {
        public var flows: Int
        public var matches: Int
    }

    public struct RuleStatus: Codable, Sendable {
        public var index: Int
        public var line: Int
        public var match: String
        public var subflows: Int
        /// Connections the rule took since the agent started.
        public var connections: Int
    }

    public struct ConnectionStatus: Codable, Sendable {
        public var token: String
        public var local: String
        public var remote: String
        public var rule: Int
        /// The connection's paths, the initial subflow's first.
        public var paths: [String]
        /// The local endpoints of the joins the agent opened that are still open.
        public var joins: [String]
        /// The owner's uid (sock_diag), its process id and command (`/proc`, where visible).
        public var uid: UInt32?
        public var pid: Int32?
        public var command: String?
        /// Taken over from sock_diag (open before the agent started, or events were lost).
        public var adopted: Bool
        /// Every subflow the kernel reports for the connection.
        public var subflows: [SubflowStatus]
    }

    public struct SubflowStatus: Codable, Sendable {
        public var local: String
        public var remote: String
        /// 1-based index of its path in the connection's paths; `nil` for a subflow the agent
        /// did not open.
        public var path: Int?
        public var segments: String?
        /// TCP state (`established`, `syn-sent`, …).
        public var state: String
        public var bytesAcked: UInt64
        public var rttMicroseconds: UInt32
    }
}

