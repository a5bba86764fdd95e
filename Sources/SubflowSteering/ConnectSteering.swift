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
/// on. Flows already steered (a subflow srte steered itself) are left as they are; the socket's
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
    /// Connections to `destination` (and a port in `ports`) go through `waypoints`; with no
    /// waypoints they keep the IGP's path (and later rules do not apply to them).
    public struct Rule: Hashable, Sendable {
        public var destination: IPv6Prefix
        public var ports: ClosedRange<UInt16>
        /// The SIDs in path order; the connection's destination is appended.
        public var waypoints: [IPv6Address]

        public init(destination: IPv6Prefix, ports: ClosedRange<UInt16> = 1...65535, waypoints: [IPv6Address]) {
            self.destination = destination
            self.ports = ports
            self.waypoints = waypoints
        }
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
    /// The rules in force, in order.
    public private(set) var rules: [Rule] = []

    /// Loads the program, sharing `steering`'s flow map, and attaches it to `cgroup` (cgroup v2)
    /// for the sockets of the calling thread's network namespace.
    /// - Throws: ``SteeringError`` with the errno and libbpf's log.
    public init(steering: BPFSteering, cgroup: String = SubflowSocketOptions.defaultCgroup) throws {
        self.steering = steering
        do throws(SystemCallError) {
            let cookie = try NetworkNamespace.currentCookie()
            namespaceCookie = cookie
            let o = try BPFObject(embedded: srhConnectObject, what: "the connect-time steering program",
                                  sharing: (map: "srte_flows", fd: steering.flowMapFD))
            rulesFD = try o.mapFD("srte_crules")
            statsFD = try o.mapFD("srte_cstats")
            var zero: UInt32 = 0
            var config = csrh_connect_config(netns: cookie)
            try BPFMap.update(try o.mapFD("srte_cconfig"), key: &zero, value: &config)
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
                if !r.waypoints.isEmpty {
                    let srh = try SegmentRoutingHeader(path: r.waypoints + [.unspecified], nextHeader: UInt8(IPPROTO_TCP))
                    slot.srh = try BPFSteering.mapValue(srh)
                    steering.resolveFirstHop(of: srh)
                    // The route MTU was looked up before the hook runs: leave room for the SRH
                    // in the MSS (IPv6 40 and TCP 20 bytes besides it).
                    slot.mss = steering.interfaceMTU - 60 - slot.srh.length
                }
                let net = r.destination.address.bytes
                let mask = IPv6Address(high: ~0, low: ~0).masked(to: r.destination.length).bytes
                withUnsafeMutableBytes(of: &slot.net) { $0.copyBytes(from: net) }
                withUnsafeMutableBytes(of: &slot.mask) { $0.copyBytes(from: mask) }
                slot.port_lo = r.ports.lowerBound
                slot.port_hi = r.ports.upperBound
                slot.in_use = 1
            }
            var key = UInt32(i)
            do throws(SystemCallError) { try BPFMap.update(rulesFD, key: &key, value: &slot) } catch {
                throw SteeringError("setting connect-time rule \(i + 1)", errno: error.errno)
            }
        }
        rules = new
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
