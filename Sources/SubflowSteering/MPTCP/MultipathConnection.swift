import Glibc
import Synchronization
import SRv6Paths
import LinuxSystem

/// A subflow to open (`struct mptcp_sub_tuple`, draft-hesmans-mptcp-socket-03 §3.6).
public struct SubflowTuple: Hashable, Sendable {
    /// `prio`: open as a backup subflow (MP_JOIN B bit).
    public var backup: Bool
    /// Local address and port. Port 0: srte picks one from its reserved range.
    public var local: SocketEndpoint
    /// Remote address and port (port required).
    public var remote: SocketEndpoint
    /// `if_idx`: the outgoing interface, 0 = any.
    public var interfaceIndex: Int32
    /// `ipv6_srh` (draft-hesmans-mptcp-socket-03 §3.6): the SRH this subflow's packets carry,
    /// from its SYN on. Its last segment in path order (Segment List[0] on the wire) is the
    /// subflow's destination; draft-03 leaves it as `::`, which srte fills in with
    /// ``remote``'s address. Needs ``MultipathConnection/steering``.
    public var segmentRoutingHeader: SegmentRoutingHeader?

    public init(local: SocketEndpoint, remote: SocketEndpoint, backup: Bool = false, interfaceIndex: Int32 = 0, segmentRoutingHeader: SegmentRoutingHeader? = nil) {
        self.local = local
        self.remote = remote
        self.backup = backup
        self.interfaceIndex = interfaceIndex
        self.segmentRoutingHeader = segmentRoutingHeader
    }
}

/// Where a subflow is in its life, as srte saw it from path-manager events.
public struct SubflowState: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    /// SUBFLOW_CREATE accepted, no SUB_ESTABLISHED yet.
    public static let pending = SubflowState(rawValue: "pending")
    /// SUB_ESTABLISHED seen and not followed by SUB_CLOSED (or: TCP state ESTABLISHED for subflows srte did not open).
    public static let up = SubflowState(rawValue: "up")
    /// SUB_CLOSED seen.
    public static let closed = SubflowState(rawValue: "closed")
    public var description: String { rawValue }
}

/// One subflow as ``MultipathConnection/subflows()`` lists it (draft-hesmans-mptcp-socket-03's MPTCP_GET_SUB_IDS, plus the tuple and counters).
public struct SubflowStatus: Hashable, Sendable {
    /// The subflow id (`mptcp_subflow_info.id`; on the legacy kernel, its own id).
    public var id: UInt32
    public var local: SocketEndpoint
    public var remote: SocketEndpoint
    /// The backup flag as last set by srte or reported by the peer (SUB_PRIORITY).
    public var backup: Bool
    public var state: SubflowState
    /// The local address id srte assigned (nil for the initial subflow: id 0).
    public var localID: UInt8?
    /// `tcpi_bytes_sent`
    public var bytesSent: UInt64
    /// `tcpi_bytes_received`
    public var bytesReceived: UInt64
    /// `tcpi_rtt`
    public var rttMicroseconds: UInt32
}

/// How ``MultipathConnection/closeSubflow(id:how:timeout:)`` ends a subflow.
public struct SubflowCloseMode: RawRepresentable, Hashable, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    /// FIN in both directions (upstream: SUBFLOW_DESTROY, which shuts the
    /// subflow down with RCV_SHUTDOWN|SEND_SHUTDOWN and releases it; legacy: how = SHUT_RDWR).
    public static let graceful = SubflowCloseMode(rawValue: 2)
    /// RST. Upstream has no way to ask for it (SUBFLOW_DESTROY always closes
    /// gracefully): ``SubflowError/Kind/notSupported``. Legacy: how = -1.
    public static let reset = SubflowCloseMode(rawValue: -1)
}

/// The draft-hesmans-mptcp-socket-03 API on one MPTCP connection: list, open,
/// close and inspect subflows, change their priority, announce addresses.
///
/// Upstream Linux: the operations go through the userspace path manager
/// (generic netlink `mptcp_pm`, `net.mptcp.pm_type=1`), subflow ids come from
/// `MPTCP_FULL_INFO` and backup/state from path-manager events, which the
/// connection reads itself (it owns a subscription; no background thread).
/// On the legacy out-of-tree kernel the same calls map to socket options 66–72.
///
/// ```swift
/// let c = try MultipathConnection.connect(to: server, from: SocketEndpoint(me, port: 0))
/// let ids = try c.openSubflows([SubflowTuple(local: SocketEndpoint(me, port: 0), remote: server)])
/// try c.setBackup(id: ids[0], true)
/// for s in try c.subflows() { print(s.id, s.local, s.remote, s.backup, s.state) }
/// ```
///
/// Not thread-safe: use from one task at a time.
public final class MultipathConnection: @unchecked Sendable {
    /// The MPTCP socket.
    public let socket: MPTCPSocket
    /// The connection token (`mptcpi_token`, RFC 6897 connection id).
    public let token: UInt32
    let pm: MPTCPPathManager
    let subscription: MPTCPEventSubscription
    /// sock_diag in the socket's namespace (per-subflow mark, tclass, congestion control).
    let diag: NetlinkConnection
    /// The namespace's MPTCP sysctls when the connection object was made (the
    /// namespace of a socket cannot change; /proc/sys/net shows the caller's).
    let namespaceCheck: SubflowError?

    struct Key: Hashable { var local: SocketEndpoint; var remote: SocketEndpoint }
    struct Tracked { var localID: UInt8; var backup: Bool; var state: SubflowState; var interfaceIndex: Int32; var error: UInt8?; var resetReason: UInt32? }
    var tracked: [Key: Tracked] = [:]
    /// Backup flags of subflows srte did not open (from SUB_PRIORITY / SUB_ESTABLISHED).
    var backupSeen: [Key: Bool] = [:]
    var localIDs: [SocketEndpoint: UInt8] = [:]
    /// Events of this connection not yet handed out by ``pollEvents(timeout:)``.
    var pendingEvents: [MPTCPEvent] = []
    /// MPTCP_EVENT_ESTABLISHED seen (the connection accepts SUBFLOW_CREATE).
    var fullyEstablished = false

    /// When the phases of the last ``openSubflows(_:timeout:confirm:)`` ended (for benchmarks).
    public struct OpenTiming: Sendable {
        /// The call started.
        public var start: ContinuousClock.Instant
        /// The kernel accepted the first SUBFLOW_CREATE (the connection was fully established).
        public var firstAccepted: ContinuousClock.Instant?
        /// Every SUBFLOW_CREATE was accepted.
        public var allRequested: ContinuousClock.Instant?
        /// Every subflow's SUB_ESTABLISHED arrived.
        public var allEstablished: ContinuousClock.Instant?
    }
    /// Timing of the last ``openSubflows(_:timeout:confirm:)``.
    public private(set) var lastOpenTiming: OpenTiming?

    /// Local ports srte picks from when a tuple says port 0.
    public var portRange: ClosedRange<UInt16> = MultipathConnection.defaultPortRange
    /// The default range: 40000–40999.
    public static let defaultPortRange: ClosedRange<UInt16> = 40000...40999
    static let nextPort = Atomic<Int>(0)
    /// How many other ports ``openSubflows(_:timeout:confirm:)`` tries after -EADDRINUSE.
    public var portRetries = 16

    /// Wraps a connected (or accepted) socket.
    /// - Throws: ``SubflowError`` `.fallback` if it is plain TCP; path-manager errors.
    public init(socket: MPTCPSocket) throws(SubflowError) {
        self.socket = socket
        let info = try socket.info()
        if info.isFallback { throw SubflowError(.fallback, "the connection fell back to plain TCP: there are no MPTCP subflows") }
        token = info.token
        do throws(SubflowError) { try MPTCPNamespaceState.check(); namespaceCheck = nil } catch { namespaceCheck = error }
        do {
            pm = try MPTCPPathManager()
            subscription = try pm.subscribe()
            diag = NetlinkConnection(transport: try MNLSocket(.sockDiag))
        } catch {
            throw .pm(error, "cannot reach the MPTCP path manager")
        }
    }

    /// Opens an MPTCP connection: binds `local` first (so the initial subflow has
    /// a known 4-tuple; port 0 = srte picks one), then connects.
    /// When root, the default port range is first reserved in the namespace (``reservePortRange(_:)``).
    public static func connect(to remote: SocketEndpoint, from local: SocketEndpoint? = nil) throws(SubflowError) -> MultipathConnection {
        if geteuid() == 0 { reservePortRange() }
        let s = try MPTCPSocket()
        do {
            if var l = local {
                if l.port == 0 { l.port = pickPort(defaultPortRange) }
                try s.bind(l)
            }
            try s.connect(to: remote)
        } catch {
            throw .system(error)
        }
        return try MultipathConnection(socket: s)
    }

    /// Reserves `range` in the current namespace's `net.ipv4.ip_local_reserved_ports`
    /// (which also covers IPv6), so the kernel's ephemeral-port allocator never
    /// hands those ports to other sockets and srte's picks do not collide with
    /// them. Existing reservations are kept. Needs root; returns false when the
    /// sysctl could not be written (srte then still picks from the range).
    @discardableResult
    public static func reservePortRange(_ range: ClosedRange<UInt16> = defaultPortRange) -> Bool {
        let path = "net/ipv4/ip_local_reserved_ports"
        guard let current = try? Sysctl.read(path) else { return false }
        if reservedPorts(current, cover: range) { return true }
        let value = (current.isEmpty ? "" : current + ",") + "\(range.lowerBound)-\(range.upperBound)"
        return (try? Sysctl.write(path, value)) != nil
    }

    /// Whether `reserved` (the text of `net.ipv4.ip_local_reserved_ports`, e.g. "40000-40999,5201")
    /// covers every port of `range`.
    package static func reservedPorts(_ reserved: String, cover range: ClosedRange<UInt16>) -> Bool {
        var covered = Set<UInt16>()
        for part in reserved.split(separator: ",") {
            let ends = part.split(separator: "-").compactMap { UInt16(String($0).trimmingCharacters(in: " ")) }
            if ends.count == 1 { covered.insert(ends[0]) }
            if ends.count == 2, ends[0] <= ends[1] {
                let lo = max(ends[0], range.lowerBound), hi = min(ends[1], range.upperBound)
                if lo <= hi { for p in lo...hi { covered.insert(p) } }
            }
        }
        return range.allSatisfy { covered.contains($0) }
    }

    static func pickPort(_ r: ClosedRange<UInt16>) -> UInt16 {
        let n = nextPort.add(1, ordering: .relaxed).oldValue
        let seed = Int(getpid()) &* 7919
        return r.lowerBound + UInt16((n &+ seed) % r.count)
    }

    // MARK: events

    /// Reads pending path-manager events (waiting up to `timeout` for the first)
    /// and applies those of this connection to the subflow table.
    @discardableResult
    func pump(timeout: Duration) -> [MPTCPEvent] {
        guard let events = try? subscription.poll(timeout: timeout) else { return [] }
        var mine: [MPTCPEvent] = []
        for e in events where e.token == token {
            mine.append(e)
            if e.type == .established { fullyEstablished = true }
            guard let l = e.local, let r = e.remote else { continue }
            let k = Key(local: l, remote: r)
            switch e.type {
            case .subflowEstablished:
                if tracked[k] != nil { tracked[k]!.state = .up }
                if let b = e.backup { backupSeen[k] = b }
            case .subflowClosed:
                if tracked[k] != nil {
                    tracked[k]!.state = .closed
                    tracked[k]!.error = e.error
                    tracked[k]!.resetReason = e.resetReason
                }
                unsteer(k)
            case .subflowPriority:
                if let b = e.backup {
                    backupSeen[k] = b
                    tracked[k]?.backup = b
                }
            default: break
            }
        }
        pendingEvents += mine
        return mine
    }

    /// This connection's path-manager events that arrived since the last call
    /// (waiting up to `timeout` when there are none yet).
    public func pollEvents(timeout: Duration = .zero) -> [MPTCPEvent] {
        if pendingEvents.isEmpty { pump(timeout: timeout == .zero ? .microseconds(1) : timeout) }
        while !pump(timeout: .microseconds(1)).isEmpty {}
        defer { pendingEvents.removeAll() }
        return pendingEvents
    }

    // MARK: draft-hesmans-mptcp-socket-03 operations

    /// Fails unless subflow management is possible on this connection.
    func checkManageable() throws(SubflowError) {
        if let namespaceCheck { throw namespaceCheck }
        if let i = try? socket.info(), i.isFallback {
            throw SubflowError(.fallback, "the connection fell back to plain TCP: there are no MPTCP subflows")
        }
    }

    func localID(for e: SocketEndpoint) throws(SubflowError) -> UInt8 {
        if let id = localIDs[e] { return id }
        let used = Set(localIDs.values)
        guard let id = (1...255).lazy.map({ UInt8($0) }).first(where: { !used.contains($0) }) else {
            throw SubflowError(.badArgument, "all 255 local address ids of this connection are in use")
        }
        localIDs[e] = id
        return id
    }

    /// MPTCP_OPEN_SUB_TUPLE for one tuple: see ``openSubflows(_:timeout:confirm:)``.
    public func openSubflow(_ tuple: SubflowTuple, timeout: Duration = .seconds(5), confirm: Duration = .zero) throws(SubflowError) -> UInt32 {
        try openSubflows([tuple], timeout: timeout, confirm: confirm)[0]
    }

    /// MPTCP_OPEN_SUB_TUPLE: opens subflows (all handshakes in parallel) and returns their ids.
    ///
    /// Each goes out as SUBFLOW_CREATE with an explicit local port (from
    /// ``portRange`` when the tuple says 0; -EADDRINUSE = busy or TIME_WAIT
    /// 4-tuple is retried on the next port) and a local address id srte
    /// manages. The kernel answers before the handshake: a subflow counts as up
    /// once SUB_ESTABLISHED arrives, and (with `confirm` > 0) no SUB_CLOSED
    /// follows within `confirm` — a peer that refuses the join shows
    /// SUB_ESTABLISHED then SUB_CLOSED about one RTT later.
    ///
    /// A tuple with an SRH is steered along it before its SYN leaves (through ``steering``, on
    /// the subflow's 4-tuple) and unsteered when ``closeSubflow(id:how:timeout:)`` closes it or
    /// when its handshake fails.
    ///
    /// - Throws: ``SubflowError``: `.steeringNotAvailable` for a tuple with an SRH when
    ///   ``steering`` is not set, `.badArgument` for an SRH whose last segment is neither `::`
    ///   nor the tuple's remote address, `.privilegedPort` for a local port below 1024 when not root,
    ///   `.fallback`, `.pathManager` with the kernel's message, `.subflowFailed`
    ///   (SUB_CLOSED, with the socket error / reset reason, or no event in `timeout`).
    public func openSubflows(_ tuples: [SubflowTuple], timeout: Duration = .seconds(5), confirm: Duration = .zero) throws(SubflowError) -> [UInt32] {
        var tuples = tuples
        for i in tuples.indices {
            let t = tuples[i]
            if let srh = t.segmentRoutingHeader {
                guard steering != nil else {
                    throw SubflowError(.steeringNotAvailable, "a subflow with an SRH needs steering: set `steering` (BPFSteering or PolicyRoutingSteering) on the connection first")
                }
                tuples[i].segmentRoutingHeader = try Self.completed(srh, toward: t.remote)
            }
            if t.local.port != 0 && t.local.port < 1024 && geteuid() != 0 {
                throw SubflowError(.privilegedPort, "local port \(t.local.port) is below 1024: only root may open subflows there")
            }
            if t.remote.port == 0 { throw SubflowError(.badArgument, "the remote port is missing") }
            if t.local.isIPv4 != t.remote.isIPv4 { throw SubflowError(.badArgument, "local and remote address families differ") }
        }
        try checkManageable()
        var timing = OpenTiming(start: ContinuousClock.now)
        defer { lastOpenTiming = timing }
        var keys: [Key] = []
        for t in tuples {
            keys.append(try requestSubflow(t, timeout: timeout))
            if timing.firstAccepted == nil { timing.firstAccepted = ContinuousClock.now }
        }
        timing.allRequested = ContinuousClock.now
        return try awaitSubflows(keys, timeout: timeout, confirm: confirm, allEstablished: &timing.allEstablished)
    }

    /// SUBFLOW_CREATE for one tuple (waiting for the connection to be fully established
    /// first); does not wait for the handshake. A tuple with port 0 gets a port from
    /// ``portRange``, retried on -EADDRINUSE; an explicit busy port throws `.pathManager` with
    /// the kernel's EADDRINUSE in ``SubflowError/netlink``.
    /// - Returns: the subflow's key, tracked as pending until SUB_ESTABLISHED.
    func requestSubflow(_ t: SubflowTuple, timeout: Duration) throws(SubflowError) -> Key {
        var attempt = 0
        while true {
            var local = t.local
            let chosen = local.port == 0
            if chosen { local.port = Self.pickPort(portRange) }
            let id = try localID(for: local)
            let flow = FourTuple(local, t.remote)
            if let srh = t.segmentRoutingHeader, let steering {
                do { try steering.steer(flow, along: srh) } catch {
                    localIDs[local] = nil
                    throw SubflowError(.system, "steering \(flow) along \(srh.segments.map(\.description).joined(separator: ",")): \(error)")
                }
            }
            do {
                try createWhenFullyEstablished(deadline: ContinuousClock.now + timeout, id: id, local: local, tuple: t)
                let k = Key(local: local, remote: t.remote)
                tracked[k] = Tracked(localID: id, backup: t.backup, state: .pending, interfaceIndex: t.interfaceIndex)
                if t.segmentRoutingHeader != nil { steered.insert(k) }
                return k
            } catch {
                if t.segmentRoutingHeader != nil { try? steering?.unsteer(flow) }
                if error.errno != EADDRINUSE { localIDs[local] = nil }
                if error.errno == EADDRINUSE && chosen && attempt < portRetries {
                    attempt += 1
                    continue
                }
                throw Self.mapCreateError(error, local: local, remote: t.remote)
            }
        }
    }

    /// Waits (up to `timeout`) until every requested subflow is established, then (with
    /// `confirm` > 0) that none is closed within `confirm`; returns their ids in order.
    /// `allEstablished` is set when every one was up (also when a later check throws).
    func awaitSubflows(_ keys: [Key], timeout: Duration, confirm: Duration,
                       allEstablished: inout ContinuousClock.Instant?) throws(SubflowError) -> [UInt32] {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while keys.contains(where: { tracked[$0]?.state == .pending }) {
            let left = deadline - clock.now
            if left <= .zero { break }
            pump(timeout: min(left, .milliseconds(100)))
        }
        if !keys.contains(where: { tracked[$0]?.state == .pending }) { allEstablished = clock.now }
        if confirm > .zero {
            let until = clock.now + confirm
            while clock.now < until { pump(timeout: until - clock.now) }
        }
        for k in keys {
            guard let t = tracked[k] else { continue }
            if t.state == .pending {
                throw SubflowError(.subflowFailed, "subflow \(k.local) → \(k.remote) not established within \(timeout) (no SUB_ESTABLISHED)", errno: ETIMEDOUT)
            }
            if t.state == .closed {
                var why = ""
                if let e = t.error, e != 0 { why += ": \(Errno(Int32(e)).message)" }
                if let r = t.resetReason { why += " (MPTCP reset reason \(r))" }
                throw SubflowError(.subflowFailed, "subflow \(k.local) → \(k.remote) was closed right after it was established (SUB_CLOSED)\(why); is the peer accepting joins (on the userspace path manager: a subscriber to mptcp_pm_events on its host; on the in-kernel one: `ip mptcp limits`)?", errno: t.error.map { Int32($0) } ?? ECONNREFUSED)
            }
        }
        let snapshot = try socket.fullInfo().subflows
        return try keys.map { (k) throws(SubflowError) -> UInt32 in
            guard let s = snapshot.first(where: { $0.local == k.local && $0.remote == k.remote }) else {
                throw SubflowError(.subflowFailed, "subflow \(k.local) → \(k.remote) is established but missing from MPTCP_FULL_INFO")
            }
            return s.id
        }
    }

    /// SUBFLOW_CREATE; -ENOTCONN ("connect error: -107") means the connection is
    /// not fully established yet (the client needs a DSS from the peer, about one
    /// RTT after its first data): wait for the ESTABLISHED event and retry.
    func createWhenFullyEstablished(deadline: ContinuousClock.Instant, id: UInt8, local: SocketEndpoint, tuple t: SubflowTuple) throws(NetlinkError) {
        while true {
            do {
                try pm.createSubflow(token: token, localID: id, local: local, remote: t.remote, interfaceIndex: t.interfaceIndex, backup: t.backup)
                return
            } catch where error.errno == ENOTCONN && ContinuousClock.now < deadline {
                if !fullyEstablished {
                    // The event may have come before the subscription: poll briefly, then retry.
                    pump(timeout: .microseconds(500))
                }
            }
        }
    }

    static func mapCreateError(_ e: NetlinkError, local: SocketEndpoint, remote: SocketEndpoint) -> SubflowError {
        switch e.errno {
        case EADDRINUSE:
            return SubflowError(.pathManager, "local port \(local.port) is busy toward \(remote) (4-tuple in use or in TIME_WAIT): pick another port or pass port 0", netlink: e)
        case EADDRNOTAVAIL:
            return SubflowError(.badArgument, "\(local.address) is not an address of this host (namespace)", netlink: e)
        case EPERM:
            return SubflowError(.pathManager, "the MPTCP path manager refused SUBFLOW_CREATE: it needs CAP_NET_ADMIN (run as root)", netlink: e)
        default:
            if e.extAckMessage?.contains("userspace PM not selected") == true {
                return SubflowError(.notUserspacePathManager, "this network namespace uses the in-kernel MPTCP path manager: run `sysctl -w net.mptcp.pm_type=1`", netlink: e)
            }
            return SubflowError(.pathManager, "SUBFLOW_CREATE \(local) → \(remote) refused", netlink: e)
        }
    }

    /// MPTCP_GET_SUB_IDS: every subflow with id, tuple, backup flag, state and counters.
    public func subflows() throws(SubflowError) -> [SubflowStatus] {
        pump(timeout: .microseconds(1))
        let (_, snaps) = try socket.fullInfo()
        return snaps.map { s in
            let k = Key(local: s.local, remote: s.remote)
            let t = tracked[k]
            let state: SubflowState = t?.state ?? (s.tcpState == 1 ? .up : .pending)
            return SubflowStatus(id: s.id, local: s.local, remote: s.remote, backup: t?.backup ?? backupSeen[k] ?? false,
                                 state: s.tcpState == 7 ? .closed : (state == .pending && s.tcpState == 1 && t == nil ? .up : state),
                                 localID: t?.localID, bytesSent: s.bytesSent, bytesReceived: s.bytesReceived, rttMicroseconds: s.rttMicroseconds)
        }
    }

    func snapshot(id: UInt32) throws(SubflowError) -> SubflowSnapshot {
        guard let s = try socket.fullInfo().subflows.first(where: { $0.id == id }) else {
            throw SubflowError(.invalidID, "no subflow with id \(id) on this connection")
        }
        return s
    }

    /// MPTCP_GET_SUB_TUPLE: the subflow's addresses, backup flag, interface and, for a subflow
    /// ``steering`` steers, its SRH (with the destination as its final segment).
    public func tuple(id: UInt32) throws(SubflowError) -> SubflowTuple {
        let s = try snapshot(id: id)
        let k = Key(local: s.local, remote: s.remote)
        let flow = FourTuple(s.local, s.remote)
        return SubflowTuple(local: s.local, remote: s.remote, backup: tracked[k]?.backup ?? backupSeen[k] ?? false,
                            interfaceIndex: tracked[k]?.interfaceIndex ?? 0, segmentRoutingHeader: steering?.steeredFlows[flow])
    }

    /// MPTCP_CLOSE_SUB_ID: closes one subflow and waits (up to `timeout`) for its SUB_CLOSED.
    /// - Throws: `.invalidID` (unknown id, or the kernel's "subflow not found"),
    ///   `.notSupported` for `.reset` upstream.
    public func closeSubflow(id: UInt32, how: SubflowCloseMode = .graceful, timeout: Duration = .seconds(2)) throws(SubflowError) {
        if how == .reset {
            throw SubflowError(.notSupported, "closing a subflow with RST is not supported by this kernel: the userspace path manager's SUBFLOW_DESTROY always closes gracefully (FIN)")
        }
        try checkManageable()
        let s = try snapshot(id: id)
        do {
            try pm.destroySubflow(token: token, local: s.local, remote: s.remote)
        } catch {
            if error.errno == ESRCH { throw SubflowError(.invalidID, "no subflow with id \(id)", netlink: error) }
            throw .pm(error, "SUBFLOW_DESTROY of subflow \(id) refused")
        }
        let k = Key(local: s.local, remote: s.remote)
        if tracked[k] == nil { tracked[k] = Tracked(localID: 0, backup: false, state: .up, interfaceIndex: 0) }
        let clock = ContinuousClock(), deadline = clock.now + timeout
        while tracked[k]?.state != .closed && clock.now < deadline { pump(timeout: min(deadline - clock.now, .milliseconds(50))) }
        // The local id stays bound to this address+port: the kernel keeps the
        // entry after SUBFLOW_DESTROY (re-using the port with
        // another id gives -22 "did not match address and id").
        socketOptions?.forget(local: s.local, remote: s.remote, namespace: socket.netnsCookie)
        unsteer(k)
    }

    /// Priority change (SET_FLAGS with both ports → MP_PRIO; the peer sees SUB_PRIORITY).
    public func setBackup(id: UInt32, _ backup: Bool) throws(SubflowError) {
        try checkManageable()
        let s = try snapshot(id: id)
        do { try pm.setBackup(token: token, local: s.local, remote: s.remote, backup: backup) } catch {
            throw .pm(error, "SET_FLAGS on subflow \(id) refused")
        }
        let k = Key(local: s.local, remote: s.remote)
        tracked[k]?.backup = backup
        backupSeen[k] = backup
    }

    /// RFC 6897 "add a local address": announces `address` to the peer (ADD_ADDR)
    /// and returns the local address id srte gave it.
    @discardableResult
    public func announce(_ address: SocketEndpoint) throws(SubflowError) -> UInt8 {
        try checkManageable()
        let id = try localID(for: address)
        do { try pm.announce(token: token, id: id, address: address) } catch {
            localIDs[address] = nil
            throw .pm(error, "ANNOUNCE of \(address) refused")
        }
        return id
    }

    /// RFC 6897 "restrict local addresses": withdraws local address id `id`
    /// (RM_ADDR); subflows using it close.
    public func removeAddress(id: UInt8) throws(SubflowError) {
        try checkManageable()
        do { try pm.remove(token: token, id: id) } catch {
            throw .pm(error, "REMOVE of local address id \(id) refused")
        }
        localIDs = localIDs.filter { $0.value != id }
    }

    /// The per-subflow sockopt program, when attached (see ``SubflowSocketOptions``).
    /// Without it, ``setSubflowOption(id:level:name:value:)`` is `.notSupported`.
    public var socketOptions: SubflowSocketOptions?

    /// How subflows opened with an SRH (``SubflowTuple/segmentRoutingHeader``) get it: the
    /// caller's steering, in the connection's namespace. The connection removes the entries
    /// of the subflows it opened when they close; the caller still owns (and removes) the rest.
    public var steering: SRHSteering?
    /// Subflows opened with an SRH, still steered.
    var steered: Set<Key> = []

    /// Removes the steering of a subflow opened with an SRH.
    func unsteer(_ k: Key) {
        guard steered.remove(k) != nil else { return }
        try? steering?.unsteer(FourTuple(k.local, k.remote))
    }

    /// `srh` with draft-03's `::` final segment replaced by `remote`'s address.
    /// - Throws: `.badArgument` when the final segment is another address (inline steering
    ///   delivers to the final segment, so it has to be the subflow's destination).
    static func completed(_ srh: SegmentRoutingHeader, toward remote: SocketEndpoint) throws(SubflowError) -> SegmentRoutingHeader {
        guard let last = srh.segments.last else { throw SubflowError(.badArgument, "the SRH has no segments") }
        if last == remote.address { return srh }
        guard last == .unspecified else {
            throw SubflowError(.badArgument, "the SRH's final segment \(last) is not the subflow's destination \(remote.address): give the destination or :: there")
        }
        var s = srh
        s.segments[s.segments.count - 1] = remote.address
        return s
    }

    static func int32(_ v: [UInt8]) -> Int32? {
        guard v.count == 4 else { return nil }
        var r = ByteReader(v)
        return r.read(Int32.self)
    }

    /// MPTCP_SUB_GETSOCKOPT for what upstream can read per subflow, from the
    /// kernel's socket diagnostics: `SO_MARK` and `IPV6_TCLASS` (4-byte native
    /// integers) and `TCP_CONGESTION` (the name). Anything else: `.notSupported`.
    public func subflowOption(id: UInt32, level: Int32, name: Int32) throws(SubflowError) -> [UInt8] {
        let s = try snapshot(id: id)
        let d: SubflowDiagnostics?
        do { d = try SubflowDiagnostics.all(on: diag).first { $0.local == s.local && $0.remote == s.remote } } catch {
            throw .pm(error, "sock_diag dump failed")
        }
        guard let d else { throw SubflowError(.invalidID, "subflow \(id) is not in the kernel's socket table any more") }
        var w = ByteWriter()
        switch (level, name) {
        case (SOL_SOCKET, SO_MARK): w.append(Int32(bitPattern: d.mark ?? 0))
        case (Int32(IPPROTO_IPV6), IPV6_TCLASS): w.append(Int32(d.trafficClass ?? 0))
        case (Int32(IPPROTO_TCP), TCP_CONGESTION): w.append(Array((d.congestionControl ?? "").utf8))
        default:
            throw SubflowError(.notSupported, "per-subflow getsockopt(\(level), \(name)) is not supported by this kernel: upstream exposes SO_MARK, IPV6_TCLASS and TCP_CONGESTION of a subflow (sock_diag), nothing else")
        }
        return w.bytes
    }

    /// MPTCP_SUB_SETSOCKOPT for what upstream can reach per subflow, through
    /// ``socketOptions`` (BPF sock_ops `bpf_setsockopt`): `SO_MARK`,
    /// `IPV6_TCLASS` (4-byte native integers), `TCP_CONGESTION` (a name).
    /// A live subflow picks the change up at its next RTT sample; see
    /// ``SubflowSocketOptions/status(local:remote:namespace:)``. Anything else: `.notSupported`.
    public func setSubflowOption(id: UInt32, level: Int32, name: Int32, value: [UInt8]) throws(SubflowError) {
        let s = try snapshot(id: id)
        let option: SubflowSocketOptions.Option
        switch (level, name) {
        case (SOL_SOCKET, SO_MARK):
            guard let v = Self.int32(value) else { throw SubflowError(.badArgument, "SO_MARK takes a 4-byte integer") }
            option = .mark(UInt32(bitPattern: v))
        case (Int32(IPPROTO_IPV6), IPV6_TCLASS):
            guard let v = Self.int32(value), (-1...255).contains(v) else { throw SubflowError(.badArgument, "IPV6_TCLASS takes a 4-byte integer -1...255") }
            option = .trafficClass(v)
        case (Int32(IPPROTO_TCP), TCP_CONGESTION):
            option = .congestionControl(String(decoding: value.prefix { $0 != 0 }, as: UTF8.self))
        default:
            throw SubflowError(.notSupported, "per-subflow setsockopt(\(level), \(name)) is not supported by this kernel: upstream can reach SO_MARK, IPV6_TCLASS and TCP_CONGESTION of one subflow (BPF sock_ops), nothing else")
        }
        guard let opts = socketOptions else {
            throw SubflowError(.notSupported, "per-subflow setsockopt needs the BPF sock_ops program: set `socketOptions = try SubflowSocketOptions()` (root) before opening the subflows")
        }
        try opts.set(option, local: s.local, remote: s.remote, namespace: socket.netnsCookie)
    }
}
