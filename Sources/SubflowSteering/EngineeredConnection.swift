#if canImport(Glibc)
import Glibc
#endif
internal import CSRH   // libc names that clang attributes to CSRH's headers (IPPROTO_*, SOCK_*)
import SRv6Paths

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
    }

    /// What ``send(bytes:chunk:)`` measured.
    public struct Report: Hashable, Sendable {
        public struct SubflowBytes: Hashable, Sendable {
            public var subflow: Subflow
            /// `tcpi_bytes_acked` of the subflow at the end.
            public var bytesAcked: UInt64
        }
        public var bytes: UInt64
        public var seconds: Double
        public var subflows: [SubflowBytes]
    }

    /// The underlying connection (seed API: list, close, backup…).
    public let connection: MultipathConnection
    /// The steering mechanism, nil when every path is direct.
    public let steering: SRHSteering?
    /// The subflows, in the order of the paths given.
    public private(set) var subflows: [Subflow]
    /// Bytes sent on the connection so far (the warm-up included).
    public private(set) var bytesSent = 0
    private var closed = false

    private init(connection: MultipathConnection, steering: SRHSteering?, subflows: [Subflow]) {
        self.connection = connection
        self.steering = steering
        self.subflows = subflows
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
    /// - Throws: ``SubflowError``, ``SteeringError``, ``NetlinkError`` or ``SystemCallError``;
    ///   whatever was installed is removed again.
    public static func open(to remote: SocketEndpoint, from local: IPv6Address? = nil, paths: [[IPv6Address]],
                            steering: SRHSteering?, ports: ClosedRange<UInt16> = MultipathConnection.defaultPortRange,
                            warmup: Int = 1, timeout: Duration = .seconds(5)) throws -> EngineeredConnection {
        guard !paths.isEmpty else { throw SubflowError(.badArgument, "at least one path (the initial subflow) is needed") }
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
                try steerIfNeeded(steering, t, paths[0], remote)
                installed.append(t)
                let s = try MPTCPSocket()
                let bindErrno = bindOrErrno(s, SocketEndpoint(source, port: t.localPort))
                if bindErrno == EADDRINUSE { try? steering?.unsteer(t); installed.removeLast(); continue }
                if bindErrno != 0 { throw SystemCallError("bind([\(source)]:\(t.localPort))", errno: bindErrno) }
                try s.connect(to: remote)
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
        var subflows = [Subflow(tuple: first, waypoints: paths[0], id: nil)]
        let engineered = EngineeredConnection(connection: connection, steering: steering, subflows: [])
        if warmup > 0 {
            do { engineered.bytesSent = try socket.send([UInt8](repeating: 0x73, count: warmup)) } catch { cleanup(); throw error }
        }

        // The other subflows: steer, then SUBFLOW_CREATE with that exact port.
        for path in paths.dropFirst() {
            var opened = false
            for _ in 0..<ports.count {
                let t = FourTuple(local: source, localPort: ports.next(), remote: remote.address, remotePort: remote.port)
                do {
                    try steerIfNeeded(steering, t, path, remote)
                    installed.append(t)
                    let id = try connection.openSubflow(SubflowTuple(local: SocketEndpoint(source, port: t.localPort), remote: remote),
                                                        timeout: timeout)
                    subflows.append(Subflow(tuple: t, waypoints: path, id: id))
                    opened = true
                    break
                } catch let e as SubflowError where e.netlink?.errno == EADDRINUSE {
                    try? steering?.unsteer(t); installed.removeLast()
                    continue
                } catch {
                    engineered.subflows = subflows
                    cleanup()
                    throw error
                }
            }
            if !opened { cleanup(); throw SubflowError(.badArgument, "every local port in \(ports.range) is busy toward \(remote)") }
        }
        if let ids = try? connection.socket.fullInfo().subflows, let s = ids.first(where: { $0.local.port == first.localPort }) {
            subflows[0].id = s.id
        }
        engineered.subflows = subflows
        return engineered
    }

    /// 0, or the errno of bind().
    static func bindOrErrno(_ s: MPTCPSocket, _ e: SocketEndpoint) -> Int32 {
        do { try s.bind(e); return 0 } catch { return error.errno }
    }

    static func steerIfNeeded(_ steering: SRHSteering?, _ t: FourTuple, _ waypoints: [IPv6Address], _ remote: SocketEndpoint) throws {
        guard let steering, !waypoints.isEmpty else { return }
        let srh = try SegmentRoutingHeader(path: waypoints + [remote.address], nextHeader: UInt8(IPPROTO_TCP))
        try steering.steer(t, along: srh)
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

    /// Sends until `totalBytes` have been sent on the connection (the warm-up
    /// of ``open(to:from:paths:steering:ports:warmup:timeout:)`` included),
    /// closes the sending side, waits for the peer to close, and reports bytes
    /// acknowledged per subflow.
    public func send(totalBytes bytes: Int, chunk: Int = 1 << 18, timeout: Duration = .seconds(120)) throws -> Report {
        let start = ContinuousClock.now
        let block = [UInt8](repeating: 0x73, count: chunk)
        var sent = bytesSent
        defer { bytesSent = sent }
        var last: [SubflowSnapshot] = []
        var lastSnapshot = start
        while sent < bytes {
            let n = min(chunk, bytes - sent)
            let k = try connection.socket.send(n == chunk ? block : Array(block.prefix(n)))
            sent += k
            if ContinuousClock.now - lastSnapshot > .milliseconds(200) {
                if let s = try? connection.socket.fullInfo().subflows { last = merge(last, s) }
                _ = connection.pollEvents(timeout: .zero)   // keep the path-manager event queue drained
                lastSnapshot = ContinuousClock.now
            }
            if ContinuousClock.now - start > timeout {
                throw SystemCallError("send (\(sent) of \(bytes) bytes after \(timeout))", errno: ETIMEDOUT)
            }
        }
        try connection.socket.shutdownWrite()
        // Wait for the peer's FIN: every byte was read by the application.
        while ContinuousClock.now - start < timeout {
            if let s = try? connection.socket.fullInfo().subflows { last = merge(last, s) }
            if try connection.socket.waitReadable(timeout: .milliseconds(100)) {
                if try connection.socket.receive().isEmpty { break }
            }
        }
        let d = ContinuousClock.now - start
        let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        let per = subflows.map { sf in
            Report.SubflowBytes(subflow: sf, bytesAcked: last.first { $0.local.port == sf.tuple.localPort }?.bytesAcked ?? 0)
        }
        return Report(bytes: UInt64(sent), seconds: seconds, subflows: per)
    }

    /// Sends for `duration`, sampling every subflow's acknowledged bytes every
    /// `interval`, then closes the sending side and waits for the peer.
    /// - Returns: the report, and the samples: `(seconds since start, bytesAcked per subflow in subflow order)`.
    public func send(for duration: Duration, interval: Duration = .milliseconds(500), chunk: Int = 1 << 16,
                     timeout: Duration = .seconds(30)) throws -> (report: Report, samples: [(Double, [UInt64])]) {
        let start = ContinuousClock.now
        let block = [UInt8](repeating: 0x73, count: chunk)
        var sent = bytesSent
        defer { bytesSent = sent }
        var last: [SubflowSnapshot] = []
        var samples: [(Double, [UInt64])] = []
        var nextSample = start + interval
        func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
        func sample() {
            if let s = try? connection.socket.fullInfo().subflows { last = merge(last, s) }
            samples.append((seconds(ContinuousClock.now - start),
                            subflows.map { sf in last.first { $0.local.port == sf.tuple.localPort }?.bytesAcked ?? 0 }))
        }
        while ContinuousClock.now - start < duration {
            sent += try connection.socket.send(block)
            if ContinuousClock.now >= nextSample {
                sample()
                _ = connection.pollEvents(timeout: .zero)
                nextSample += interval
            }
        }
        sample()
        try connection.socket.shutdownWrite()
        let drainStart = ContinuousClock.now
        while ContinuousClock.now - drainStart < timeout {
            if try connection.socket.waitReadable(timeout: .milliseconds(100)) {
                if try connection.socket.receive().isEmpty { break }
            }
        }
        let total = seconds(ContinuousClock.now - start)
        let per = subflows.map { sf in
            Report.SubflowBytes(subflow: sf, bytesAcked: last.first { $0.local.port == sf.tuple.localPort }?.bytesAcked ?? 0)
        }
        return (Report(bytes: UInt64(sent), seconds: total, subflows: per), samples)
    }

    private func merge(_ old: [SubflowSnapshot], _ new: [SubflowSnapshot]) -> [SubflowSnapshot] {
        var byPort: [UInt16: SubflowSnapshot] = [:]
        for s in old { byPort[s.local.port] = s }
        for s in new {
            if let o = byPort[s.local.port], o.bytesAcked > s.bytesAcked { continue }
            byPort[s.local.port] = s
        }
        return Array(byPort.values)
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
