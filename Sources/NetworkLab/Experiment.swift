import Glibc
internal import CSRH
import Foundation
import SRv6Paths
import LinuxSystem
import SubflowSteering

/// `srte experiment`: emulate a topology, then measure single-path TCP, MPTCP
/// with k subflows left to the IGP, and MPTCP with k subflows engineered onto
/// planned disjoint paths, between two hosts.
///
/// ```swift
/// let r = try Experiment(topology: diamond).run { print($0) }
/// r.aggregateMbps / r.capacityMbps!   // below 1: at MTU 1500 the payload ceiling is 0.901
/// ```
public struct Experiment: Sendable {
    public var topology: Topology
    /// Source and destination hosts (default: the first two hosts of the topology).
    public var from: String?
    public var to: String?
    /// Number of subflows (default: the number of disjoint paths found, at most 4).
    public var k: Int?
    public var disjoint: Disjointness = .link
    /// Seconds per measurement.
    public var seconds: Double = 10
    /// `nil`: policy routing where the source host's kernel has seg6 routes, else bpf
    /// (`SteeringMechanism.make(_:egress:)`).
    public var steering: SteeringMechanism?
    /// Lab name (default: `<topology>-exp`).
    public var lab: String?
    /// How the lab emulates link delays (``DelayMode``; default auto: netem, else bridges).
    public var delay: DelayMode = .auto
    public var port: UInt16 = 5201
    /// `TCP_CONGESTION` for all three runs (nil: the namespace default). The default is cubic:
    /// with BBR (v1), MPTCP subflows into tbf bottlenecks fill less of the capacity than
    /// with cubic (Docs/Testbed.md).
    public var congestionControl: String? = "cubic"
    /// A link taken down during the engineered run.
    public var failure: Failure?
    /// Replace failed subflows with re-planned paths (`srte open --keep`).
    public var keep = false
    /// With ``keep``: how long a subflow may go without acknowledgements before it counts as failed.
    public var stallTimeout: Duration = .milliseconds(300)
    /// What the runs send (default ``Traffic/srte``).
    public var traffic: Traffic = .srte
    /// With ``Traffic/iperf3``: the srte executable, whose `srte agent` engineers the iperf3
    /// run (the command passes its own).
    public var agentExecutable: String?

    /// What the three runs send.
    public enum Traffic: String, Sendable, Codable, CaseIterable {
        /// srte's own sender and sink: `EngineeredConnection` opens and steers the subflows, the
        /// sink checks every byte.
        case srte
        /// An unmodified program: iperf3, made MPTCP by `mptcpize run`. The single-path run is
        /// plain `iperf3`, the unsteered one `mptcpize run iperf3` with no path manager acting
        /// (one subflow), and the engineered one the same with `srte agent` opening and steering
        /// one subflow per planned path. The destination runs the in-kernel path manager.
        case iperf3
    }

    /// How the engineered subflows pack their segment lists; `nil`: `SRHCompression.reduced`
    /// when the topology has C-SIDs, else `SRHCompression.off`. With compression the paths
    /// are planned for the fewest SRH bytes, and a topology without C-SIDs gets the default
    /// ones (`Topology.compressible()`). Reduced SRHs need BPF steering; with policy routing
    /// the lists are sent in full SRHs. Replacement subflows (``keep``) are packed the same way.
    /// With ``Traffic/iperf3`` the agent plans the same paths itself from the lab's topology
    /// and packs them so (`srte agent --topology … --compress`).
    public var compression: SRHCompression? = nil

    /// A link failure injected during the engineered run.
    public struct Failure: Sendable, Hashable {
        /// The link's endpoints (every link between them goes down).
        public var a: String, b: String
        /// Seconds after the engineered run starts sending.
        public var at: Double
        public init(a: String, b: String, at: Double) {
            self.a = a
            self.b = b
            self.at = at
        }
    }

    public init(topology: Topology) { self.topology = topology }

    /// Everything measured.
    public struct Result: Sendable, Codable {
        public struct Path: Sendable, Codable {
            public var hops: [String]
            public var segments: [String]
            public var mbps: Double
            /// Bottleneck bandwidth of the path in Mbit/s (nil when a link has none).
            public var capacityMbps: Double?
            /// Throughput over time: (seconds, Mbit/s in the interval before).
            public var series: [[Double]]
            /// For a replacement subflow: the index (in `paths`) of the path it replaced.
            public var replaces: Int? = nil
            /// Seconds into the run at which the subflow was opened (replacements only).
            public var openedAt: Double? = nil
            /// False when the subflow was declared failed and closed.
            public var active: Bool = true

            /// Creates a path's figures (a replacement sets ``replaces`` and ``openedAt`` after).
            public init(hops: [String], segments: [String], mbps: Double, capacityMbps: Double?, series: [[Double]]) {
                self.hops = hops
                self.segments = segments
                self.mbps = mbps
                self.capacityMbps = capacityMbps
                self.series = series
            }
        }
        /// What happened around an injected link failure.
        public struct FailureReport: Sendable, Codable {
            /// The link taken down, as "A-B".
            public var link: String
            /// Seconds into the engineered run (when the command to take it down was issued).
            public var at: Double
            /// Seconds from the failure until srte declared a subflow failed (nil: none did).
            public var detectedAfter: Double?
            /// Seconds from the failure until the replacement subflow was established.
            public var replacedAfter: Double?
            /// What srte did, in order.
            public var events: [String]
        }
        public struct LinkLoad: Sendable, Codable {
            public var a: String, b: String
            /// Bytes a→b and b→a during the engineered run.
            public var bytesAToB: UInt64, bytesBToA: UInt64
        }
        public var topology: String
        public var from: String, to: String
        public var k: Int
        public var seconds: Double
        public var steering: String
        public var singlePathMbps: Double
        public var unsteeredMbps: Double
        public var aggregateMbps: Double
        public var capacityMbps: Double?
        public var paths: [Path]
        /// Links that carried more than 1 MB during the engineered run.
        public var links: [LinkLoad]
        public var notes: [String]
        /// The congestion control of all runs.
        public var congestionControl: String?
        /// Bytes the engineered run sent, and whether the sink found every one of them in
        /// place (`TransferPattern`).
        public var engineeredBytes: UInt64
        public var verified: Bool
        /// With ``Experiment/failure``.
        public var failure: FailureReport?
        /// How the lab emulated link delays: `netem`, `bridge` or `off`.
        public var delay: String? = nil
        /// The engineered run's rate after its first second (bytes acknowledged on all subflows,
        /// as the sender samples them), leaving out the ramp-up as `iperf3 --omit 1` does;
        /// `nil` for runs of 2 s or less.
        public var steadyMbps: Double? = nil
        /// The most payload the planned paths can carry: each path's capacity times the payload
        /// share of a full frame (``Experiment/payloadShare(mtu:srhBytes:headroom:)``); `nil` when a
        /// capacity is unknown.
        public var payloadCeilingMbps: Double? = nil
        /// What the runs sent: `srte` or `iperf3` (``Experiment/Traffic``).
        public var traffic: String? = nil
        /// With iperf3 traffic: the bytes the server counted in the engineered run
        /// (``engineeredBytes`` is what the client wrote; nothing checks iperf3's bytes, so
        /// ``verified`` is false).
        public var receivedBytes: UInt64? = nil
        /// The engineered run's total throughput over time, (seconds, Mbit/s in the interval
        /// before), where there is no per-subflow series (iperf3 traffic: the server's intervals).
        public var series: [[Double]]? = nil
        /// How the engineered subflows packed their segment lists (`off`, `full`, `reduced`).
        public var compression: String? = nil
        /// Per planned path, the SRH bytes each packet carried (0: no SRH).
        public var srhBytes: [Int]? = nil
    }

    /// MPTCP's DSS option on every data segment, in bytes, as Linux sends it (a 32-bit
    /// data ACK and a 64-bit mapping, padded): a subflow's segments carry this much less
    /// payload than its MSS.
    public static let dssOptionBytes = 24

    /// The share of a link's rate an MPTCP subflow's payload can fill: its frames are the route
    /// MTU toward the peer (`mtu` less `headroom`, the room kept for the connection's longest
    /// SRH) plus its own SRH (`srhBytes`) and 14 bytes of Ethernet, and carry that MTU less IPv6
    /// (40), TCP with timestamps (32) and the DSS option. At MTU 1500 with a 40-byte SRH:
    /// 1364 / 1514 = 0.901; without an SRH (no room kept) 0.927, in a connection whose other
    /// subflows have 40-byte SRHs 1364 / 1474 = 0.925; at MTU 9000 with a 40-byte SRH 0.983.
    public static func payloadShare(mtu: Int, srhBytes: Int, headroom: Int? = nil) -> Double {
        let routeMTU = mtu - (headroom ?? srhBytes)
        return Double(routeMTU - 40 - 32 - dssOptionBytes) / Double(routeMTU + srhBytes + 14)
    }

    /// Runs the experiment: lab up, three measurements, lab down (also when
    /// interrupted: install `TerminationGuard` first).
    public func run(progress: @escaping (String) -> Void = { _ in }) throws -> Result {
        let hosts = topology.nodes.filter { $0.kind == .host }.map(\.name)
        guard let src = from ?? hosts.first else { throw SubflowError(.badArgument, "\(topology.name) has no host: give --from") }
        guard let dst = to ?? (hosts.count > 1 ? hosts[1] : nil) else { throw SubflowError(.badArgument, "\(topology.name) has fewer than two hosts: give --to") }
        // Plan first: no lab for an impossible request.
        let wanted = k ?? 4
        var compression = self.compression ?? (self.topology.hasCSIDs ? .reduced : .off)
        var topology = self.topology
        if compression != .off {
            do { topology = try topology.compressible() } catch { throw SubflowError(.badArgument, "compression: \(error.message)") }
        }
        let plan: PlanReport
        do {
            plan = try PlanReport(topology: topology, from: src, to: dst, k: wanted, disjoint: disjoint,
                                  encoding: compression.encoding)
        } catch {
            throw SubflowError(.badArgument, error.message)
        }
        guard !plan.paths.isEmpty else { throw SubflowError(.badArgument, "no path from \(src) to \(dst)") }
        if let f = failure {
            guard let ia = topology.index(of: f.a), let ib = topology.index(of: f.b),
                  topology.links.contains(where: { ($0.a == ia && $0.b == ib) || ($0.a == ib && $0.b == ia) }) else {
                throw SubflowError(.badArgument, "--fail \(f.a)-\(f.b): \(topology.name) has no link between '\(f.a)' and '\(f.b)'")
            }
            guard f.at > 0 && f.at < seconds else {
                throw SubflowError(.badArgument, "--fail ...@\(f.at)s: the failure must fall inside the \(seconds) s run")
            }
        }
        if traffic == .iperf3 {
            if failure != nil || keep { throw SubflowError(.badArgument, "--fail and --keep need --traffic srte (srte's own sender replaces subflows)") }
            guard topology[dst]?.kind == .host, topology[src]?.kind == .host else {
                throw SubflowError(.badArgument, "--traffic iperf3 runs between hosts: \(topology[src]?.kind == .host ? dst : src) is a router")
            }
            _ = try Experiment.iperf3Tools()
        }
        let paths = plan.paths
        let count = paths.count
        var notes = plan.notes
        if let k, count < k { notes.append("only \(count) of \(k) disjoint paths exist: \(count) subflows") }

        progress("bringing up lab \(lab ?? "\(topology.name)-exp") (\(topology.nodes.count) nodes, \(topology.links.count) links)")
        let bed: Testbed
        let options = Testbed.UpOptions(hostPathManagers: traffic == .iperf3 ? [dst: .kernel] : [:], delay: delay)
        do { bed = try Testbed.up(topology, lab: lab ?? "\(topology.name)-exp", options: options, progress: progress) } catch {
            throw SubflowError(.system, "testbed: \(error)")
        }
        let guardToken = TerminationGuard.onTermination { _ = try? bed.down() }
        defer { TerminationGuard.remove(guardToken); _ = try? bed.down() }
        switch bed.delayMode {
        case .bridge: notes.append("link delays emulated by \(bed.state.bridges.count) userspace delay bridges (no netem in this kernel; Docs/Testbed.md)")
        case .off, .auto: notes.append(bed.state.notes.first { $0.contains("delays are not emulated") } ?? "link delays are not emulated: throughput only")
        case .netem: break
        }
        if traffic == .iperf3 { return try runIperf3(bed, src: src, dst: dst, plan: plan, compression: compression, notes: notes, progress: progress) }
        let srcAddress = try endpointAddress(src, in: bed)
        let dstAddress = try endpointAddress(dst, in: bed)
        let remote = SocketEndpoint(dstAddress, port: port)
        let duration = Duration.milliseconds(Int(seconds * 1000))
        let sink = try bed.run(in: dst) { try MPTCPSink(listen: SocketEndpoint(.unspecified, port: port)) }

        func measured(_ label: String, verify: Bool = false, _ body: () throws -> Void) throws -> SinkReport {
            progress("measuring \(label) for \(seconds) s")
            let box = ResultBox()
            let done = DispatchSemaphore(value: 0)
            Thread { box.set(Swift.Result { try sink.serveOne(timeout: .seconds(Int(seconds) + 30), verify: verify) }); done.signal() }.start()
            try body()
            guard done.wait(timeout: .now() + seconds + 30) == .success, let r = try box.get() else {
                throw SubflowError(.system, "\(label): the sink did not finish")
            }
            return r
        }
        func mbps(_ r: SinkReport) -> Double { r.seconds > 0 ? Double(r.bytes) * 8 / r.seconds / 1e6 : 0 }

        // 1. Single-path TCP.
        let tcp = try measured("single-path TCP") {
            try bed.run(in: src) { try PlainTCP.send(to: remote, from: srcAddress, for: duration, congestionControl: congestionControl) }
        }
        // 2. MPTCP, k subflows, no steering.
        let unsteered = try measured("MPTCP with \(count) unsteered subflows") {
            let c = try bed.run(in: src) {
                try EngineeredConnection.open(to: remote, from: srcAddress, paths: Array(repeating: [], count: count), steering: nil,
                                              congestionControl: congestionControl)
            }
            _ = try c.send(for: duration)
            c.close()
        }
        // 3. MPTCP, k engineered subflows.
        // BPF: the interface the route toward the destination leaves by (packets are routed
        // before the program rewrites their destination).
        let (mechanism, steer) = try bed.run(in: src) {
            try SteeringMechanism.make(steering) { try RouteTable.egressInterface(toward: dstAddress) }
        }
        defer { steer.removeAll() }
        if compression == .reduced && !(steer is BPFSteering) {
            notes.append("\(mechanism.rawValue) steering sends no reduced SRHs: the compressed lists travel in full SRHs")
            compression = .full
        }
        let wire = paths.map { $0.wire(compression, topology: topology) }
        let before = try bed.linkCounters()
        var engineered: (report: EngineeredConnection.Report, samples: [(Double, [UInt64])])? = nil
        let names = topology.nodes.map(\.name)
        let keeper = PathKeeper(plan: plan, compression: compression)
        var failedAt: Double? = nil
        var failureError: Error? = nil
        let sinkEngineered = try measured("MPTCP with \(count) engineered subflows", verify: true) {
            let waypoints = wire.map(\.waypoints)
            let labels: [String?] = paths.map { keeper.hops($0.path) }
            let c = try bed.run(in: src) {
                try EngineeredConnection.open(to: remote, from: srcAddress, paths: waypoints, steering: steer,
                                              congestionControl: congestionControl, labels: labels, reduced: wire.map(\.reduced))
            }
            if keep { c.keep = keeper.policy(stallTimeout: stallTimeout, onEvent: { e in progress(e.description) }) }
            if let f = failure {
                c.tick = { t in
                    guard failedAt == nil, t >= f.at else { return }
                    failedAt = t
                    progress("taking link \(f.a)-\(f.b) down")
                    do { try bed.setLinks(between: f.a, and: f.b, up: false) } catch { failureError = error }
                }
            }
            engineered = try bed.run(in: src) { try c.send(for: duration) }
            c.close()
        }
        if let failureError { throw SubflowError(.system, "--fail: \(failureError)") }
        let after = try bed.linkCounters()
        progress("tearing down lab \(bed.lab)")

        var results: [Result.Path] = []
        for (i, sf) in (engineered?.report.subflows ?? []).enumerated() {
            let bytes = sf.bytesAcked
            let secs = engineered?.report.seconds ?? 1
            let planned = keeper.path(ofSubflow: i)
            let cap = planned.flatMap { bottleneckMbps(of: $0) }
            let segments = i < paths.count ? wire[i].entries.map(\.description)
                : (sf.subflow.waypoints + [sf.subflow.tuple.remoteAddress]).map(\.description)
            var series: [[Double]] = []
            var prev: (Double, UInt64) = (0, 0)
            for (t, acked) in engineered?.samples ?? [] where i < acked.count {
                let dt = t - prev.0
                if dt > 0 { series.append([(t * 100).rounded() / 100, (Double(acked[i] &- prev.1) * 8 / dt / 1e6 * 10).rounded() / 10]) }
                prev = (t, acked[i])
            }
            var path = Result.Path(hops: planned.map { $0.nodes.map { names[$0] } } ?? [], segments: segments,
                                   mbps: (Double(bytes) * 8 / secs / 1e6 * 10).rounded() / 10, capacityMbps: cap, series: series)
            path.replaces = sf.subflow.replaces
            path.openedAt = sf.subflow.replaces == nil ? nil : sf.subflow.openedAt
            path.active = sf.subflow.active
            results.append(path)
        }
        let loads = Experiment.linkLoads(before: before, after: after)
        // A path with waypoints carries an SRH of its (possibly compressed) segments, one without none.
        let srhBytes = wire.map(\.srhBytes)
        let (capacity, ceiling) = capacityAndCeiling(paths, srhBytes: srhBytes)
        func r1(_ x: Double) -> Double { (x * 10).rounded() / 10 }
        func r3(_ x: Double) -> Double { (x * 1000).rounded() / 1000 }
        var failureReport: Result.FailureReport? = nil
        if let f = failure {
            let events = engineered?.report.events ?? []
            let at = failedAt ?? f.at
            failureReport = Result.FailureReport(
                link: "\(f.a)-\(f.b)", at: r3(at),
                detectedAfter: events.first { $0.kind == .failed && $0.time >= at }.map { r3($0.time - at) },
                replacedAfter: events.first { $0.kind == .replaced && $0.time >= at }.map { r3($0.time - at) },
                events: events.map(\.description))
            if failedAt == nil { notes.append("the engineered run ended before the failure time") }
            if !keep { notes.append("without --keep the failed subflow is left to the kernel (MPTCP re-sends its data after a few RTOs)") }
        }
        let sent = engineered?.report.bytes ?? 0
        var steady: Double? = nil
        let samples = engineered?.samples ?? []
        if seconds > 2, let a = samples.first(where: { $0.0 >= 1 }), let b = samples.last(where: { $0.0 <= seconds + 0.05 }), b.0 - a.0 >= 1 {
            let acked = { (s: (Double, [UInt64])) in s.1.reduce(UInt64(0), &+) }
            steady = r1(Double(acked(b) &- acked(a)) * 8 / (b.0 - a.0) / 1e6)
        }
        return Result(topology: topology.name, from: src, to: dst, k: count, seconds: seconds, steering: mechanism.rawValue,
                      singlePathMbps: r1(mbps(tcp)), unsteeredMbps: r1(mbps(unsteered)), aggregateMbps: r1(mbps(sinkEngineered)),
                      capacityMbps: capacity, paths: results, links: loads, notes: notes, congestionControl: congestionControl,
                      engineeredBytes: sent, verified: sinkEngineered.verified && sinkEngineered.bytes == sent,
                      failure: failureReport, delay: bed.delayMode.rawValue, steadyMbps: steady,
                      payloadCeilingMbps: ceiling.map(r1), compression: compression.rawValue, srhBytes: srhBytes)
    }
}

extension Experiment {
    /// The address a node sends and receives from. Hosts have theirs; a router gets
    /// `locator::2` on its loopback (its node SID, `locator::1`, is an End SID, which
    /// drops packets without an SRH) and MPTCP with `pathManager`.
    func endpointAddress(_ node: String, in bed: Testbed, pathManager: MPTCPPathManagerKind = .userspace) throws -> IPv6Address {
        guard let n = topology[node] else { throw SubflowError(.badArgument, "no node '\(node)' in \(topology.name)") }
        if n.kind == .host, let a = bed.address(of: node) { return a }
        guard let locator = n.locator else { throw SubflowError(.badArgument, "\(node) has neither an address nor a locator") }
        let a = locator.address.adding(2)
        for argv in [["ip", "-6", "addr", "replace", "\(a)/128", "dev", "lo", "nodad"],
                     ["sysctl", "-qw", "net.mptcp.enabled=1", "net.mptcp.pm_type=\(pathManager.rawValue)"],
                     ["ip", "mptcp", "limits", "set", "subflows", "8", "add_addr_accepted", "8"]] {
            let r = try bed.exec(node, argv)
            guard r.status == 0 else { throw SubflowError(.system, "\(node): \(argv.joined(separator: " ")): \(r.stderr)") }
        }
        return a
    }

    /// A path's bottleneck bandwidth in Mbit/s (nil when a link has none).
    func bottleneckMbps(of p: PlannedPath) -> Double? {
        let caps = p.links.map { topology.links[$0].bandwidth }
        return caps.contains(where: { $0 == nil }) ? nil : Double(caps.compactMap { $0 }.min() ?? 0) / 1e6
    }

    /// The planned capacity (sum of the paths' bottlenecks) and the payload ceiling (each
    /// path's capacity times ``payloadShare(mtu:srhBytes:headroom:)``), in Mbit/s; nil where a
    /// bandwidth is unknown.
    func capacityAndCeiling(_ paths: [PlanReport.Path], srhBytes given: [Int]? = nil) -> (capacity: Double?, ceiling: Double?) {
        let planned = paths.map { bottleneckMbps(of: $0.path) }
        let capacity: Double? = planned.contains { $0 == nil } ? nil : planned.reduce(0) { $0 + ($1 ?? 0) }
        // A path with waypoints carries an SRH of its segments (`given`: as compressed); one
        // without carries none, in packets sized for the longest SRH (the route MTU toward the
        // peer keeps its room).
        let srhBytes = given ?? paths.map { $0.segments.count > 1 ? 8 + 16 * $0.segments.count : 0 }
        let headroom = srhBytes.max() ?? 0
        let ceilings = zip(zip(paths, planned), srhBytes).map { pc, srh in
            let (p, cap) = pc
            let mtu = p.path.links.map { topology.links[$0].effectiveMTU }.min() ?? Topology.defaultMTU
            return cap.map { $0 * Experiment.payloadShare(mtu: mtu, srhBytes: srh, headroom: headroom) }
        }
        let ceiling: Double? = ceilings.contains { $0 == nil } ? nil : ceilings.reduce(0) { $0 + ($1 ?? 0) }
        return (capacity, ceiling)
    }

    /// The links that carried more than 1 MB (either direction) between two counter readings.
    static func linkLoads(before: [Testbed.LinkCounters], after: [Testbed.LinkCounters]) -> [Result.LinkLoad] {
        var loads: [Result.LinkLoad] = []
        for (b, a) in zip(before, after) {
            let ab = (a.endA?.txBytes ?? 0) &- (b.endA?.txBytes ?? 0), ba = (a.endB?.txBytes ?? 0) &- (b.endB?.txBytes ?? 0)
            if ab > 1_000_000 || ba > 1_000_000 { loads.append(Result.LinkLoad(a: a.a, b: a.b, bytesAToB: ab, bytesBToA: ba)) }
        }
        return loads
    }
}

final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Swift.Result<SinkReport, Error>?
    func set(_ r: Swift.Result<SinkReport, Error>) { lock.lock(); value = r; lock.unlock() }
    func get() throws -> SinkReport? { lock.lock(); defer { lock.unlock() }; return try value?.get() }
}

/// A plain (single-path) TCP sender, for the baseline.
enum PlainTCP {
    static func send(to remote: SocketEndpoint, from local: IPv6Address, for duration: Duration, congestionControl: String? = nil) throws {
        let fd = try syscallValue("socket(TCP)") { socket(AF_INET6, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        defer { close(fd) }
        if let cc = congestionControl {
            var name = Array(cc.utf8)
            try syscallValue("setsockopt(TCP_CONGESTION, \(cc))") { setsockopt(fd, Int32(IPPROTO_TCP), TCP_CONGESTION, &name, socklen_t(name.count)) }
        }
        try syscallValue("bind([\(local)])") { SocketEndpoint(local, port: 0).withSockaddr { bind(fd, $0, $1) } }
        try syscallValue("connect(\(remote))") { remote.withSockaddr { connect(fd, $0, $1) } }
        let block = [UInt8](repeating: 0x74, count: 1 << 16)
        let start = ContinuousClock.now
        while ContinuousClock.now - start < duration {
            _ = try syscallValue("send") { block.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }
        }
        shutdown(fd, Int32(SHUT_WR))
        var buf = [UInt8](repeating: 0, count: 4096)
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while poll(&p, 1, 30_000) == 1, recv(fd, &buf, buf.count, 0) > 0 {}
    }
}
