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
/// - Joins: when the connection is fully established (the ESTABLISHED event; the kernel refuses
///   SUBFLOW_CREATE before), one SUBFLOW_CREATE per further path, each steered before its SYN
///   through `BPFSteering` on a local port the agent picks.
/// - A join that closes, and a connection that closes, lose their steering at once.
///
/// Connections whose initial local port lies in ``ownPorts`` while that range is reserved in
/// the namespace (as `srte open` reserves it, so no program gets such a port by chance) are
/// srte's own, which open their subflows themselves: the agent leaves them alone.
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

    /// Counters for `status`.
    public struct Counters: Sendable, Hashable, Codable {
        public var connectionsSeen = 0
        public var connectionsEngineered = 0
        public var connectionsUnmatched = 0
        public var subflowsOpened = 0
        public var subflowsFailed = 0
    }

    /// The local ports of srte's own connections (its reserved range): not the agent's.
    public static let ownPorts = MultipathConnection.defaultPortRange
    /// Where the agent picks the local ports of the joins it opens. The range is not reserved
    /// (that would be a sysctl left behind by a killed agent): a port the kernel gave to
    /// another socket of the same 4-tuple answers EADDRINUSE, and the agent takes the next.
    public static let joinPorts: ClosedRange<UInt16> = 42000...42999

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

    /// Where a rule's connections go: its listed paths, or per destination node of a planned
    /// rule (the prefix the node owns) the paths planned to it.
    enum Resolved {
        case paths([PathSpec])
        case planned([(owner: IPv6Prefix, node: String, paths: [PathSpec])])

        func paths(toward destination: IPv6Address) -> [PathSpec]? {
            switch self {
            case .paths(let p): return p
            case .planned(let owners): return owners.first { $0.owner.contains(destination) }?.paths
            }
        }
    }
    var resolved: [Resolved]
    struct Connection {
        var rule: Int
        var paths: [PathSpec]
        var local: SocketEndpoint
        var remote: SocketEndpoint
        /// The joins the agent opened and that are open (unsteering one that carries no SRH
        /// does nothing).
        var joins: [FourTuple] = []
        /// The last local address id given to a join (the initial subflow has 0).
        var nextLocalID: UInt8 = 0
        var opened = false
    }
    var connections: [UInt32: Connection] = [:]
    var nextPort = 0
    var stopped = false

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
    public init(policy: AgentPolicy, interface: String? = nil, cgroup: String = SubflowSocketOptions.defaultCgroup,
                control: String? = nil) throws {
        self.policy = policy
        self.ruleMatches = Array(repeating: 0, count: policy.rules.count)
        self.controlPath = control
        let (connectRules, resolved) = try Self.compile(policy)
        self.resolved = resolved
        do throws(SubflowError) { try MPTCPNamespaceState.check() } catch {
            throw AgentError(error.message)
        }
        guard geteuid() == 0 else { throw AgentError("the agent needs root (CAP_NET_ADMIN and CAP_BPF): it subscribes to mptcp_pm_events and loads BPF programs") }
        let egress = try interface ?? RouteTable.egressInterface(toward: policy.rules[0].match.to?.address ?? .unspecified)
        steering = try BPFSteering(interface: egress)
        do {
            onConnect = try ConnectSteering(steering: steering, cgroup: cgroup)
            try onConnect.setRules(connectRules)
            pm = try MPTCPPathManager()
            subscription = try pm.subscribe()
        } catch {
            steering.removeAll()
            throw error
        }
        reservedPorts = try? SysctlFile("net/ipv4/ip_local_reserved_ports")
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
                                           enginePaths: { [unowned self] in self.connections[$0]?.paths },
                                           textAnswer: { [unowned self] in self.textAnswer($0, peer: $1) })
            } catch {
                close(controlFD)
                unlink(control)
                onConnect.close()
                steering.removeAll()
                throw AgentError("control socket: \(error)")
            }
        }
    }

    deinit { stop() }

    /// The connect-time rules and the per-rule paths of `policy`.
    /// - Throws: ``AgentError`` for a rule the agent does not apply yet, a planned rule it
    ///   cannot plan, or more connect-time rules than the program holds.
    static func compile(_ policy: AgentPolicy) throws -> ([ConnectSteering.Rule], [Resolved]) {
        guard !policy.rules.isEmpty else { throw AgentError("the policy has no rules: nothing to engineer") }
        var connectRules: [ConnectSteering.Rule] = []
        var resolved: [Resolved] = []
        for (i, r) in policy.rules.enumerated() {
            guard r.match.from == nil, r.match.uids == nil, r.match.cgroup == nil else {
                throw AgentError("rule \(i + 1) (line \(r.line)): matching on from, uid or cgroup is not applied by the agent yet; match on to and port")
            }
            guard !r.keep else { throw AgentError("rule \(i + 1) (line \(r.line)): keep is not applied by the agent yet") }
            let to = r.match.to ?? IPv6Prefix(address: .unspecified, length: 0)
            let ports = r.match.ports ?? 1...65535
            func waypoints(_ p: PathSpec) -> [IPv6Address] { if case .segments(let s) = p { s } else { [] } }
            switch r.paths {
            case .explicit(let paths):
                resolved.append(.paths(paths))
                connectRules.append(ConnectSteering.Rule(destination: to, ports: ports, waypoints: waypoints(paths[0])))
            case .plan(let spec):
                let owners = try Self.plan(spec, covering: to, rule: i, line: r.line)
                resolved.append(.planned(owners))
                for o in owners { connectRules.append(ConnectSteering.Rule(destination: o.owner, ports: ports, waypoints: waypoints(o.paths[0]))) }
                // The rest of the prefix matches too (first match wins) but cannot be planned to: no SRH.
                connectRules.append(ConnectSteering.Rule(destination: to, ports: ports, waypoints: []))
            }
        }
        guard connectRules.count <= ConnectSteering.maxRules else {
            throw AgentError("the policy needs \(connectRules.count) connect-time rules (one per explicit rule, one per planned destination node and one per planned rule); the program holds \(ConnectSteering.maxRules)")
        }
        return (connectRules, resolved)
    }

    /// Replaces the policy (SIGHUP): new connections follow `new`; open ones keep their paths.
    /// - Throws: ``AgentError`` for a rule the agent cannot apply (the old policy then stays in force).
    public func reload(_ new: AgentPolicy) throws {
        let (connectRules, resolved) = try Self.compile(new)
        try onConnect.setRules(connectRules)
        policy = new
        self.resolved = resolved
        ruleMatches = Array(repeating: 0, count: new.rules.count)
        for k in connections.keys { connections[k]?.rule = -1 }     // their rule may be gone
        log(Event("reloaded", [("rules", "\(new.rules.count)")]))
    }

    /// Handles events until `shouldStop` says so (checked at least every 100 ms).
    public func run(until shouldStop: () -> Bool) {
        while !shouldStop() && !stopped {
            let events: [MPTCPEvent]
            do { events = try subscription.poll(timeout: .milliseconds(100)) } catch {
                log(Event("error", [("what", "reading path-manager events"), ("error", "\(error)")]))
                continue
            }
            for e in events { handle(e) }
            serveControl()
        }
    }

    /// `/run/srte/agent-<netns cookie>.sock`: one agent per network namespace.
    public static func defaultControlPath(namespaceCookie: UInt64) -> String {
        "/run/srte/agent-\(namespaceCookie).sock"
    }

    /// What `srte agent status` shows.
    public func status() -> AgentStatus {
        AgentStatus(
            pid: getpid(),
            rules: policy.rules.enumerated().map { i, r in
                AgentStatus.RuleStatus(index: i + 1, line: r.line, match: "\(r.match)", subflows: r.paths.subflowCount, connections: ruleMatches[i])
            },
            connections: connections.sorted { $0.key < $1.key }.map { token, c in
                AgentStatus.ConnectionStatus(
                    token: String(format: "%08x", token), local: "\(c.local)", remote: "\(c.remote)", rule: c.rule >= 0 ? c.rule + 1 : 0,
                    paths: c.paths.map(\.description),
                    joins: c.joins.map { "[\($0.localAddress)]:\($0.localPort)" })
            },
            counters: counters)
    }

    /// Answers the control socket's clients without blocking (call it when `controlFD` is
    /// readable, and now and then): a line `status` gets the status as one JSON object, a
    /// binary request the subflow protocol's answer (`SubflowBroker`, Docs/AgentProtocol.md).
    /// A request still incomplete waits for the next call (at most 2 s).
    func serveControl() {
        guard controlFD >= 0 else { return }
        broker?.serve(listener: controlFD)
    }

    /// One path-manager event.
    func handle(_ e: MPTCPEvent) {
        guard let token = e.token else { return }
        switch e.type {
        case .created:
            guard e.serverSide != true, let local = e.local, let remote = e.remote else { return }
            counters.connectionsSeen += 1
            if Self.ownPorts.contains(local.port),
               let reserved = try? reservedPorts?.read(), MultipathConnection.reservedPorts(reserved, cover: Self.ownPorts) {
                log(Event("skipped", token: token, [("local", "\(local)"), ("remote", "\(remote)"), ("why", "srte's own connection")]))
                return
            }
            guard let (index, _) = policy.firstMatch(ConnectionFacts(local: local.address, remote: remote.address, remotePort: remote.port)) else {
                counters.connectionsUnmatched += 1
                log(Event("unmatched", token: token, [("local", "\(local)"), ("remote", "\(remote)")]))
                return
            }
            guard let paths = resolved[index].paths(toward: remote.address) else {
                counters.connectionsUnmatched += 1
                log(Event("unplanned", token: token, [("local", "\(local)"), ("remote", "\(remote)"), ("rule", "\(index + 1)"),
                                                      ("why", "no node of the rule's topology owns the destination")]))
                return
            }
            counters.connectionsEngineered += 1
            ruleMatches[index] += 1
            connections[token] = Connection(rule: index, paths: paths, local: local, remote: remote)
            log(Event("matched", token: token, [("local", "\(local)"), ("remote", "\(remote)"), ("rule", "\(index + 1)"),
                                                ("subflows", "\(paths.count)"), ("paths", paths.map(\.description).joined(separator: " "))]))
        case .established:
            guard var c = connections[token], !c.opened else { return }
            c.opened = true
            for path in c.paths.dropFirst() {
                if let j = openJoin(token: token, connection: &c, path: path) { c.joins.append(j) }
            }
            connections[token] = c
        case .subflowClosed:
            guard var c = connections[token], let l = e.local, let r = e.remote,
                  let i = c.joins.firstIndex(of: FourTuple(l, r)) else { return }
            try? steering.unsteer(c.joins.remove(at: i))
            connections[token] = c
            log(Event("subflow-closed", token: token, [("local", "\(l)"), ("error", e.error.map { Errno(Int32($0)).message } ?? "none")]))
        case .closed:
            guard let c = connections.removeValue(forKey: token) else { return }
            for j in c.joins { try? steering.unsteer(j) }
            log(Event("closed", token: token, [("remote", "\(c.remote)")]))
        default:
            break
        }
    }

    /// The nodes of `spec`'s topology that own addresses in `prefix` (a host's address, a
    /// router's locator), each with the paths planned to it from `spec.from`, waypoints only
    /// (the connection's destination is appended per connection).
    /// - Throws: ``AgentError`` when the topology cannot be read or no node can be planned to.
    static func plan(_ spec: PlanSpec, covering prefix: IPv6Prefix, rule i: Int, line: Int) throws -> [(owner: IPv6Prefix, node: String, paths: [PathSpec])] {
        let what = "rule \(i + 1) (line \(line))"
        let topology: Topology
        do { topology = try spec.loadTopology() } catch { throw AgentError("\(what): \(error.message)") }
        let planner = DisjointPathPlanner(topology: topology, metric: spec.metric)
        var out: [(owner: IPv6Prefix, node: String, paths: [PathSpec])] = []
        for n in topology.nodes where n.name != spec.from {
            guard let owner = PlanSpec.owned(by: n, within: prefix) else { continue }
            let report: PlanReport
            do {
                report = try PlanReport(topology: topology, from: spec.from, to: n.name, k: spec.k, disjoint: spec.disjoint,
                                        metric: spec.metric, planner: planner)
            } catch {
                throw AgentError("\(what): planning from \(spec.from) to \(n.name): \(error)")
            }
            guard !report.paths.isEmpty else { continue }
            let paths = report.paths.map { p in p.waypoints.isEmpty ? PathSpec.direct : .segments(p.waypoints) }
            out.append((owner, n.name, paths))
        }
        guard !out.isEmpty else {
            throw AgentError("\(what): no node of topology \(spec.topology) owns an address in \(prefix) and can be planned to from \(spec.from)")
        }
        return out
    }

    /// Opens one join along `path`, steered before its SYN; `nil` (logged) when it fails. Each
    /// attempt takes a new local port and a new local address id of the connection (the kernel
    /// ties an id to one address and port).
    func openJoin(token: UInt32, connection c: inout Connection, path: PathSpec) -> FourTuple? {
        var srh: SegmentRoutingHeader? = nil
        if case .segments(let s) = path {
            do { srh = try SegmentRoutingHeader(path: s + [c.remote.address], nextHeader: UInt8(IPPROTO_TCP)) } catch {
                counters.subflowsFailed += 1
                log(Event("error", token: token, [("what", "the SRH of path \(path)"), ("error", "\(error)")]))
                return nil
            }
        }
        for _ in 0..<16 where c.nextLocalID < 255 {
            let port = Self.joinPorts.lowerBound + UInt16(nextPort % Self.joinPorts.count)
            nextPort += 1
            c.nextLocalID += 1
            let flow = FourTuple(local: c.local.address, localPort: port, remote: c.remote.address, remotePort: c.remote.port)
            if let srh {
                do { try steering.steer(flow, along: srh) } catch {
                    counters.subflowsFailed += 1
                    log(Event("error", token: token, [("what", "steering \(flow)"), ("error", "\(error)")]))
                    return nil
                }
            }
            do throws(NetlinkError) {
                try pm.createSubflow(token: token, localID: c.nextLocalID, local: SocketEndpoint(c.local.address, port: port), remote: c.remote)
                counters.subflowsOpened += 1
                log(Event("subflow", token: token, [("local", "[\(c.local.address)]:\(port)"), ("path", "\(path)")]))
                return flow
            } catch {
                try? steering.unsteer(flow)
                if error.errno == EADDRINUSE { continue }     // busy or in TIME_WAIT: the next port
                counters.subflowsFailed += 1
                log(Event("error", token: token, [("what", "SUBFLOW_CREATE [\(c.local.address)]:\(port)"), ("error", "\(error)")]))
                return nil
            }
        }
        counters.subflowsFailed += 1
        log(Event("error", token: token, [("what", "SUBFLOW_CREATE"), ("error", "no free local port or address id left for this connection")]))
        return nil
    }

    /// Removes everything the agent installed: the connect-time program, every steered flow and
    /// MTU route.
    public func stop() {
        guard !stopped else { return }
        stopped = true
        onConnect.close()
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
    }
}

