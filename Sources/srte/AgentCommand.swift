import ArgumentParser
import Dispatch
import Foundation
import Glibc
import LinuxSystem
import Logging
import PathAgent
import ServiceLifecycle
import SRv6Paths
import SubflowSteering

/// `srte agent`: the path manager for any program's MPTCP connections.
struct AgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Path-manager agent: policies that give matching MPTCP connections of any program their engineered paths.",
        discussion: """
        A policy is a YAML file of rules; the first rule that matches a connection (destination \
        prefix, port or port range, source prefix, owner uid or cgroup) decides its subflows: \
        listed paths (SID lists in path order, or direct for the IGP path) or k disjoint paths \
        planned from a topology. Connections no rule matches are left alone.

          rules:
            - match: { to: "fc00:2::/64", port: 5201 }
              paths: [[fc00:0:b::1], [fc00:0:c::1], direct]
            - match: { to: "fc00:0:1::/48" }
              plan: { topology: topologies/abilene.yaml, from: Sunnyvale, k: 3, disjoint: node }
              keep: true
            - match: { to: "fc00:2::/64" }
              plan: { topology: diamond-csid.yaml, from: h1, k: 3, compress: reduced }

        `srte agent [run] --to PREFIX --path SEGS...` or `--policy FILE` runs the agent in the \
        foreground (root): the initial subflow of a matching connection carries the rule's first \
        path from its SYN on (a cgroup sock_ops program), and one join per further path opens as \
        soon as the connection is fully established (the client or the server has sent data), each \
        steered before its SYN. One line per event goes to stderr. SIGINT and SIGTERM stop it \
        gracefully (exit 0) and remove everything it installed. `srte agent check FILE` validates a policy without root.

        `srte agent status` asks the running agent (exit 0 once it answers; scripts poll it). \
        The same control socket serves the C API (libsrte-mptcp): programs that are not root \
        open and close subflows of their own connections, set their options and priority and \
        follow their events, as the policy's `grants:` allow \
        (Docs/AgentProtocol.md). \
        SIGHUP reads the policy file again (open connections keep their paths; a bad file is \
        logged and the old policy stays). A rule's uid and cgroup are those of the process that \
        calls connect(). With `keep: true` a subflow that stalls (bytes in flight, nothing \
        acknowledged for 500 ms) is replaced make-before-break: on a path re-planned around its \
        links for a planned rule, on the same path for listed ones.
        """,
        subcommands: [Run.self, Status.self, Check.self],
        defaultSubcommand: Run.self
    )

    /// `srte agent [run]`: the daemon, in the foreground.
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the agent in the foreground (root): engineer matching MPTCP connections of any program.",
            discussion: """
            Examples (in a lab made by `srte testbed up topologies/diamond.yaml`):
              srte agent --netns diamond-h1 --to fc00:2::/64 --port 5201 --path fc00:0:b::1 --path fc00:0:c::1
              srte agent --netns diamond-h1 --policy policy.yaml --format json
              srte agent --netns diamond-h1 --topology topologies/diamond.yaml --node h1 -k 3 --disjoint node --to fc00:2::/64 --keep
              srte agent --netns diamond-h1 --topology diamond-csid.yaml --node h1 -k 3 --disjoint node --to fc00:2::/64 --compress reduced

            With a topology that declares csid: (RFC 9800 C-SIDs; `srte testbed up --csid` gives \
            the lab's routers NEXT-C-SID End/End.X) the planned lists are chosen for the fewest \
            SRH bytes and sent as containers, reduced by default: the connection's packets carry \
            the first container as Destination Address and only the rest in the SRH, from the SYN \
            on, on the joins and on --keep's replacements.

            SEGS is a comma-separated SID list in path order, or `direct` for the IGP path; the \
            first --path is the initial subflow's. The namespace must use the userspace MPTCP path \
            manager (net.mptcp.pm_type=1; --set-pm switches it and restores it on exit). \
            On start the agent adopts the MPTCP connections already open that the policy matches \
            (a restarted agent's): their subflows are steered again by 4-tuple, in path order, and \
            joins open for the paths they lack. Subflows survive the agent, but not their SRHs: \
            the steering dies with the agent's BPF programs, so until an agent runs again they \
            take the IGP path. Use --netns rather than `ip netns exec`: the latter \
            hides the cgroup v2 mount the connect-time program attaches to. srte's own connections \
            (`srte open`: local ports \(Agent.ownPorts.lowerBound)-\(Agent.ownPorts.upperBound) while the namespace \
            reserves that range) are left to srte.

            The log goes to stderr, one line per event: `srte agent: KIND key=value …`, or with \
            --format json one JSON object per line, {"event": KIND, fields…, "time": UTC with \
            microseconds, e.g. "2026-12-07T02:55:01.123456Z"}.
            """)

        @Option(help: ArgumentHelp("Engineer connections to this prefix (with --path).", valueName: "PREFIX"))
        var to: String?

        @Option(help: ArgumentHelp("With --to: only connections to this port or range (e.g. 5201 or 5201-5210).", valueName: "PORT"))
        var port: String?

        @Option(name: .customLong("path"), help: ArgumentHelp("A path for one subflow: SIDs in path order, comma-separated, or direct. Repeat, in subflow order.", valueName: "SEGS"))
        var paths: [String] = []

        @Option(help: ArgumentHelp("A policy file instead of --to/--path.", valueName: "FILE"))
        var policy: String?

        @Option(help: ArgumentHelp("Plan the paths instead of listing them: k disjoint paths from --node to whichever node of this topology owns the destination (a one-rule policy; --to defaults to every destination).", valueName: "FILE"))
        var topology: String?

        @Option(help: ArgumentHelp("With --topology: this host's node in it.", valueName: "NAME"))
        var node: String?

        @Option(name: .short, help: ArgumentHelp("With --topology: how many disjoint paths (subflows).", valueName: "N"))
        var k: Int = 2

        @Option(help: ArgumentHelp("With --topology: link or node disjoint.", valueName: "link|node"))
        var disjoint: Disjointness = .link

        @Option(help: ArgumentHelp("With --topology: the metric paths are planned on.", valueName: "igp|te|delay"))
        var metric: PathMetric = .igp

        @Flag(help: "Replace a subflow that stalls, make-before-break (on a re-planned path with --topology, else on the same path).")
        var keep = false

        @Option(help: ArgumentHelp("With --topology: segment lists as whole SIDs (off), RFC 9800 NEXT-C-SID containers in a full SRH (full), or containers with the first only as Destination Address (reduced: RFC 8754 reduced SRH), for the initial subflow, the joins and --keep's replacements, as `srte open --compress`. Default: reduced when the topology declares csid:, else off; off with --reflect (which refuses full and reduced: a reflecting peer cannot reverse them). Policy files: compress: in plan:.", valueName: "off|full|reduced"))
        var compress: SRHCompression?

        @Option(help: ArgumentHelp("Enter this network namespace first (/run/netns/NAME).", valueName: "NAME"))
        var netns: String?

        @Option(help: ArgumentHelp("The egress interface for steering (default: toward the first rule's destination).", valueName: "IF"))
        var interface: String?

        @Option(help: ArgumentHelp("The cgroup v2 directory whose programs are engineered (default: the cgroup v2 root).", valueName: "PATH"))
        var cgroup: String?

        @Option(name: .customLong("for"), help: ArgumentHelp("Stop after this many seconds (scripts, experiments).", valueName: "SECONDS"))
        var duration: Double?

        @Flag(help: "Server side: accept joins (the agent's subscription is what the kernel asks for) and send the replies of every flow that arrives with an SRH back along its reverse. Rules become optional.")
        var reflect = false

        @Flag(help: "Switch the namespace to the userspace MPTCP path manager if it is not, and restore it on exit (or `srte cleanup` after a SIGKILL).")
        var setPm = false

        @Option(help: ArgumentHelp("The control socket `srte agent status` asks (default: /run/srte/agent-<namespace cookie>.sock, one per network namespace).", valueName: "PATH"))
        var socket: String?

        @Option(help: ArgumentHelp("While the agent runs, hold a CPU wake-up latency request of at most this many microseconds (/dev/cpu_dma_latency, PM QoS; 0: idle CPUs poll instead of sleeping), so that a CPU woken for a C API request answers at once — at the price of idle CPUs' power (on a virtual machine, host CPU time). The kernel drops it when the agent exits, however it exits.", valueName: "MICROSECONDS"))
        var cpuLatency: Int32?

        @OptionGroup var output: FormatOptions

        func validate() throws {
            if let l = cpuLatency, l < 0 { throw ValidationError("--cpu-latency \(l): a number of microseconds, 0 or more") }
            if policy != nil && (to != nil || !paths.isEmpty || port != nil || topology != nil || keep || compress != nil) {
                throw ValidationError("give either --policy or --to/--path (or --topology), not both")
            }
            if topology != nil {
                guard node != nil else { throw ValidationError("--topology needs --node NAME: this host's node in the topology") }
                guard paths.isEmpty else { throw ValidationError("give either --path (listed paths) or --topology (planned paths), not both") }
                guard (1...AgentPolicy.maxSubflows).contains(k) else { throw ValidationError("-k \(k): a connection has 1 to \(AgentPolicy.maxSubflows) subflows") }
            } else if node != nil {
                throw ValidationError("--node goes with --topology")
            } else if compress != nil {
                throw ValidationError("--compress packs planned lists: it needs --topology (give containers to --path yourself; in a policy file: compress: in plan:)")
            }
            if policy == nil && topology == nil && !(reflect && to == nil && paths.isEmpty) {
                guard to != nil, !paths.isEmpty else { throw ValidationError("give --to PREFIX and at least one --path, or --policy FILE (or only --reflect on a server)") }
                guard paths.count <= AgentPolicy.maxSubflows else {
                    throw ValidationError("\(paths.count) --path options: a connection has at most \(AgentPolicy.maxSubflows) subflows")
                }
            } else if !paths.isEmpty && topology == nil {
                throw ValidationError("--path goes with --to")
            }
            if port != nil && to == nil { throw ValidationError("--port goes with --to") }
            if let d = duration, !(d > 0 && d <= 86_400 * 365) { throw ValidationError("--for must be a positive number of seconds") }
        }

        func makePolicy() throws -> AgentPolicy {
            if let topology, let node {
                let prefix: IPv6Prefix
                do { prefix = try to.map { try Match.parsePrefix($0) } ?? IPv6Prefix(address: .unspecified, length: 0) } catch { throw CLIFailure.input("--to \(to!): \(error)") }
                let spec = PlanSpec(topology: topology, from: node, k: k, disjoint: disjoint, metric: metric, compress: compress)
                let p = AgentPolicy(rules: [Rule(match: Match(to: prefix, ports: try ports()), paths: .plan(spec), keep: keep)])
                do { _ = try p.check(file: topology) } catch {
                    throw CLIFailure.input("--topology \(topology) --node \(node): \(error.message.replacingOccurrences(of: "rule 1: ", with: "").replacingOccurrences(of: "('from' names this host's node)", with: "(--node names this host's node)"))")
                }
                return p
            }
            if policy == nil && to == nil { return AgentPolicy(rules: []) }
            if let policy {
                let p = try AgentPolicy(contentsOf: policy)
                _ = try p.check(file: policy)
                return p
            }
            let prefix: IPv6Prefix
            do { prefix = try Match.parsePrefix(to!) } catch { throw CLIFailure.input("--to \(to!): \(error)") }
            let ports = try ports()
            var specs: [PathSpec] = []
            for p in paths {
                do { specs.append(try PathSpec(parsing: p)) } catch { throw CLIFailure.input("--path \(p): \(error)") }
            }
            return AgentPolicy.oneRule(to: prefix, port: ports, paths: specs, keep: keep)
        }

        /// `--port PORT` or `FIRST-LAST`, if given.
        func ports() throws -> ClosedRange<UInt16>? {
            guard let port else { return nil }
            do {
                let r = try Match.parseRange(port, within: 1...65535)
                return UInt16(r.lowerBound)...UInt16(r.upperBound)
            } catch { throw CLIFailure.input("--port \(port): \(error.message)") }
        }

        func run() throws {
            let policy = try makePolicy()
            if let netns {
                do { try NetworkNamespace.enter(netns) } catch { throw CLIFailure.system("network namespace \(netns): \(error)") }
            }
            var latency: CPULatencyRequest? = nil
            if let cpuLatency {
                do { latency = try CPULatencyRequest(microseconds: cpuLatency) } catch {
                    throw CLIFailure.system("--cpu-latency \(cpuLatency): \(error)")
                }
            }
            defer { latency?.release() }
            let agent: Agent
            do {
                let control = try socket ?? Agent.defaultControlPath(namespaceCookie: NetworkNamespace.currentCookie())
                agent = try Agent(policy: policy, interface: interface, cgroup: cgroup ?? SubflowSocketOptions.defaultCgroup,
                                  control: control, setPathManager: setPm, reflect: reflect)
            } catch let e as AgentError {
                throw CLIFailure.system(e.message)
            }
            agent.cpuLatency = latency?.microseconds
            // swift-log for the events, swift-service-lifecycle for signals and shutdown.
            let json = output.isJSON
            let logger = Logger(label: "srte.agent") { _ in AgentLogHandler(json: json) }
            var quiet = Logger(label: "srte.agent.lifecycle") { _ in AgentLogHandler(json: json) }
            quiet.logLevel = .warning
            let command = UncheckedBox(self)
            let service = AgentService(agent: agent, logger: logger, reload: { try command.value.makePolicy() },
                                       until: duration.map { ContinuousClock.now + .milliseconds(Int64($0 * 1000)) })
            AgentService.emit(Agent.Event("started", [("rules", "\(policy.rules.count)"), ("netns", netns ?? "(this)"),
                                                      ("socket", agent.controlPath ?? "none")]
                                                     + (latency.map { [("cpuLatency", "\($0.microseconds)us")] } ?? [])), to: logger)
            for e in agent.plannedEvents() { AgentService.emit(e, to: logger) }
            // Connections already open (a restarted agent's): adopted where the policy matches.
            agent.resync()
            let group = ServiceGroup(configuration: ServiceGroupConfiguration(
                services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: quiet))
            do { try runBlocking { try await group.run() } } catch {
                agent.stop()
                throw CLIFailure.system("the agent stopped: \(error)")
            }
        }

    }

    /// `srte agent status`: ask the running agent.
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the running agent's rules, connections and counters (exit 0 once it answers).",
            discussion: """
            Asks the agent of this network namespace (or of --netns NAME) over its control socket. \
            Any user may ask; a user other than root sees the rules and counters and only the \
            connections it owns. Exit status: 0 the agent answered, 3 no agent runs there. \
            --format json prints the agent's answer (schemaVersion 1).
            """)

        @Option(help: ArgumentHelp("Ask the agent of this network namespace (/run/netns/NAME).", valueName: "NAME"))
        var netns: String?

        @Option(help: ArgumentHelp("The agent's control socket (default: the namespace's).", valueName: "PATH"))
        var socket: String?

        @OptionGroup var output: FormatOptions

        func run() throws {
            if let netns {
                do { try NetworkNamespace.enter(netns) } catch { throw CLIFailure.system("network namespace \(netns): \(error)") }
            }
            let path = try socket ?? Agent.defaultControlPath(namespaceCookie: NetworkNamespace.currentCookie())
            let answer: [UInt8]
            do {
                let fd = try UnixSocket.connect(to: path)
                defer { close(fd) }
                try UnixSocket.writeAll(fd, Array("status\n".utf8))
                answer = try UnixSocket.readAll(fd)
            } catch {
                throw CLIFailure.system("no agent answers at \(path) (\(error.errno.message)): is `srte agent` running in this namespace?")
            }
            let status: AgentStatus
            do { status = try JSONDecoder().decode(AgentStatus.self, from: Data(answer)) } catch {
                throw CLIFailure.system("the agent at \(path) answered something else: \(String(decoding: answer.prefix(200), as: UTF8.self))")
            }
            let out = StdoutBuffer()
            if output.isJSON {
                out.line(String(decoding: answer, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
            } else {
                let c = status.counters
                out.line("srte agent (pid \(status.pid)): \(status.rules.count) rule(s), \(status.connections.count) engineered connection(s) open"
                         + (status.cpuLatency.map { "; holds a CPU wake-up latency request of \($0) µs" } ?? ""))
                for r in status.rules {
                    out.line("  rule \(r.index)\(r.line > 0 ? " (line \(r.line))" : ""): \(r.match) → \(r.subflows) subflow(s); \(r.connections) connection(s)")
                }
                for k in status.connections {
                    let owner = [k.command.map { "\($0)" }, k.pid.map { "pid \($0)" }, k.uid.map { "uid \($0)" }].compactMap { $0 }.joined(separator: " ")
                    out.line("  \(k.token) \(k.local) → \(k.remote) rule \(k.rule)\(owner.isEmpty ? "" : " (\(owner))")\(k.adopted ? " adopted" : ""): \(k.paths.joined(separator: " | "))")
                    for s in k.subflows {
                        let rtt = String(format: "%.1f ms", Double(s.rttMicroseconds) / 1000)
                        out.line("    \(s.local) path \(s.path.map(String.init) ?? "-") [\(s.segments ?? "not the agent's")] \(s.state), \(s.bytesAcked) bytes acked, rtt \(rtt)")
                    }
                }
                out.line("  seen \(c.connectionsSeen), engineered \(c.connectionsEngineered), unmatched \(c.connectionsUnmatched), adopted \(c.connectionsAdopted), closed before their event was read \(c.connectionsClosedEarly); subflows opened \(c.subflowsOpened), failed \(c.subflowsFailed), replaced \(c.subflowsReplaced); resyncs \(c.resyncs)")
            }
            out.flush()
        }
    }

    /// `srte agent check FILE`: validate a policy without root.
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a policy file and print its rules (errors name file:line:column).",
            discussion: """
            Checks the YAML, every key and value, and for planned rules the topology file (read \
            relative to the policy's directory), its `from` node, and that some node of it owns an \
            address in the rule's `to` prefix. Notes rules that can never match because an earlier \
            rule takes all their connections. Exit status: 0 valid, 2 not.
            """)

        @Argument(help: "The policy file.")
        var file: String

        @OptionGroup var output: FormatOptions

        func run() throws {
            let policy = try AgentPolicy(contentsOf: file)
            let notes = try policy.check(file: file)
            let out = StdoutBuffer()
            if output.isJSON {
                out.line(JSON.object([
                    ("file", .string(file)),
                    ("rules", .array(policy.rules.map(Self.json))),
                    ("grants", .array(policy.grants.map { g in
                        .object([("line", .int(g.line)), ("uids", .array([.int(Int(g.uids.lowerBound)), .int(Int(g.uids.upperBound))])),
                                 ("sids", .array(g.sids.map { .string($0.description) })), ("subflows", .int(g.subflows)),
                                 ("marks", g.marks.map { .array([.int(Int($0.lowerBound)), .int(Int($0.upperBound))]) } ?? .null)])
                    })),
                    ("notes", .array(notes.map { .string($0) })),
                ]).pretty)
            } else {
                out.line("\(file): \(policy.rules.count) rule\(policy.rules.count == 1 ? "" : "s"), valid")
                for (i, r) in policy.rules.enumerated() {
                    out.line("  \(i + 1). line \(r.line): \(r.match) → \(Self.describe(r.paths))\(r.keep ? ", keep" : "")")
                }
                if policy.grants.isEmpty {
                    out.line("  grants: none (only root may open or close subflows through the agent)")
                } else {
                    out.line("  grants (first match per uid; root may do everything):")
                    for g in policy.grants { out.line("    line \(g.line): \(g)") }
                }
                for n in notes { out.line("note: \(n)") }
            }
            out.flush()
        }

        static func describe(_ p: Rule.Paths) -> String {
            switch p {
            case .explicit(let paths):
                return "\(paths.count) subflow\(paths.count == 1 ? "" : "s"): " + paths.map { "[\($0)]" }.joined(separator: " ")
            case .plan(let s):
                return "\(s.k) \(s.disjoint.rawValue)-disjoint paths planned from \(s.topology) (node \(s.from), metric \(s.metric.rawValue)\(s.compress.map { ", compress \($0)" } ?? ""))"
            }
        }

        static func json(_ r: Rule) -> JSON {
            var match: [(String, JSON)] = []
            if let to = r.match.to { match.append(("to", .string(to.description))) }
            if let p = r.match.ports { match.append(("ports", .array([.int(Int(p.lowerBound)), .int(Int(p.upperBound))]))) }
            if let f = r.match.from { match.append(("from", .string(f.description))) }
            if let u = r.match.uids { match.append(("uids", .array([.int(Int(u.lowerBound)), .int(Int(u.upperBound))]))) }
            if let c = r.match.cgroup { match.append(("cgroup", .string(c))) }
            var fields: [(String, JSON)] = [("line", .int(r.line)), ("match", .object(match))]
            switch r.paths {
            case .explicit(let paths):
                fields.append(("paths", .array(paths.map { p in
                    switch p {
                    case .direct: .string("direct")
                    case .segments(let s): .array(s.map { .string($0.description) })
                    }
                })))
            case .plan(let s):
                fields.append(("plan", .object([("topology", .string(s.topology)), ("from", .string(s.from)), ("k", .int(s.k)),
                                                 ("disjoint", .string(s.disjoint.rawValue)), ("metric", .string(s.metric.rawValue)),
                                                 ("compress", s.compress.map { .string($0.rawValue) } ?? .null)])))
            }
            fields.append(("subflows", .int(r.paths.subflowCount)))
            fields.append(("keep", .bool(r.keep)))
            return .object(fields)
        }
    }
}
