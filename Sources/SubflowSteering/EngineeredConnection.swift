import Glibc
import SRv6Paths
import LinuxSystem

/// One MPTCP connection whose subflows each follow an engineered path: the
/// engine behind `srte open`.
///
/// For every path the steering (an SRH for exactly that subflow's 4-tuple) is
/// installed *before* the subflow's SYN, so the handshake already takes the
/// path. The first path is the initial subflow (bound before `connect`); the
/// others are opened through the userspace path manager. ``close()`` (and
/// release) removes all steering.
///
/// ```swift
/// let c = try EngineeredConnection.open(to: SocketEndpoint(h2, port: 5201),
///                                       paths: [[], [sidB], [sidC]], steering: try BPFSteering(interface: "h1-r1"))
/// let report = try c.send(totalBytes: 100_000_000)
/// ```
public final class EngineeredConnection: @unchecked Sendable {
    /// One subflow: its 4-tuple, the waypoints its SRH carries (empty = the IGP path), its id.
    public struct Subflow: Hashable, Sendable {
        public var tuple: FourTuple
        public var waypoints: [IPv6Address]
        public var id: UInt32?
        /// A description of the path (e.g. its hops), when the caller gave one.
        public var label: String?
        /// False once the subflow was declared failed (see ``KeepPolicy``) and closed.
        public var active = true
        /// The index of the failed subflow this one replaced.
        public var replaces: Int?
        /// Seconds after the start of sending at which the subflow was opened (0 for the first ones).
        public var openedAt: Double = 0
    }

    /// What to do when a subflow's path fails: `srte open --keep`.
    ///
    /// While sending, every `interval` the connection looks at each subflow's `tcp_info`. A
    /// subflow with packets in flight whose acknowledged byte count has not moved for
    /// `stallTimeout` — or that the kernel closed — is declared failed. ``replace`` is asked
    /// for a new path; the replacement subflow is opened (steered before its SYN) *before* the
    /// failed one is closed (make-before-break: the connection never has fewer working
    /// subflows than it had), then the failed subflow is closed, which makes the kernel
    /// re-send its unacknowledged data on the others.
    public struct KeepPolicy {
        /// A path for a replacement subflow.
        public struct Replacement: Sendable, Hashable {
            /// Waypoint SIDs in path order (the destination is appended); `[]` = the IGP path.
            public var waypoints: [IPv6Address]
            /// A description for reports (e.g. the hops).
            public var label: String?
            /// Whether the SRH is reduced (RFC 8754 §4.1.1): the first waypoint (an RFC 9800
            /// container) only as Destination Address. Steering without reduced SRHs (policy
            /// routing) sends the same list in a full SRH.
            public var reduced: Bool
            public init(waypoints: [IPv6Address], label: String? = nil, reduced: Bool = false) {
                self.waypoints = waypoints
                self.label = label
                self.reduced = reduced
            }
        }
        /// No acknowledgement for this long, with packets in flight, means the path failed.
        /// Linux's minimum RTO is 200 ms, so below ~250 ms a single timeout on a working
        /// path would count as a failure.
        public var stallTimeout: Duration = .milliseconds(300)
        /// How often subflows are checked.
        public var interval: Duration = .milliseconds(50)
        /// Chooses the new path for the failed subflow at `failed`, given the indices of the
        /// subflows still active and every subflow so far; nil = close it without replacement.
        public var replace: (_ failed: Int, _ active: [Int], _ subflows: [Subflow]) -> Replacement?
        /// Called for every event as it happens.
        public var onEvent: ((Event) -> Void)?

        public init(stallTimeout: Duration = .milliseconds(300), interval: Duration = .milliseconds(50),
                    replace: @escaping (_ failed: Int, _ active: [Int], _ subflows: [Subflow]) -> Replacement?,
                    onEvent: ((Event) -> Void)? = nil) {
            self.stallTimeout = stallTimeout
            self.interval = interval
            self.replace = replace
            self.onEvent = onEvent
        }
    }

    /// Something the ``KeepPolicy`` did.
    public struct Event: Hashable, Sendable, CustomStringConvertible {
        public enum Kind: String, Hashable, Sendable {
            /// A subflow stopped making progress (or the kernel closed it).
            case failed
            /// A replacement subflow is established.
            case replaced
            /// No replacement path, or opening it failed.
            case unreplaced
        }
        public var kind: Kind
        /// Seconds since sending started.
        public var time: Double
        /// The subflow concerned (index into ``subflows``; messages count from 1).
        public var subflow: Int
        /// For `.replaced`: the new subflow's index.
        public var replacement: Int?
        public var message: String
        public var description: String { "[\((time * 100).rounded() / 100) s] \(message)" }
    }

    /// What ``send(totalBytes:chunk:timeout:)`` and ``send(for:interval:chunk:timeout:)`` measured.
    public struct Report: Hashable, Sendable {
        public struct SubflowBytes: Hashable, Sendable {
            public var subflow: Subflow
            /// `tcpi_bytes_acked` of the subflow at the end.
            public var bytesAcked: UInt64
        }
        public var bytes: UInt64
        public var seconds: Double
        public var subflows: [SubflowBytes]
        /// What the ``KeepPolicy`` did, in order.
        public var events: [Event] = []
    }

    /// The underlying connection (draft-hesmans-mptcp-socket-03 operations: list, close, backup…).
    public let connection: MultipathConnection
    /// The steering mechanism, nil when every path is direct.
    public let steering: SRHSteering?
    /// The subflows, in the order of the paths given.
    public private(set) var subflows: [Subflow]
    /// Bytes sent on the connection so far (the warm-up included).
    public private(set) var bytesSent = 0
    /// Failure handling while sending; nil = none (the kernel's own MPTCP retransmission only).
    public var keep: KeepPolicy?
    /// Called while sending, at every check interval, with the seconds since sending started.
    public var tick: ((Double) -> Void)?
    /// What the keep policy did so far.
    public private(set) var events: [Event] = []
    private var closed = false
    /// With `equalSRHLength`: the segment count every subflow's SRH is padded to.
    let padTo: Int?
    private var ports: PortCursor
    private var timeout: Duration
    private var sendStart: ContinuousClock.Instant?
    private var progress: [Int: (acked: UInt64, at: ContinuousClock.Instant)] = [:]
    private var nextCheck = ContinuousClock.now

    private init(connection: MultipathConnection, steering: SRHSteering?, subflows: [Subflow], ports: PortCursor, timeout: Duration,
                 padTo: Int?) {
        self.connection = connection
        self.padTo = padTo
        self.steering = steering
        self.subflows = subflows
        self.ports = ports
        self.timeout = timeout
    }

    deinit { close() }

    /// Connects to `remote` and opens one subflow per path.
    ///
    /// - Parameters:
    ///   - remote: the peer (an MPTCP listener that accepts joins).
    ///   - local: the local address; by default the source address the kernel would use toward `remote`.
    ///   - paths: per subflow, the waypoint SIDs in path order (the destination is appended); `[]` = no SRH.
    ///   - steering: how SRHs are attached (required when any path has waypoints).
    ///   - ports: local ports to use (busy or TIME_WAIT ports are skipped).
    ///   - warmup: bytes sent on the initial subflow before the others are opened
    ///     (the kernel accepts joins only once the connection is fully established,
    ///     which takes one data exchange).
    ///   - congestionControl: `TCP_CONGESTION` for every subflow (default: the namespace's).
    ///   - labels: per path, a description kept in ``Subflow/label``.
    ///   - reduced: per path, whether its SRH is reduced (RFC 8754 §4.1.1): the first waypoint
    ///     (an RFC 9800 container, typically) travels only as Destination Address, 16 bytes
    ///     less per packet. Only where the node that finishes it accepts Segments Left = Last
    ///     Entry + 1 (srte's BPF End; not the kernel's own) and the steering sends reduced SRHs
    ///     (``BPFSteering``). Ignored for paths without waypoints and with `equalSRHLength`.
    ///   - equalSRHLength: every subflow carries an SRH of the same length: the longest
    ///     list's, shorter ones (the IGP path's holds only the destination) padded with a PadN
    ///     TLV, so every subflow's packets have the same size. Not needed for equal segment
    ///     sizes: without it an initial subflow on the IGP path gets the joins' MSS through
    ///     ``SRHSteering/reserveHeadroom(_:bytes:)``, and its frames, which then carry no
    ///     SRH, spend less of a link's capacity on headers than padded ones.
    ///   - timeout: how long the initial connect and each join may take.
    /// - Throws: ``SubflowError``, ``SteeringError``, `NetlinkError` or `SystemCallError`;
    ///   whatever was installed is removed again.
    public static func open(to remote: SocketEndpoint, from local: IPv6Address? = nil, paths: [[IPv6Address]],
                            steering: SRHSteering?, ports: ClosedRange<UInt16> = MultipathConnection.defaultPortRange,
                            warmup: Int = 1, timeout: Duration = .seconds(5), congestionControl: String? = nil,
                            labels: [String?] = [], reduced: [Bool] = [], equalSRHLength: Bool = false) throws -> EngineeredConnection {
        guard !paths.isEmpty else { throw SubflowError(.badArgument, "at least one path (the initial subflow) is needed") }
        let padTo: Int? = equalSRHLength && steering != nil ? paths.map { $0.count + 1 }.max() : nil
        let isReduced = { (i: Int) in padTo == nil && i < reduced.count && reduced[i] && !paths[i].isEmpty }
        // Bytes of the longest SRH any subflow will carry (0: none has waypoints).
        let longestSRH = paths.indices.map { i in paths[i].isEmpty ? 0 : 8 + 16 * (paths[i].count + (isReduced(i) ? 0 : 1)) }.max() ?? 0
        if steering == nil, paths.contains(where: { !$0.isEmpty }) {
            throw SubflowError(.steeringNotAvailable, "paths with SIDs need a steering mechanism (policy routing or BPF)")
        }
        let source: IPv6Address
        if let local { source = local } else {
            let c = try NetlinkConnection(.route)
            guard let s = try RouteTable.lookup(remote.address, on: c).source else {
                throw SubflowError(.badArgument, "no source address toward \(remote.address): give one")
            }
            source = s
        }
        var ports = PortCursor(ports)
        var installed: [FourTuple] = []
        func cleanup() { for t in installed { try? steering?.unsteer(t) } }

        // The initial subflow: steer, bind, connect.
        var socket: MPTCPSocket? = nil
        var first: FourTuple? = nil
        for _ in 0..<ports.count {
            let t = FourTuple(local: source, localPort: ports.next(), remote: remote.address, remotePort: remote.port)
            do {
                try steerIfNeeded(steering, t, paths[0], remote, padTo: padTo, reduced: isReduced(0))
                if let steering, padTo == nil, paths[0].isEmpty, longestSRH > 0 {
                    // An initial subflow on the IGP path, joins with SRHs: the initial one must
                    // get the joins' MSS, so make the SRHs' room before it connects.
                    try steering.reserveHeadroom(t, bytes: longestSRH)
                }
                installed.append(t)
                let s = try MPTCPSocket()
                if let congestionControl { try s.setCongestionControl(congestionControl) }
                let bindErrno = bindOrErrno(s, SocketEndpoint(source, port: t.localPort))
                if let bindErrno {
                    if bindErrno == EADDRINUSE { try? steering?.unsteer(t); installed.removeLast(); continue }
                    throw SystemCallError("bind([\(source)]:\(t.localPort))", errno: bindErrno)
                }
                try s.connect(to: remote, timeout: timeout)
                socket = s
                first = t
                break
            } catch {
                cleanup()
                throw error
            }
        }
        guard let socket, let first else { cleanup(); throw SubflowError(.badArgument, "every local port in \(ports.range) is busy") }
        let connection: MultipathConnection
        do {
            connection = try MultipathConnection(socket: socket)
        } catch { cleanup(); throw error }
        let engineered = EngineeredConnection(connection: connection, steering: steering,
                                              subflows: [Subflow(tuple: first, waypoints: paths[0], id: nil, label: labels.first ?? nil)],
                                              ports: ports, timeout: timeout, padTo: padTo)
        if warmup > 0 {
            do { engineered.bytesSent = try engineered.sendPattern(count: warmup) } catch { cleanup(); throw error }
        }
        // The other subflows: steer each, SUBFLOW_CREATE each with that exact port, then wait
        // for all handshakes at once (one join RTT for all, not one per subflow).
        do {
            let rest = paths.indices.dropFirst().map { i in (waypoints: paths[i], label: i < labels.count ? labels[i] : nil, reduced: isReduced(i)) }
            try engineered.openSubflows(rest)
        } catch {
            engineered.close()
            cleanup()
            throw error
        }
        if let ids = try? connection.socket.fullInfo().subflows, let s = ids.first(where: { $0.local.port == first.localPort }) {
            engineered.subflows[0].id = s.id
        }
        return engineered
    }

    /// Steers a new 4-tuple along `waypoints`, then SUBFLOW_CREATE with that exact local port
    /// (busy ports are skipped); appends the subflow and returns its index.
    @discardableResult
    func openSubflow(waypoints path: [IPv6Address], label: String?, reduced: Bool = false, replaces: Int? = nil, openedAt: Double = 0) throws -> Int {
        try openSubflows([(waypoints: path, label: label, reduced: reduced && steering is BPFSteering)], replaces: replaces, openedAt: openedAt)[0]
    }

    /// ``openSubflow(waypoints:label:reduced:replaces:openedAt:)`` for several paths with all
    /// handshakes in flight together: steers and requests each (busy ports skipped), then waits
    /// for all. Appends the subflows in order and returns their indices; on failure, unsteers
    /// every tuple it steered (subflows already requested close with the connection).
    @discardableResult
    func openSubflows(_ paths: [(waypoints: [IPv6Address], label: String?, reduced: Bool)], replaces: Int? = nil, openedAt: Double = 0) throws -> [Int] {
        let first = subflows[0].tuple
        let remote = SocketEndpoint(first.remoteAddress, port: first.remotePort)
        var requested: [(tuple: FourTuple, key: MultipathConnection.Key)] = []
        do {
            for path in paths {
                var key: MultipathConnection.Key? = nil
                for _ in 0..<ports.count {
                    let t = FourTuple(local: first.localAddress, localPort: ports.next(), remote: remote.address, remotePort: remote.port)
                    try Self.steerIfNeeded(steering, t, path.waypoints, remote, padTo: padTo, reduced: path.reduced)
                    do {
                        key = try connection.requestSubflow(SubflowTuple(local: SocketEndpoint(t.localAddress, port: t.localPort), remote: remote),
                                                            timeout: timeout)
                        requested.append((t, key!))
                        break
                    } catch where error.netlink.map({ $0.errno == EADDRINUSE }) == true {
                        try? steering?.unsteer(t)
                    } catch {
                        try? steering?.unsteer(t)
                        throw error
                    }
                }
                guard key != nil else { throw SubflowError(.badArgument, "every local port in \(ports.range) is busy toward \(remote)") }
            }
            var established: ContinuousClock.Instant? = nil
            let ids = try connection.awaitSubflows(requested.map(\.key), timeout: timeout, confirm: .zero, allEstablished: &established)
            var indices: [Int] = []
            for (i, path) in paths.enumerated() {
                subflows.append(Subflow(tuple: requested[i].tuple, waypoints: path.waypoints, id: ids[i], label: path.label,
                                        replaces: replaces, openedAt: openedAt))
                indices.append(subflows.count - 1)
            }
            return indices
        } catch {
            for r in requested { try? steering?.unsteer(r.tuple) }
            throw error
        }
    }

    /// `nil`, or why bind() failed.
    static func bindOrErrno(_ s: MPTCPSocket, _ e: SocketEndpoint) -> Errno? {
        do { try s.bind(e); return nil } catch { return error.errno }
    }

    /// Steers `t` along `waypoints` + the destination; with `padTo` (segments), also a subflow
    /// without waypoints, and shorter lists get a PadN TLV up to the length of `padTo` segments.
    /// `reduced`: the first waypoint only as Destination Address (a reduced SRH).
    static func steerIfNeeded(_ steering: SRHSteering?, _ t: FourTuple, _ waypoints: [IPv6Address], _ remote: SocketEndpoint,
                              padTo: Int? = nil, reduced: Bool = false) throws {
        guard let steering, padTo != nil || !waypoints.isEmpty else { return }
        if reduced, padTo == nil {
            try steering.steer(t, alongReduced: try ReducedSegmentRoutingHeader(path: waypoints + [remote.address], nextHeader: UInt8(IPPROTO_TCP)))
            return
        }
        let path = waypoints + [remote.address]
        let missing = 16 * max(0, (padTo ?? 0) - path.count)      // bytes, a multiple of 8
        let tlvs: [SRHTLV] = missing > 0 ? [.padN(payload: [UInt8](repeating: 0, count: missing - 2))] : []
        try steering.steer(t, along: try SegmentRoutingHeader(path: path, nextHeader: UInt8(IPPROTO_TCP), tlvs: tlvs))
    }

    /// Re-steers subflow `index` along new waypoints (live; `[]` = back to the IGP path).
    public func resteer(_ index: Int, waypoints: [IPv6Address]) throws {
        guard subflows.indices.contains(index) else { throw SubflowError(.invalidID, "no subflow #\(index)") }
        let t = subflows[index].tuple
        if waypoints.isEmpty {
            try steering?.unsteer(t)
        } else {
            guard let steering else { throw SubflowError(.steeringNotAvailable, "no steering mechanism") }
            try steering.steer(t, along: try SegmentRoutingHeader(path: waypoints + [t.remoteAddress], nextHeader: UInt8(IPPROTO_TCP)))
        }
        subflows[index].waypoints = waypoints
    }

    /// Sends ``TransferPattern`` bytes until `totalBytes` have been sent on the connection (the
    /// warm-up of ``open(to:from:paths:steering:ports:warmup:timeout:congestionControl:labels:reduced:equalSRHLength:)``
    /// included), closes the sending side, waits for the peer to close, and reports bytes
    /// acknowledged per subflow. With ``keep`` set, failed subflows are replaced on the way.
    public func send(totalBytes bytes: Int, chunk: Int = 1 << 18, timeout: Duration = .seconds(120)) throws -> Report {
        try transfer(chunk: chunk, limit: bytes, duration: nil, sampleInterval: .milliseconds(200), timeout: timeout).report
    }

    /// Sends ``TransferPattern`` bytes for `duration`, sampling every subflow's acknowledged
    /// bytes every `interval`, then closes the sending side and waits (up to `timeout`) for the peer.
    /// - Returns: the report, and the samples: `(seconds since start, bytesAcked per subflow in
    ///   subflow order)`; subflows opened later (replacements) appear from their first sample on.
    public func send(for duration: Duration, interval: Duration = .milliseconds(500), chunk: Int = 1 << 16,
                     timeout: Duration = .seconds(30)) throws -> (report: Report, samples: [(Double, [UInt64])]) {
        try transfer(chunk: chunk, limit: nil, duration: duration, sampleInterval: interval, timeout: timeout)
    }

    private static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// Writes `count` pattern bytes (blocking); returns how many were sent.
    func sendPattern(count: Int) throws -> Int {
        var buf = [UInt8](repeating: 0, count: count)
        buf.withUnsafeMutableBytes { TransferPattern.fill($0, offset: UInt64(bytesSent)) }
        return try connection.socket.send(buf)
    }

    /// The send engine: non-blocking writes of the pattern, so that the keep policy runs even
    /// while the send buffer is full (which is what a dead subflow causes).
    private func transfer(chunk: Int, limit: Int?, duration: Duration?, sampleInterval: Duration,
                          timeout: Duration) throws -> (report: Report, samples: [(Double, [UInt64])]) {
        let clock = ContinuousClock()
        let start = clock.now
        sendStart = start
        nextCheck = start
        var sent = bytesSent
        defer { bytesSent = sent }
        var buffer = [UInt8](repeating: 0, count: chunk)
        var last: [UInt16: SubflowSnapshot] = [:]
        var samples: [(Double, [UInt64])] = []
        var nextSample = start + sampleInterval
        let checkEvery = keep?.interval ?? .milliseconds(50)
        var draining = false
        func observe(sampling: Bool) {
            let snaps = (try? connection.socket.fullInfo().subflows) ?? []
            for s in snaps where (last[s.local.port]?.bytesAcked ?? 0) <= s.bytesAcked { last[s.local.port] = s }
            if sampling {
                samples.append((Self.seconds(clock.now - start), subflows.map { last[$0.tuple.localPort]?.bytesAcked ?? 0 }))
            }
            let now = clock.now
            if now >= nextCheck {
                maintain(now, snapshots: snaps, draining: draining)
                tick?(Self.seconds(now - start))
                _ = connection.pollEvents(timeout: .zero)   // keep the path-manager event queue drained
                nextCheck = now + checkEvery
            }
        }
        func finished() -> Bool {
            if let limit { return sent >= limit }
            return clock.now - start >= duration!
        }
        while !finished() {
            let n = limit.map { min(chunk, $0 - sent) } ?? chunk
            if try connection.socket.waitWritable(timeout: checkEvery) {
                sent += try buffer.withUnsafeMutableBytes { b -> Int in
                    let part = UnsafeMutableRawBufferPointer(rebasing: b[0..<n])
                    TransferPattern.fill(part, offset: UInt64(sent))
                    return try connection.socket.sendAvailable(UnsafeRawBufferPointer(part))
                }
            }
            let now = clock.now
            if now >= nextSample || now >= nextCheck {
                observe(sampling: now >= nextSample)
                if now >= nextSample { nextSample += sampleInterval }
            }
            if limit != nil && now - start > timeout {
                throw SystemCallError("send (\(sent) of \(limit!) bytes after \(timeout))", errno: ETIMEDOUT)
            }
        }
        observe(sampling: true)
        try connection.socket.shutdownWrite()
        draining = true
        // Wait for the peer's FIN: every byte was read by the application. Subflows the kernel
        // closes from here on are the connection shutting down, not failures; a stalled one
        // with data in flight still is.
        let drainStart = clock.now
        while clock.now - drainStart < timeout {
            if try connection.socket.waitReadable(timeout: checkEvery) {
                if try connection.socket.receive().isEmpty { break }
            }
            observe(sampling: false)
        }
        observe(sampling: false)
        let per = subflows.map { sf in Report.SubflowBytes(subflow: sf, bytesAcked: last[sf.tuple.localPort]?.bytesAcked ?? 0) }
        return (Report(bytes: UInt64(sent), seconds: Self.seconds(clock.now - start), subflows: per, events: events), samples)
    }

    /// The keep policy's check: declares stalled or vanished subflows failed and replaces them.
    /// While `draining` (all data written, waiting for the peer's FIN), a subflow the kernel
    /// closed is part of the connection's shutdown and not a failure.
    private func maintain(_ now: ContinuousClock.Instant, snapshots: [SubflowSnapshot], draining: Bool) {
        guard let keep else { return }
        for i in subflows.indices where subflows[i].active {
            let port = subflows[i].tuple.localPort
            guard let s = snapshots.first(where: { $0.local.port == port }), s.tcpState != 7 /* TCP_CLOSE */ else {
                if !draining { fail(i, because: "the kernel closed it", keep: keep) }
                continue
            }
            if let p = progress[i], p.acked == s.bytesAcked, s.unackedPackets > 0 {
                if now - p.at >= keep.stallTimeout {
                    let ms = Int(Self.seconds(now - p.at) * 1000)
                    fail(i, because: "no acknowledgement for \(ms) ms with \(s.unackedPackets) packet(s) in flight", keep: keep)
                }
            } else {
                progress[i] = (s.bytesAcked, now)
            }
        }
    }

    private func record(_ e: Event) {
        events.append(e)
        keep?.onEvent?(e)
    }

    private func name(_ i: Int) -> String {
        "subflow \(i + 1)" + (subflows[i].label.map { " (\($0))" } ?? "")
    }

    /// Make-before-break: open the replacement, then close the failed subflow (the kernel then
    /// re-sends its unacknowledged data on the others) and remove its steering.
    private func fail(_ i: Int, because reason: String, keep: KeepPolicy) {
        let clock = ContinuousClock()
        let detected = clock.now
        let t0 = sendStart ?? detected
        subflows[i].active = false
        record(Event(kind: .failed, time: Self.seconds(detected - t0), subflow: i, message: "\(name(i)) failed: \(reason)"))
        let active = subflows.indices.filter { subflows[$0].active }
        if let r = keep.replace(i, active, subflows) {
            do {
                let j = try openSubflow(waypoints: r.waypoints, label: r.label, reduced: r.reduced, replaces: i, openedAt: Self.seconds(detected - t0))
                let up = clock.now
                record(Event(kind: .replaced, time: Self.seconds(up - t0), subflow: i, replacement: j,
                             message: "\(name(j)) replaces subflow \(i + 1): established \(Int(Self.seconds(up - detected) * 1000)) ms after the failure was detected"))
            } catch {
                record(Event(kind: .unreplaced, time: Self.seconds(clock.now - t0), subflow: i,
                             message: "could not open a replacement for subflow \(i + 1): \(error)"))
            }
        } else {
            record(Event(kind: .unreplaced, time: Self.seconds(clock.now - t0), subflow: i,
                         message: "no path for a replacement of subflow \(i + 1) avoids the failure"))
        }
        if let id = subflows[i].id { try? connection.closeSubflow(id: id, timeout: .zero) }
        try? steering?.unsteer(subflows[i].tuple)
    }

    /// Removes all steering this connection installed (the socket closes when released).
    public func close() {
        guard !closed else { return }
        closed = true
        for s in subflows { try? steering?.unsteer(s.tuple) }
    }
}

/// Hands out local ports round-robin from a range, starting at a per-process offset.
struct PortCursor {
    let range: ClosedRange<UInt16>
    private var next_: Int
    var count: Int { range.count }

    init(_ r: ClosedRange<UInt16>) {
        range = r
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        next_ = (Int(getpid()) &* 7919 &+ Int(t.tv_nsec)) % r.count
    }

    mutating func next() -> UInt16 {
        let p = range.lowerBound + UInt16(next_ % range.count)
        next_ += 1
        return p
    }
}
