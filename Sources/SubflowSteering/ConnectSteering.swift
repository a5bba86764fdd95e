import Glibc
internal import CSRH
import SRv6Paths
import LinuxSystem

/// Steering entered as a connection starts, for programs srte does not control: a cgroup sock_ops
/// program that, when a TCP socket of this network namespace connects to a destination a rule
/// covers, gives the flow the rule's SRH before its SYN is built.
///
/// The kernel runs the hook (`BPF_SOCK_OPS_TCP_CONNECT_CB`) in `tcp_connect()`, after the local
/// port is assigned and before the SYN exists, for plain TCP and for every MPTCP subflow (joins
/// inherit their application's cgroup). The program writes the rule's SRH, with the
/// connection's destination as its final segment, into the flow map of a ``BPFSteering`` on the
/// egress interface (the two programs share the map), so the tc program inserts it from the SYN
/// on. A rule's path may be RFC 9800 containers, in a reduced SRH too (``Rule/reduced``): the
/// program copies the rule's wire form (``Rule/wire()``: Destination Address and SRH template)
/// and only fills in Segment List[0]. Flows already steered (a subflow srte steered itself) are left as they are; the socket's
/// MSS leaves room for the SRH (`TCP_MAXSEG`); an entry the program made goes when its socket
/// closes.
///
/// ```swift
/// let steering = try BPFSteering(interface: "h1-r1")
/// let onConnect = try ConnectSteering(steering: steering)
/// try onConnect.setRules([.init(destination: try IPv6Prefix(parsing: "fc00:2::/64"), waypoints: [sidB])])
/// // every TCP connection from this namespace to fc00:2::/64 now leaves via sidB
/// ```
///
/// The program stays attached until this object is closed or released, or the process dies.
public final class ConnectSteering {
    /// Connections to `destination` (and a port in `ports`, from `source`, by a process whose
    /// uid is in `uids` and whose cgroup is `cgroup` or below it) go through `waypoints`; with
    /// no waypoints they keep the IGP's path (and later rules do not apply to them).
    ///
    /// The uid and cgroup are those of the process calling `connect()` — for an application's
    /// socket, the application.
    public struct Rule: Hashable, Sendable {
        public var destination: IPv6Prefix
        public var ports: ClosedRange<UInt16>
        /// The SIDs in path order; the connection's destination is appended.
        public var waypoints: [IPv6Address]
        /// Source prefix (`nil`: any).
        public var source: IPv6Prefix?
        /// uids (`nil`: any).
        public var uids: ClosedRange<UInt32>?
        /// A cgroup v2 directory, absolute (`nil`: any).
        public var cgroup: String?
        /// Recorded for every flow the rule matches: ``match(of:)`` returns it.
        public var tag: UInt32
        /// Whether the SRH is reduced (RFC 8754 §4.1.1): `waypoints[0]` (typically an RFC 9800
        /// container) travels only as the packets' Destination Address and the Segment List
        /// holds the rest, 16 bytes less. The node that finishes it must accept Segments Left =
        /// Last Entry + 1 (srte's BPF End; not the kernel's own SRH processing).
        public var reduced: Bool

        public init(destination: IPv6Prefix, ports: ClosedRange<UInt16> = 1...65535, waypoints: [IPv6Address],
                    source: IPv6Prefix? = nil, uids: ClosedRange<UInt32>? = nil, cgroup: String? = nil, tag: UInt32 = 0,
                    reduced: Bool = false) {
            self.destination = destination
            self.ports = ports
            self.waypoints = waypoints
            self.source = source
            self.uids = uids
            self.cgroup = cgroup
            self.tag = tag
            self.reduced = reduced
        }

        /// The rule's wire form: the Destination Address its connections' packets get (the
        /// first waypoint, in a full SRH as in a reduced one) and the SRH template the program
        /// copies, whose Segment List[0] — the final destination, never compressed nor left out
        /// — is `::` until the program writes each connection's own destination there.
        /// `nil` for a rule without waypoints (the IGP path, no SRH).
        /// - Throws: `SRHError` for a list no SRH can carry.
        public func wire() throws -> (destination: IPv6Address, srh: [UInt8])? {
            try ConnectSteering.wire(waypoints: waypoints, reduced: reduced, final: .unspecified)
        }
    }

    /// The Destination Address and SRH bytes of a path through `waypoints` to `final`, reduced
    /// or not; `nil` without waypoints.
    static func wire(waypoints: [IPv6Address], reduced: Bool, final: IPv6Address) throws -> (destination: IPv6Address, srh: [UInt8])? {
        guard let first = waypoints.first else { return nil }
        if reduced {
            let r = try ReducedSegmentRoutingHeader(path: waypoints + [final], nextHeader: UInt8(IPPROTO_TCP))
            return (r.destination, try r.encoded())
        }
        let srh = try SegmentRoutingHeader(path: waypoints + [final], nextHeader: UInt8(IPPROTO_TCP))
        return (first, try srh.encoded())
    }

    /// The flow map's value for a path through `waypoints` to `final` (`::`: written per
    /// connection by the program), and the MSS that leaves room for its SRH.
    func mapValue(waypoints: [IPv6Address], reduced: Bool, final: IPv6Address) throws -> (csrh_steer_value, mss: UInt32)? {
        guard let (destination, bytes) = try Self.wire(waypoints: waypoints, reduced: reduced, final: final) else { return nil }
        let value = try BPFSteering.mapValue(wire: bytes, segments: waypoints.count + (reduced ? 0 : 1), destination: destination)
        steering.resolveFirstHop(destination)
        // The route MTU was looked up before the hook runs: leave room for the SRH in the MSS
        // (IPv6 40 and TCP 20 bytes besides it).
        return (value, steering.interfaceMTU - 60 - value.length)
    }

    /// The most rules the program holds.
    public static let maxRules = Int(CSRH_CONNECT_MAX_RULES)

    /// The tc steering whose flow map the program fills.
    public let steering: BPFSteering
    /// The network namespace (its cookie) whose sockets are steered: the caller's at creation.
    public let namespaceCookie: UInt64
    private var object: BPFObject?
    private var linkFD: Int32 = -1
    private var rulesFD: Int32 = -1
    private var statsFD: Int32 = -1
    private var matchFD: Int32 = -1
    private var ownedFD: Int32 = -1
    private var joinFD: Int32 = -1
    private var configFD: Int32 = -1
    /// The cgroup v2 mount the program is attached under (rules' cgroups are looked up in it).
    let cgroupRoot: String
    /// The rules in force, in order.
    public private(set) var rules: [Rule] = []

    /// Loads the program, sharing `steering`'s flow map, and attaches it to `cgroup` (cgroup v2)
    /// for the sockets of the calling thread's network namespace.
    /// - Parameters:
    ///   - steering: the tc steering whose flow map the program fills.
    ///   - cgroup: the cgroup v2 directory whose programs' sockets are steered.
    ///   - agentProcess: a process whose own connections never match rules but take the join
    ///     armed by ``connectJoin(to:along:mss:_:)`` (an agent's `SUBFLOW_CREATE` joins).
    ///   - skipLocalPorts: local ports whose connections never match (srte's own range).
    /// - Throws: ``SteeringError`` with the errno and libbpf's log.
    public init(steering: BPFSteering, cgroup: String = SubflowSocketOptions.defaultCgroup,
                agentProcess: pid_t? = nil, skipLocalPorts: ClosedRange<UInt16>? = nil) throws {
        self.steering = steering
        self.cgroupRoot = cgroup
        do throws(SystemCallError) {
            let cookie = try NetworkNamespace.currentCookie()
            namespaceCookie = cookie
            let o = try BPFObject(embedded: srhConnectObject, what: "the connect-time steering program",
                                  sharing: (map: "srte_flows", fd: steering.flowMapFD))
            rulesFD = try o.mapFD("srte_crules")
            statsFD = try o.mapFD("srte_cstats")
            matchFD = try o.mapFD("srte_cmatch")
            ownedFD = try o.mapFD("srte_cowned")
            joinFD = try o.mapFD("srte_cjoin")
            var zero: UInt32 = 0
            var config = csrh_connect_config(netns: cookie, agent_tgid: UInt32(agentProcess ?? 0),
                                             skip_port_lo: skipLocalPorts?.lowerBound ?? 0, skip_port_hi: skipLocalPorts?.upperBound ?? 0)
            configFD = try o.mapFD("srte_cconfig")
            try BPFMap.update(configFD, key: &zero, value: &config)
            linkFD = try o.attachCgroupSockOps(path: cgroup)
            object = o
        } catch {
            // Under `ip netns exec` the cgroup v2 mount is gone (it remounts /sys).
            let hint = error.errno == ENOENT && access(cgroup, F_OK) != 0
                ? "no cgroup v2 directory \(cgroup) here: `ip netns exec` hides the cgroup v2 mount; enter the namespace with srte's own --netns instead"
                : error.detail
            throw SteeringError("\(error.call) (cgroup \(cgroup))", errno: error.errno, detail: hint)
        }
    }

    deinit { close() }

    /// Replaces the rules; the first that covers a connection's destination and port applies.
    /// Connections already steered keep their SRH.
    /// - Throws: ``SteeringError`` for more than ``maxRules`` rules, an SRH the tc program cannot
    ///   carry, or a failed map update.
    public func setRules(_ new: [Rule]) throws {
        guard object != nil else { throw SteeringError("connect-time steering was closed") }
        guard new.count <= Self.maxRules else { throw SteeringError("\(new.count) rules: the program holds at most \(Self.maxRules)") }
        for i in 0..<Self.maxRules {
            var slot = csrh_connect_rule()
            if i < new.count {
                let r = new[i]
                if let (value, mss) = try mapValue(waypoints: r.waypoints, reduced: r.reduced, final: .unspecified) {
                    slot.srh = value
                    slot.mss = mss
                }
                let ones = IPv6Address(high: ~0, low: ~0)
                withUnsafeMutableBytes(of: &slot.net) { $0.copyBytes(from: r.destination.address.bytes) }
                withUnsafeMutableBytes(of: &slot.mask) { $0.copyBytes(from: ones.masked(to: r.destination.length).bytes) }
                if let source = r.source {
                    withUnsafeMutableBytes(of: &slot.src_net) { $0.copyBytes(from: source.address.bytes) }
                    withUnsafeMutableBytes(of: &slot.src_mask) { $0.copyBytes(from: ones.masked(to: source.length).bytes) }
                }
                slot.port_lo = r.ports.lowerBound
                slot.port_hi = r.ports.upperBound
                slot.uid_lo = r.uids?.lowerBound ?? 0
                slot.uid_hi = r.uids?.upperBound ?? UInt32.max
                if let cgroup = r.cgroup {
                    let (id, level) = try cgroupIdentity(cgroup)
                    slot.cgroup_id = id
                    slot.cgroup_level = level
                }
                slot.tag = r.tag
                slot.in_use = 1
            }
            var key = UInt32(i)
            do throws(SystemCallError) { try BPFMap.update(rulesFD, key: &key, value: &slot) } catch {
                throw SteeringError("setting connect-time rule \(i + 1)", errno: error.errno)
            }
        }
        rules = new
    }

    /// The cgroup v2 id (its directory's inode number) and depth below the mount of `path`, an
    /// absolute cgroup path such as `/system.slice/iperf3.service`.
    /// - Throws: ``SteeringError`` when no such cgroup exists.
    func cgroupIdentity(_ path: String) throws -> (id: UInt64, level: UInt32) {
        let parts = path.split(separator: "/").filter { !$0.isEmpty && $0 != "." }
        let full = ([cgroupRoot] + parts.map(String.init)).joined(separator: "/")
        var st = stat()
        guard stat(full, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
            throw SteeringError("cgroup \(path): no directory \(full)", errno: Errno.current)
        }
        return (UInt64(st.st_ino), UInt32(parts.count))
    }

    /// How many flows the tc program steers now (entries of the shared flow map, whoever wrote
    /// them) and how many flows the program holds a match record for: once the connections are
    /// gone and the agent has read their records, both are 0.
    public func entryCounts() -> (flows: Int, matches: Int) {
        guard object != nil else { return (0, 0) }
        func count(_ fd: Int32) -> Int {
            var key = csrh_steer_key(), next = csrh_steer_key(), n = 0
            var more = BPFMap.nextKey(fd, after: nil, into: &next)
            while more && n < 1_000_000 {
                n += 1
                key = next
                more = BPFMap.nextKey(fd, after: &key, into: &next)
            }
            return n
        }
        return (count(steering.flowMapFD), count(matchFD))
    }

    /// Changes the local ports whose connections never match (`nil`: none).
    /// - Throws: ``SteeringError`` for a failed map update.
    public func setSkippedLocalPorts(_ ports: ClosedRange<UInt16>?) throws {
        guard object != nil else { throw SteeringError("connect-time steering was closed") }
        var zero: UInt32 = 0
        var config = csrh_connect_config()
        guard BPFMap.lookup(configFD, key: &zero, into: &config) else { throw SteeringError("reading the connect-time configuration") }
        config.skip_port_lo = ports?.lowerBound ?? 0
        config.skip_port_hi = ports?.upperBound ?? 0
        do throws(SystemCallError) { try BPFMap.update(configFD, key: &zero, value: &config) } catch {
            throw SteeringError("setting the skipped local ports", errno: error.errno)
        }
    }

    /// The tag of the rule that matched connection `flow` (its initial subflow) when it
    /// connected, until the record is forgotten; `nil` when no rule matched.
    public func match(of flow: FourTuple) -> UInt32? { record(of: flow)?.tag }

    /// What the program recorded for connection `flow`: the rule's tag, and whether the socket
    /// has closed. The record stays until ``forget(_:)``.
    public func record(of flow: FourTuple) -> (tag: UInt32, closed: Bool)? {
        guard object != nil else { return nil }
        var key = BPFSteering.key(flow)
        var m = csrh_connect_match()
        return BPFMap.lookup(matchFD, key: &key, into: &m) ? (m.tag, m.closed != 0) : nil
    }

    /// Whether the program steers `flow` now (it wrote its entry in the flow map, which goes
    /// when the socket closes).
    public func steers(_ flow: FourTuple) -> Bool {
        guard object != nil else { return false }
        var key = BPFSteering.key(flow)
        var one: UInt8 = 0
        return BPFMap.lookup(ownedFD, key: &key, into: &one)
    }

    /// Deletes the record of `flow` (the agent has read it, or the connection is gone).
    public func forget(_ flow: FourTuple) {
        guard object != nil else { return }
        var key = BPFSteering.key(flow)
        _ = try? BPFMap.delete(matchFD, key: &key)
    }

    /// Arms the pending join for one socket the agent process connects to `remote` (a
    /// `SUBFLOW_CREATE` with local port 0, run in `body`): that socket gets `srh` (`nil`: the
    /// IGP path; Segment List[0] is set to `remote`'s address) and `mss` before its SYN, and
    /// the program reports the local port it got. One join at a time.
    /// - Returns: `body`'s result and the local port the join got (`nil` when no socket took it).
    /// - Throws: ``SteeringError`` for an SRH the program cannot carry or a failed map update,
    ///   or what `body` throws.
    public func connectJoin<T>(to remote: SocketEndpoint, along srh: SegmentRoutingHeader?, mss: UInt32 = 0,
                               _ body: () throws -> T) throws -> (T, localPort: UInt16?) {
        guard object != nil else { throw SteeringError("connect-time steering was closed") }
        var value: (csrh_steer_value, mss: UInt32)? = nil
        if let srh {
            let v = try BPFSteering.mapValue(srh)
            steering.resolveFirstHop(of: srh)
            value = (v, steering.interfaceMTU - 60 - v.length)
        }
        return try arm(remote, value, mss: mss, body)
    }

    /// Arms the pending join as ``connectJoin(to:along:mss:_:)`` does, with the path in its wire
    /// form: through `waypoints` (empty: the IGP path) in a full SRH, or in a reduced one
    /// (`reduced`: the first waypoint, typically an RFC 9800 container, only as Destination
    /// Address). Segment List[0] is `remote`'s address.
    /// - Returns: `body`'s result and the local port the join got (`nil` when no socket took it).
    /// - Throws: ``SteeringError`` or `SRHError` for a path the program cannot carry, a failed
    ///   map update, or what `body` throws.
    public func connectJoin<T>(to remote: SocketEndpoint, waypoints: [IPv6Address], reduced: Bool, mss: UInt32 = 0,
                               _ body: () throws -> T) throws -> (T, localPort: UInt16?) {
        guard object != nil else { throw SteeringError("connect-time steering was closed") }
        return try arm(remote, try mapValue(waypoints: waypoints, reduced: reduced, final: remote.address), mss: mss, body)
    }

    private func arm<T>(_ remote: SocketEndpoint, _ value: (csrh_steer_value, mss: UInt32)?, mss: UInt32,
                        _ body: () throws -> T) throws -> (T, localPort: UInt16?) {
        var slot = csrh_connect_join()
        withUnsafeMutableBytes(of: &slot.daddr) { $0.copyBytes(from: remote.address.bytes) }
        slot.dport = remote.port
        slot.armed = 1
        if let value {
            slot.srh = value.0
            slot.mss = mss != 0 ? mss : value.mss
        } else {
            slot.mss = mss
        }
        var zero: UInt32 = 0
        do throws(SystemCallError) { try BPFMap.update(joinFD, key: &zero, value: &slot) } catch {
            throw SteeringError("arming the pending join", errno: error.errno)
        }
        defer {
            var cleared = csrh_connect_join()
            try? BPFMap.update(joinFD, key: &zero, value: &cleared)
        }
        let result = try body()
        var after = csrh_connect_join()
        let port: UInt16? = BPFMap.lookup(joinFD, key: &zero, into: &after) && after.armed == 0 && after.sport != 0 ? after.sport : nil
        return (result, port)
    }

    /// Connections that got a rule's SRH on their SYN, connections that were steered already
    /// (left alone), and entries removed as their sockets closed.
    public func counters() -> (steered: UInt64, kept: UInt64, removed: UInt64) {
        guard object != nil else { return (0, 0, 0) }
        return (BPFMap.perCPUSum(statsFD, index: UInt32(CSRH_CONNECT_STAT_STEERED)),
                BPFMap.perCPUSum(statsFD, index: UInt32(CSRH_CONNECT_STAT_KEPT)),
                BPFMap.perCPUSum(statsFD, index: UInt32(CSRH_CONNECT_STAT_REMOVED)))
    }

    /// Detaches the program. Entries it made stay in the shared flow map until their sockets
    /// close or ``BPFSteering/removeAll()`` removes the map.
    public func close() {
        if linkFD >= 0 { Glibc.close(linkFD); linkFD = -1 }
        object?.close()
        object = nil
    }
}
