import Glibc
import SRv6Paths
import LinuxSystem

/// Per-flow SRH insertion by policy routing: for each flow a rule
/// (`from SRC to DST ipproto tcp sport SP dport DP`) selects a table of its own
/// holding a `/128` route to the peer with a seg6 inline encapsulation.
///
/// The kernel reserves headroom for the SRH, so path MTU needs no help (unlike
/// ``BPFSteering``). Replacing a flow's route re-steers it live. Everything is
/// tagged `proto 83` and removed by ``unsteer(_:)``, ``removeAll()`` and on
/// release; after SIGKILL the rules and routes stay until
/// ``removeLeftovers()`` (or `srte cleanup`) removes them.
///
/// ```swift
/// let steering = try PolicyRoutingSteering()        // in the sender's namespace
/// try steering.steer(tuple, along: try SegmentRoutingHeader(path: [sid, peer]))
/// ```
public final class PolicyRoutingSteering: SRHSteering {
    /// Rule priority of the flow rules (before `main` at 32766).
    public static let rulePriority: UInt32 = 1000
    /// First table number srte uses; each flow gets its own.
    public static let tableBase: UInt32 = 0x5300_0000

    private let connection: NetlinkConnection
    private var entries: [FourTuple: (srh: SegmentRoutingHeader, table: UInt32)] = [:]
    private var nextSlot: UInt32 = 0
    private let tableStart: UInt32

    public var steeredFlows: [FourTuple: SegmentRoutingHeader] { entries.mapValues(\.srh) }

    /// Opens an rtnetlink socket in the calling thread's network namespace.
    /// - Throws: `NetlinkError`; EOPNOTSUPP with the kernel's message when the kernel has
    ///   no seg6 routes (``kernelProblem()``).
    public init() throws(NetlinkError) {
        connection = try NetlinkConnection(.route)
        if let problem = RouteTable.seg6RoutesProblem(table: PolicyRoutingSteering.tableBase - 1, on: connection) {
            throw NetlinkError(operation: "policy-routing steering needs seg6 routes, which this kernel lacks (CONFIG_IPV6_SEG6_LWTUNNEL; use --steer bpf): a test route with encap seg6 was refused",
                               errno: EOPNOTSUPP, extAckMessage: problem)
        }
        // 4096 tables per process, by pid: concurrent srte processes in one namespace do not collide.
        tableStart = PolicyRoutingSteering.tableBase + (UInt32(getpid()) & 0xfff) << 12
    }

    deinit { removeAll() }

    public func steer(_ flow: FourTuple, along srh: SegmentRoutingHeader) throws {
        guard srh.segments.last == flow.remoteAddress else {
            throw SteeringError("the SRH's last segment \(srh.segments.last.map { "\($0)" } ?? "none") is not the flow's destination \(flow.remoteAddress) (inline mode)")
        }
        let table: UInt32
        let isNew: Bool
        if let e = entries[flow] {
            table = e.table
            isNew = false
        } else {
            guard nextSlot < 4096 else { throw SteeringError("policy-routing steering holds at most 4096 flows per process") }
            table = tableStart + nextSlot
            nextSlot += 1
            isNew = true
        }
        let via = try RouteTable.lookup(flow.remoteAddress, on: connection)
        try RouteTable.replaceInlineSRHRoute(to: flow.remoteAddress, srh: srh, via: via, table: table, on: connection)
        if isNew {
            do { try RouteTable.addFlowRule(flow, priority: Self.rulePriority, table: table, on: connection) } catch {
                try? RouteTable.deleteRoute(to: flow.remoteAddress, table: table, on: connection)
                throw error
            }
        }
        entries[flow] = (srh, table)
    }

    /// Whether this kernel can insert an SRH by a seg6 route (`CONFIG_IPV6_SEG6_LWTUNNEL`), in
    /// the calling thread's namespace: `nil` when it can (or when that cannot be tried, e.g.
    /// without CAP_NET_ADMIN, so that the real operation reports the real problem), otherwise
    /// the kernel's message.
    public static func kernelProblem() -> String? {
        guard let c = try? NetlinkConnection(.route) else { return nil }
        return RouteTable.seg6RoutesProblem(table: PolicyRoutingSteering.tableBase - 1, on: c)
    }

    public func unsteer(_ flow: FourTuple) throws {
        guard let e = entries[flow] else { return }
        try RouteTable.deleteFlowRule(flow, priority: Self.rulePriority, table: e.table, on: connection)
        try RouteTable.deleteRoute(to: flow.remoteAddress, table: e.table, on: connection)
        entries[flow] = nil
    }

    public func removeAll() {
        for flow in Array(entries.keys) { try? unsteer(flow) }
    }

    /// Removes every srte-tagged rule and route (proto 83) in the calling
    /// thread's namespace, e.g. after an srte process was killed with SIGKILL.
    /// - Returns: how many rules and routes were removed.
    @discardableResult
    public static func removeLeftovers() throws(NetlinkError) -> (rules: Int, routes: Int) {
        let c = try NetlinkConnection(.route)
        let rules = try RouteTable.srteRules(on: c)
        for r in rules { try RouteTable.deleteRule(priority: r.priority, table: r.table, on: c) }
        let routes = try RouteTable.srteRoutes(on: c)
        for r in routes { try RouteTable.deleteRoute(to: r.destination, table: r.table, on: c) }
        return (rules.count, routes.count)
    }
}
