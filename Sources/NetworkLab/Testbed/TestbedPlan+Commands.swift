import SRv6Paths
import LinuxSystem
import SubflowSteering

/// The iproute2/tc command lines and sysctl settings that realise a plan, as pure text (so
/// they can be checked without root). ``Testbed`` feeds them to `ip -batch` and `tc -batch`.
extension TestbedPlan {
    /// The default tbf queue bound, in milliseconds of traffic at the link rate.
    public static let tbfLatencyMilliseconds = 50

    /// `ip -batch` lines, run in the root namespace, that create every veth pair straight into
    /// its two namespaces (so nothing is ever left in the root namespace).
    public func vethCommands() -> [String] { vethCommands(bridged: []) }

    /// Sysctls to set in a node's namespace before its interfaces exist (paths under
    /// `/proc/sys`, values as text): no DAD, addresses kept across `link down`, SRv6 accepted,
    /// forwarding on routers only, and on hosts MPTCP with the chosen path manager and no
    /// blackhole timeout.
    ///
    /// `net.mptcp.blackhole_timeout` is 0 on hosts: otherwise one MPTCP SYN lost in a lab (a
    /// link taken down, a path not yet steered) makes the kernel open every later connection of
    /// the namespace as plain TCP for an hour. Like every sysctl here it belongs to the
    /// namespace, so it goes with it. Kernels before 6.12 lack it
    /// (``TestbedPlan/optionalSysctls``).
    public func namespaceSysctls(for node: Node, mptcpPathManager: MPTCPPathManagerKind = .userspace) -> [(String, String)] {
        var s: [(String, String)] = []
        for scope in ["all", "default"] {
            s.append(("net/ipv6/conf/\(scope)/accept_dad", "0"))
            s.append(("net/ipv6/conf/\(scope)/keep_addr_on_down", "1"))
            s.append(("net/ipv6/conf/\(scope)/seg6_enabled", "1"))
            s.append(("net/ipv6/conf/\(scope)/forwarding", node.isRouter ? "1" : "0"))
        }
        // Multipath routes hash the 5-tuple (not the flow label), so a flow's ECMP branch is
        // a function of its ports.
        s.append(("net/ipv6/fib_multipath_hash_policy", "1"))
        if !node.isRouter {
            s.append(("net/mptcp/enabled", "1"))
            s.append(("net/mptcp/pm_type", String(mptcpPathManager.rawValue)))
            s.append(("net/mptcp/blackhole_timeout", "0"))
        }
        return s
    }

    /// Sysctls a kernel may lack: `Testbed` skips them where `/proc/sys` has no such file
    /// (`net.mptcp.blackhole_timeout` came with Linux 6.12).
    public static let optionalSysctls: Set<String> = ["net/mptcp/blackhole_timeout"]

    /// Per-interface sysctls (after the veths exist): SRv6 accepted on `lo` and every link.
    public func interfaceSysctls(for node: Node) -> [(String, String)] {
        (["lo"] + node.interfaces.map(\.name)).flatMap { i in
            [("net/ipv6/conf/\(i)/seg6_enabled", "1"), ("net/ipv6/conf/\(i)/accept_dad", "0")]
        }
    }

    /// `ip -6 -batch` lines for a node: loopback up, on routers the SID device pair
    /// (``TestbedPlan/sidDevice``), links up (alias = peer name), link
    /// addresses and the host address (`nodad`), and on hosts the MPTCP limits.
    public func addressCommands(for node: Node) -> [String] {
        var c = ["link set dev lo up"]
        if node.isRouter {
            c.append("link add name \(TestbedPlan.sidDevice) type veth peer name \(TestbedPlan.sidDevicePeer)")
            c.append("link set dev \(TestbedPlan.sidDevicePeer) up")
            c.append("link set dev \(TestbedPlan.sidDevice) up")
        }
        for i in node.interfaces {
            c.append("link set dev \(i.name) up alias \(i.peer)")
            c.append("addr add \(i.address)/64 dev \(i.name) nodad")
        }
        if let a = node.address {
            c.append("addr add \(a)/128 dev lo nodad")
            c.append("mptcp limits set subflows 8 add_addr_accepted 8")
        }
        return c
    }

    /// `ip -6 -batch` lines for a node's SIDs (`seg6local` End / End.X, with counters, unless
    /// `seg6local` is false: then the BPF router program carries them) and routes (multipath
    /// when there are several next hops). They use `replace`, so they can be re-run to restore
    /// routes the kernel dropped when a link went down.
    ///
    /// A router's C-SIDs (RFC 9800 NEXT-C-SID) become `seg6local … flavors next-csid lblen B nflen
    /// C` routes for the prefix block + C-SID (Linux 6.1 for End, 6.6 for End.X): the kernel
    /// shifts the container itself, and an End.X C-SID from the router's local range is found by
    /// the route lookup that follows the End C-SID's shift, on the same router.
    public func routeCommands(for node: Node, seg6local: Bool = true) -> [String] {
        var c: [String] = []
        for s in node.sids where seg6local && s.isNextCSID {
            guard let f = node.csid else { continue }
            let flavor = "flavors next-csid lblen \(f.block) nflen \(f.csid)"
            if s.behavior == "End.X", let nh = s.nexthop {
                c.append("route replace \(s.address)/\(f.block + f.csid) encap seg6local action End.X nh6 \(nh) \(flavor) count dev \(s.interface)")
            } else {
                c.append("route replace \(s.address)/\(f.block + f.csid) encap seg6local action End \(flavor) count dev \(s.interface)")
            }
        }
        for s in node.sids where seg6local && !s.isNextCSID {
            if s.behavior == "End.X", let nh = s.nexthop {
                c.append("route replace \(s.address)/128 encap seg6local action End.X nh6 \(nh) count dev \(s.interface)")
            } else {
                c.append("route replace \(s.address)/128 encap seg6local action End count dev \(s.interface)")
            }
        }
        for r in node.routes {
            var line = "route replace \(r.destination)"
            if let src = r.source { line += " src \(src)" }
            if r.nexthops.count == 1 {
                line += " via \(r.nexthops[0].via) dev \(r.nexthops[0].interface)"
            } else {
                for h in r.nexthops { line += " nexthop via \(h.via) dev \(h.interface)" }
            }
            c.append(line)
        }
        return c
    }

    /// `tc -batch` lines for a node's egress qdiscs: a tbf at the link's bandwidth, under a
    /// netem with the link's delay when `emulateDelay` (kernels with `sch_netem`).
    public func qdiscCommands(for node: Node, emulateDelay: Bool) -> [String] {
        var c: [String] = []
        for i in node.interfaces {
            let l = links[i.link]
            var parent = "root"
            if emulateDelay {
                c.append("qdisc replace dev \(i.name) root handle 1: netem delay \(l.delay)us")
                parent = "parent 1:"
            }
            if let bw = l.bandwidth {
                c.append("qdisc replace dev \(i.name) \(parent) handle 2: tbf rate \(bw)bit burst \(TestbedPlan.tbfBurst(bitsPerSecond: bw)) latency \(TestbedPlan.tbfLatencyMilliseconds)ms peakrate \(TestbedPlan.tbfPeakRate(bitsPerSecond: bw))bit mtu \(TestbedPlan.tbfPeakBucket(bitsPerSecond: bw, mtu: l.effectiveMTU))")
            }
        }
        return c
    }

    /// The tbf bucket size in bytes for a rate: 10 ms of traffic, at least 32 KiB (several
    /// full-size frames, so the rate is reached at any timer granularity).
    public static func tbfBurst(bitsPerSecond: Int) -> Int {
        max(32 * 1024, bitsPerSecond / 8 / 100)
    }

    /// The largest Ethernet frame on a link of the default MTU (1500) with its 14-byte header.
    public static let maxFrameBytes = Topology.defaultMTU + 14

    /// The tbf peak rate: twice the link rate, at least 1 Gbit/s. It exists for its bucket
    /// (``tbfPeakBucket(bitsPerSecond:mtu:)``), not to limit anything.
    ///
    /// Why a peak rate at all: without one, tbf charges a GSO packet (one skb holding many
    /// segments, which veth hands on whole) `skb->len` plus, per further segment, the header
    /// length the kernel finds at the skb's transport header. A forwarded SRv6 packet's transport
    /// header is its SRH, so each further segment is charged 54 bytes instead of 126 (Ethernet,
    /// IPv6, SRH, TCP with timestamps), and a link would carry more than its rate of real
    /// frames of an SRH-steered MPTCP subflow. With a peak bucket of one
    /// frame, tbf segments every GSO packet (`tbf_segment`) and charges each frame its length.
    public static func tbfPeakRate(bitsPerSecond: Int) -> Int {
        max(2 * bitsPerSecond, 1_000_000_000)
    }

    /// The tbf peak bucket (`mtu`) in bytes: one full frame of a link with this MTU plus a
    /// margin of at least four psched ticks (64 ns each) at the peak rate, which tc rounds the
    /// bucket to. Larger GSO packets are segmented before they are charged.
    public static func tbfPeakBucket(bitsPerSecond: Int, mtu: Int = Topology.defaultMTU) -> Int {
        let perTick = tbfPeakRate(bitsPerSecond: bitsPerSecond) / 8 * 64 / 1_000_000_000
        return mtu + 14 + max(64, 4 * perTick)
    }
}
