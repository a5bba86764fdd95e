import ArgumentParser
import SRv6Paths
import SubflowSteering

import Glibc
import LinuxSystem

/// `srte open`: one MPTCP connection whose subflows each follow an engineered path.
struct OpenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "open",
        abstract: "Open one MPTCP connection with one subflow per engineered path, send data, report per subflow.",
        discussion: """
        Explicit paths: the i-th --path is the segment list of the i-th subflow (waypoint SIDs in \
        path order; the destination is appended), the first being the initial subflow; \
        '--path direct' means no SRH (the IGP path).
          srte open --to [fc00:2::2]:5201 --path direct --path fc00:0:b::1 --path fc00:0:c::1

        Planned paths: plan k disjoint paths in a topology file (as `srte plan`) and open one \
        subflow per path, from the node this runs on to a host. A path the IGP already takes \
        gets no SRH; the others carry theirs.
          srte open --topology topologies/diamond.yaml --from h1 --to h2 -k 3

        Failures (--keep, with --topology): a subflow with data in flight and no acknowledgement \
        for --stall-timeout ms is declared failed; srte re-plans around the links of its path \
        that no working subflow uses (disjoint from the working paths when possible), opens a \
        replacement subflow steered onto the new path, and then closes the failed one \
        (make-before-break). The data is srte's verifiable pattern: `srte serve --verify` \
        checks every byte.
          srte open --topology topologies/diamond.yaml --from h1 --to h2 -k 2 --keep

        Steering (installed before each subflow's SYN, removed on exit, SIGINT, SIGTERM and SIGHUP):
          route  a policy rule per 4-tuple and a seg6 inline route (the kernel handles the MTU)
          bpf    a tc egress BPF program inserting the SRH (TCX link: gone even after SIGKILL);
                 the route MTU toward the peer is lowered by the SRH size
        Needs root, and the namespace on the userspace path manager (net.mptcp.pm_type=1). The \
        receiver must accept joins (on the userspace path manager it does only while some process \
        on its host subscribes to mptcp_pm_events, as `srte serve` does) and have seg6_enabled on \
        `all` and on its interface.
        """
    )

    /// `--steer`: the library's mechanisms (`route`, `bpf`); nil = route where the kernel has seg6
    /// routes, else bpf (`SteeringMechanism.make(_:egress:)`).
    typealias Steer = SteeringMechanism

    @Option(help: ArgumentHelp("The peer: [ADDR]:PORT, or a node name with --topology (port from --port).", valueName: "[ADDR]:PORT|NODE"))
    var to: String

    @Option(name: .customLong("path"), help: ArgumentHelp("A subflow's waypoint SIDs, comma-separated, or 'direct'. Repeat: one per subflow.", valueName: "SID[,SID...]|direct"))
    var paths: [String] = []

    @Option(help: ArgumentHelp("Plan the paths in this topology file instead of giving them.", valueName: "FILE"))
    var topology: String?

    @Option(help: ArgumentHelp("With --topology: the node this runs on.", valueName: "NODE"))
    var from: String?

    @Option(name: .short, help: "With --topology: number of disjoint paths (subflows).")
    var k: Int = 2

    @Option(help: "With --topology: link, node or srlg disjointness.")
    var disjoint: Disjointness = .link

    @Option(help: "With --topology: the peer's port.")
    var port: UInt16 = 5201

    @Option(help: ArgumentHelp("With --topology: segment lists as whole SIDs (off), RFC 9800 NEXT-C-SID containers in a full SRH (full), or containers with the first only as Destination Address (reduced: RFC 8754 reduced SRH, BPF steering only). Default: reduced when the topology declares csid:, else off. Toward a `srte serve --reflect` server use off: it cannot recover a reduced SRH's first entry nor reverse a container.", valueName: "MODE"))
    var compress: SRHCompression?

    @Option(help: "Steering mechanism (default: route where the kernel has seg6 routes, else bpf).")
    var steer: Steer?

    @Option(help: ArgumentHelp("Local address (default: the kernel's source address toward the peer).", valueName: "ADDR"))
    var source: String?

    @Option(help: ArgumentHelp("Interface for --steer bpf (default: the one the route toward the peer uses).", valueName: "IFACE"))
    var dev: String?

    @Option(help: "Bytes to send (default 100 MB).")
    var bytes: Int = 100_000_000

    @OptionGroup var failover: FailoverOptions

    @Option(name: .customLong("cc"), help: ArgumentHelp("TCP congestion control of every subflow (default: the namespace's; see /proc/sys/net/ipv4/tcp_available_congestion_control).", valueName: "NAME"))
    var congestionControl: String?

    @OptionGroup var output: FormatOptions

    func validate() throws {
        guard bytes > 0 else { throw ValidationError("--bytes \(bytes): send at least one byte") }
        if failover.keep && topology == nil { throw ValidationError("--keep re-plans around failures: it needs --topology") }
        if topology != nil {
            guard paths.isEmpty else { throw ValidationError("give either --path or --topology, not both") }
            guard from != nil else { throw ValidationError("--topology needs --from NODE (the node this runs on)") }
            guard k >= 1 else { throw ValidationError("-k \(k): at least one path") }
        } else {
            if compress != nil { throw ValidationError("--compress packs planned lists: it needs --topology (give containers to --path yourself)") }
            guard !paths.isEmpty else { throw ValidationError("give one --path per subflow ('direct' for none), or --topology") }
        }
    }

    func run() throws {
        TerminationGuard.install()
        guard geteuid() == 0 else {
            throw CLIFailure.system("srte open installs steering in the kernel and drives the MPTCP path manager: run it as root")
        }
        do { try MPTCPNamespaceState.check() } catch { throw CLIFailure.system(error) }
        let (remote, plan, planned, wire, compression) = try destinationAndPaths()
        let local: IPv6Address? = try source.map { s in
            do { return try IPv6Address(parsing: s) } catch { throw InContext("--source", error) }
        }
        let needsSteering = failover.keep || plan.contains { !$0.isEmpty }
        var steering: SRHSteering? = nil
        // Only when something is steered (choosing the default installs a throw-away route).
        var mechanism: Steer? = nil
        if needsSteering {
            do {
                (mechanism, steering) = try Steer.make(self.steer) { try egressInterface(toward: remote.address) }
            } catch let e as InContext { throw e } catch {
                throw InContext("cannot set up \(self.steer?.rawValue ?? "route or bpf") steering", error, code: ExitStatus.system)
            }
        }
        // srte's local port range, reserved while srte uses it here and given back by the last user.
        let reservation: PortReservation
        do { reservation = try PortReservation() } catch {
            throw CLIFailure.system("cannot reserve srte's local ports (net.ipv4.ip_local_reserved_ports): \(error)")
        }
        // On SIGINT/SIGTERM/SIGHUP the guard's thread removes the steering, then exits.
        let box = UncheckedBox(steering)
        let token = TerminationGuard.onTermination { box.value?.removeAll(); reservation.release() }
        defer { TerminationGuard.remove(token); steering?.removeAll(); reservation.release() }

        var reduced = wire.map(\.reduced)
        if reduced.contains(true), !(steering is BPFSteering) {
            diagnose("srte: note: \(mechanism?.rawValue ?? "this") steering sends no reduced SRHs: the compressed lists travel in full SRHs")
            reduced = []
        }
        diagnose("srte: opening \(plan.count) subflow(s) to \(remote) (\(mechanism.map { "steering: \($0)" } ?? "no steering"))")
        let connection: EngineeredConnection
        do {
            // Replacements are packed like the paths (full SRHs where the steering sends no reduced ones).
            let keeper = planned.map { PathKeeper(plan: $0, compression: compression == .reduced && reduced.isEmpty ? .full : compression) }
            let labels: [String?] = planned.map { r in r.paths.map { keeper!.hops($0.path) } } ?? []
            connection = try EngineeredConnection.open(to: remote, from: local, paths: plan, steering: steering,
                                                       congestionControl: congestionControl, labels: labels, reduced: reduced)
            if failover.keep, let keeper {
                connection.keep = keeper.policy(stallTimeout: failover.stallDuration, onEvent: { diagnose("srte: \($0)") })
            }
        } catch { throw CLIFailure.system(error) }
        defer { connection.close() }
        diagnose("srte: \(connection.subflows.count) subflow(s) up; sending \(bytes) bytes")
        let report: EngineeredConnection.Report
        do { report = try connection.send(totalBytes: bytes) } catch { throw CLIFailure.system(error) }
        let out = StdoutBuffer()
        switch output.format {
        case .json: out.line(OpenReport.json(report).rendered)
        case .text: out.line(OpenReport.text(report))
        }
    }

    /// The peer, the per-subflow waypoint lists, the plan they came from, the lists as sent and
    /// how they are packed (with --topology).
    func destinationAndPaths() throws -> (SocketEndpoint, [[IPv6Address]], PlanReport?, [WireSegmentList], SRHCompression) {
        if let file = topology, let from {
            var topo = try loadTopology(file)
            let compression = compress ?? (topo.hasCSIDs ? .reduced : .off)
            if compression != .off {
                do { topo = try topo.compressible() } catch { throw CLIFailure.input("--compress \(compression): \(error.message)") }
            }
            guard let dst = topo.index(of: to) else { throw CLIFailure.input("--to '\(to)' is not a node of \(topo.name)") }
            let report = try PlanReport(topology: topo, from: from, to: to, k: k, disjoint: disjoint,
                                        encoding: compression.encoding)
            guard !report.paths.isEmpty else { throw CLIFailure.negative("no path from \(from) to \(to) in \(topo.name)") }
            if report.paths.count < k { diagnose("srte: only \(report.paths.count) of \(k) disjoint paths exist: opening \(report.paths.count) subflow(s)") }
            for n in report.notes { diagnose("srte: note: \(n)") }
            let address = topo.destinationAddress(ofNode: dst)
            let wire = report.paths.map { $0.wire(compression, topology: topo) }
            if compression != .off {
                diagnose("srte: segment lists \(compression): SRH bytes per packet \(wire.map { String($0.srhBytes) }.joined(separator: ", "))")
            }
            return (SocketEndpoint(address, port: port), wire.map(\.waypoints), report, wire, compression)
        }
        let remote = try parseEndpoint(to, option: "--to")
        guard remote.address != .unspecified else { throw CLIFailure.input("--to needs an address: [ADDR]:PORT") }
        var lists: [[IPv6Address]] = []
        for (i, p) in paths.enumerated() {
            if p == "direct" { lists.append([]); continue }
            var sids: [IPv6Address] = []
            for part in p.split(separator: ",", omittingEmptySubsequences: false) {
                do { sids.append(try IPv6Address(parsing: String(part))) } catch { throw InContext("--path #\(i + 1)", error) }
            }
            lists.append(sids)
        }
        return (remote, lists, nil, [], .off)
    }

    func egressInterface(toward address: IPv6Address) throws -> String {
        if let dev { return dev }
        do { return try RouteTable.egressInterface(toward: address) } catch {
            throw InContext("no route toward \(address)", error, code: ExitStatus.system)
        }
    }
}

enum OpenReport {
    static func json(_ r: EngineeredConnection.Report) -> JSON {
        .object([
            ("bytes", .int(Int(r.bytes))),
            ("seconds", .double((r.seconds * 1000).rounded() / 1000)),
            ("mbps", .double(ServeReport.mbps(r.bytes, r.seconds))),
            ("subflows", .array(r.subflows.map { s in
                .object([
                    ("id", s.subflow.id.map { .int(Int($0)) } ?? .null),
                    ("local", .string(SocketEndpoint(s.subflow.tuple.localAddress, port: s.subflow.tuple.localPort).description)),
                    ("remote", .string(SocketEndpoint(s.subflow.tuple.remoteAddress, port: s.subflow.tuple.remotePort).description)),
                    ("segments", .array((s.subflow.waypoints.isEmpty ? [] : s.subflow.waypoints + [s.subflow.tuple.remoteAddress]).map { .string($0.description) })),
                    ("bytesAcked", .int(Int(s.bytesAcked))),
                    ("path", s.subflow.label.map { .string($0) } ?? .null),
                    ("active", .bool(s.subflow.active)),
                    ("replaces", s.subflow.replaces.map { .int($0) } ?? .null),
                ])
            })),
            ("events", .array(r.events.map { e in
                .object([("kind", .string(e.kind.rawValue)), ("time", .double((e.time * 1000).rounded() / 1000)),
                         ("subflow", .int(e.subflow)), ("replacement", e.replacement.map { .int($0) } ?? .null),
                         ("message", .string(e.message))])
            })),
        ])
    }

    static func text(_ r: EngineeredConnection.Report) -> String {
        var lines = ["\(r.bytes) bytes in \(String(format3: r.seconds)) s = \(ServeReport.mbps(r.bytes, r.seconds)) Mbit/s over \(r.subflows.count) subflow(s)"]
        let table = Table([.left(0), .left(6), .left(40), .left(0), .left(36)], indent: "  ")
        for (i, s) in r.subflows.enumerated() {
            var path = s.subflow.waypoints.isEmpty ? "direct (IGP path)" : s.subflow.waypoints.map(\.description).joined(separator: ", ")
            if let l = s.subflow.label { path += " [\(l)]" }
            let local = SocketEndpoint(s.subflow.tuple.localAddress, port: s.subflow.tuple.localPort)
            var state = s.subflow.replaces.map { "  (replaces \($0 + 1))" } ?? ""
            if !s.subflow.active { state += "  (failed)" }
            let id = "id \(s.subflow.id.map(String.init) ?? "?")"
            lines.append(table.line(["\(i + 1).", id, local.description, "via", path, "\(s.bytesAcked) bytes acked\(state)"]))
        }
        for e in r.events { lines.append("  \(e)") }
        return lines.joined(separator: "\n")
    }
}

/// `--keep` and `--stall-timeout`, shared by `srte open` and `srte experiment`.
struct FailoverOptions: ParsableArguments {
    @Flag(help: "Replace a failed subflow with one on a re-planned path, opened before the failed one is closed.")
    var keep = false

    @Option(name: .customLong("stall-timeout"), help: ArgumentHelp("With --keep: milliseconds without acknowledgement (data in flight) after which a subflow counts as failed.", valueName: "MS"))
    var stallTimeout: Int = 300

    /// The stall timeout as a duration.
    var stallDuration: Duration { .milliseconds(stallTimeout) }

    /// A timeout outside 50 ms ... 60 s is a usage error (exit 2).
    func validate() throws {
        guard stallTimeout >= 50 && stallTimeout <= 60_000 else { throw ValidationError("--stall-timeout \(stallTimeout): 50...60000 ms") }
    }
}

/// Hands a value to the termination thread (which runs only as the process ends).
final class UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ v: T) { value = v }
}
