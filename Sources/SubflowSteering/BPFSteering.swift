import Glibc
internal import CSRH
import SRv6Paths
import LinuxSystem

/// Per-flow SRH insertion by a tc egress BPF program (Sources/CSRH/bpf/srh_steer.bpf.c).
///
/// The program is attached to one interface's egress through a TCX link: the
/// kernel detaches it when the link's last file descriptor closes, so nothing
/// stays attached after ``removeAll()``, after this value is released, or
/// after the process dies (even by SIGKILL). A hash map keyed by the 4-tuple
/// holds each flow's SRH; updating an entry re-steers a live flow.
///
/// The stack does not know the packets grow by the SRH: the caller must lower
/// the route MTU toward the peer by `8 + 16·n` bytes (plus TLVs), or full-size
/// packets are dropped at the first hop.
///
/// ```swift
/// let steering = try NetworkNamespace.run(in: "lab-h1") { try BPFSteering(interface: "h1-r1") }
/// try steering.steer(tuple, along: try SegmentRoutingHeader(path: [sid, peer], nextHeader: 6))
/// ```
public final class BPFSteering: SRHSteering {
    /// The interface whose egress carries the program.
    public let interface: String
    /// The interface MTU when steering started.
    public let interfaceMTU: UInt32
    private let routes: NetlinkConnection
    /// Per destination: the MTU route installed for it, and how many steered flows use it.
    private var mtuRoutes: [IPv6Address: (mtu: UInt32, flows: Set<FourTuple>)] = [:]
    private var object: BPFObject?
    private var linkFD: Int32 = -1
    private var flowsFD: Int32 = -1
    private var statsFD: Int32 = -1
    public private(set) var steeredFlows: [FourTuple: SegmentRoutingHeader] = [:]
    private let interfaceIndex: UInt32
    /// First hops on other interfaces whose neighbour is known to be resolved.
    private var resolvedHops: Set<IPv6Address> = []
    /// First segments that leave by another interface (their neighbour must stay resolved).
    private var redirectedHops: Set<IPv6Address> = []

    /// Loads the program and attaches it to `interface` egress, in the calling
    /// thread's network namespace.
    /// - Throws: ``SteeringError`` with the errno and libbpf's log (verifier output) on failure.
    public init(interface: String) throws {
        self.interface = interface
        do throws(SystemCallError) {
            interfaceIndex = try NetworkInterface.index(of: interface)
            interfaceMTU = try NetworkInterface.mtu(of: interface)
        } catch {
            throw SteeringError(error.call, errno: error.errno)
        }
        let ifindex = interfaceIndex
        routes = try NetlinkConnection(.route)
        do throws(SystemCallError) {
            let o = try BPFObject(embedded: srhSteerObject, what: "the BPF steering program")
            flowsFD = try o.mapFD("srte_flows")
            statsFD = try o.mapFD("srte_stats")
            linkFD = try o.attachTCX(ifindex: Int32(ifindex), ingress: false)
            object = o
        } catch {
            throw SteeringError(error.call, errno: error.errno, detail: error.detail)
        }
    }

    deinit { removeAll() }

    public func steer(_ flow: FourTuple, along srh: SegmentRoutingHeader) throws {
        guard object != nil else { throw SteeringError("steering on \(interface) was removed") }
        guard srh.segments.last == flow.remoteAddress else {
            throw SteeringError("the SRH's last segment \(srh.segments.last.map { "\($0)" } ?? "none") is not the flow's destination \(flow.remoteAddress) (inline mode)")
        }
        var value = try Self.mapValue(srh)
        let wire = Int(value.length)
        resolveFirstHop(of: srh)
        // The stack does not know the packets grow: lower the route MTU toward
        // the peer first, or full-size packets die at the first router.
        try lowerRouteMTU(for: flow, by: wire)
        var key = BPFSteering.key(flow)
        do throws(SystemCallError) { try BPFMap.update(flowsFD, key: &key, value: &value) } catch {
            throw SteeringError("steering \(flow) (BPF map update)", errno: error.errno)
        }
        steeredFlows[flow] = srh
    }

    /// Steers `flow` along a reduced SRH (RFC 8754 §4.1.1): the packets get
    /// `srh.destination` (the first segment, typically an RFC 9800 container) as
    /// Destination Address and carry only the rest of the list, 16 bytes less than
    /// the full header. Every node that finishes the first segment must accept
    /// Segments Left = Last Entry + 1: srte's BPF End does, the kernel's own SRH
    /// processing does not (see `SegmentRoutingHeader.kernelReceive(_:seg6Enabled:)`).
    /// ``steeredFlows`` shows the flow with the full header of the same path.
    public func steer(_ flow: FourTuple, alongReduced srh: ReducedSegmentRoutingHeader) throws {
        guard object != nil else { throw SteeringError("steering on \(interface) was removed") }
        guard srh.header.segments.last == flow.remoteAddress else {
            throw SteeringError("the reduced SRH's last segment \(srh.header.segments.last.map { "\($0)" } ?? "none") is not the flow's destination \(flow.remoteAddress) (inline mode)")
        }
        var value = try Self.mapValue(srh)
        resolveFirstHop(srh.destination)
        try lowerRouteMTU(for: flow, by: Int(value.length))
        var key = BPFSteering.key(flow)
        do throws(SystemCallError) { try BPFMap.update(flowsFD, key: &key, value: &value) } catch {
            throw SteeringError("steering \(flow) (BPF map update)", errno: error.errno)
        }
        steeredFlows[flow] = try SegmentRoutingHeader(path: srh.path, nextHeader: srh.header.nextHeader,
                                                      flags: srh.header.flags, tag: srh.header.tag, tlvs: srh.header.tlvs)
    }

    /// The flow map's value for `srh`: its wire form, and its active segment as the Destination Address.
    /// - Throws: ``SteeringError`` when the SRH is larger than the BPF program carries.
    static func mapValue(_ srh: SegmentRoutingHeader) throws -> csrh_steer_value {
        guard let active = srh.activeSegment else { throw SteeringError("SRH without an active segment (segments left \(srh.segmentsLeft))") }
        return try mapValue(wire: try srh.encoded(), segments: srh.segments.count, destination: active)
    }

    /// The flow map's value for a reduced SRH: its wire form (Segments Left = Last Entry + 1)
    /// and its first segment as the Destination Address.
    /// - Throws: ``SteeringError`` when the SRH is larger than the BPF program carries.
    static func mapValue(_ srh: ReducedSegmentRoutingHeader) throws -> csrh_steer_value {
        try mapValue(wire: try srh.encoded(), segments: srh.header.segments.count, destination: srh.destination)
    }

    static func mapValue(wire: [UInt8], segments: Int, destination: IPv6Address) throws -> csrh_steer_value {
        var value = csrh_steer_value()
        guard wire.count <= Int(CSRH_STEER_MAX_SRH), segments <= Int(CSRH_STEER_MAX_SEGMENTS) else {
            throw SteeringError("SRH of \(segments) segments / \(wire.count) bytes: the BPF program carries at most \(CSRH_STEER_MAX_SEGMENTS) segments / \(CSRH_STEER_MAX_SRH) bytes")
        }
        guard destination == .unspecified || destination.bytes[0] != 0 else {
            throw SteeringError("Destination Address \(destination) is in ::/8: the BPF program takes such an address as unset")
        }
        value.length = UInt32(wire.count)
        withUnsafeMutableBytes(of: &value.srh) { $0.copyBytes(from: wire) }
        withUnsafeMutableBytes(of: &value.daddr) { $0.copyBytes(from: destination.bytes) }
        return value
    }

    /// The program sends a packet whose first segment leaves by another interface there with
    /// bpf_redirect_neigh, which loses the packet when the neighbour is not resolved yet (a lost
    /// SYN delays the subflow by a retransmission timeout): resolves it beforehand.
    func resolveFirstHop(of srh: SegmentRoutingHeader) {
        if let first = srh.activeSegment { resolveFirstHop(first) }
    }

    func resolveFirstHop(_ first: IPv6Address) {
        guard !resolvedHops.contains(first), let hop = try? RouteTable.lookup(first, on: routes) else { return }
        // Out of the steered interface itself the kernel resolves the neighbour as usual:
        // nothing to do, and no need to look again.
        if hop.interfaceIndex != interfaceIndex { redirectedHops.insert(first) }
        if hop.interfaceIndex == interfaceIndex || RouteTable.resolveNeighbour(of: hop, toward: first, on: routes) {
            resolvedHops.insert(first)
        }
    }

    /// Resolves again the neighbour of every first segment that leaves by another interface (a
    /// long-running steering, like the agent's, calls it now and then: the kernel forgets
    /// neighbours nobody used, and an unresolved one costs the next SYN).
    public func refreshFirstHops() {
        for first in redirectedHops {
            guard let hop = try? RouteTable.lookup(first, on: routes) else { continue }
            _ = RouteTable.resolveNeighbour(of: hop, toward: first, on: routes, timeout: .zero)   // probe, do not wait
        }
    }

    /// The flow map, for a program that shares it (``ConnectSteering``).
    var flowMapFD: Int32 { flowsFD }

    /// The SRH the program puts on `flow`'s packets now, as the flow map holds it — whoever
    /// wrote the entry (``steer(_:along:)``, or ``ConnectSteering``'s program at connect) —
    /// with the Destination Address the packets get (for a reduced SRH, the first segment,
    /// which the SRH itself leaves out); `nil` when the flow is not steered.
    public func installed(_ flow: FourTuple) -> (srh: [UInt8], destination: IPv6Address)? {
        guard object != nil else { return nil }
        var key = BPFSteering.key(flow)
        var value = csrh_steer_value()
        guard BPFMap.lookup(flowsFD, key: &key, into: &value), value.length > 0, value.length <= UInt32(CSRH_STEER_MAX_SRH) else { return nil }
        let srh = withUnsafeBytes(of: &value.srh) { Array($0.prefix(Int(value.length))) }
        let destination = withUnsafeBytes(of: &value.daddr) { IPv6Address(bytes: Array($0)) }
        return (srh, destination)
    }

    /// Lowers the route MTU toward `flow.remoteAddress` by `bytes` (as ``steer(_:along:)``
    /// does for an SRH of that size) without steering `flow`; ``unsteer(_:)`` releases it.
    public func reserveHeadroom(_ flow: FourTuple, bytes: Int) throws {
        guard object != nil else { throw SteeringError("steering on \(interface) was removed") }
        try lowerRouteMTU(for: flow, by: bytes)
    }

    /// The route toward the peer with `bytes` less MTU than the interface (unless a longer
    /// SRH already lowered it further), held for `flow`.
    private func lowerRouteMTU(for flow: FourTuple, by bytes: Int) throws {
        let needed = interfaceMTU - UInt32(bytes)
        var entry = mtuRoutes[flow.remoteAddress] ?? (mtu: interfaceMTU, flows: [])
        if needed < entry.mtu {
            let via = try RouteTable.lookup(flow.remoteAddress, on: routes)
            try RouteTable.replaceMTURoute(to: flow.remoteAddress, mtu: needed, via: via, on: routes)
            entry.mtu = needed
        }
        entry.flows.insert(flow)
        mtuRoutes[flow.remoteAddress] = entry
    }

    public func unsteer(_ flow: FourTuple) throws {
        guard object != nil else { return }
        guard steeredFlows[flow] != nil else {
            try releaseMTURoute(for: flow)      // a reserveHeadroom(_:bytes:) only
            return
        }
        var key = BPFSteering.key(flow)
        do throws(SystemCallError) { try BPFMap.delete(flowsFD, key: &key) } catch {
            throw SteeringError("unsteering \(flow) (BPF map delete)", errno: error.errno)
        }
        steeredFlows[flow] = nil
        try releaseMTURoute(for: flow)
    }

    private func releaseMTURoute(for flow: FourTuple) throws(NetlinkError) {
        guard var entry = mtuRoutes[flow.remoteAddress] else { return }
        entry.flows.remove(flow)
        if entry.flows.isEmpty {
            mtuRoutes[flow.remoteAddress] = nil
            if entry.mtu < interfaceMTU { try RouteTable.deleteRoute(to: flow.remoteAddress, table: 254, on: routes) }
        } else {
            mtuRoutes[flow.remoteAddress] = entry
        }
    }

    /// Detaches the program (closes the TCX link), frees the maps and removes the MTU routes.
    public func removeAll() {
        if linkFD >= 0 { close(linkFD); linkFD = -1 }
        for (destination, entry) in mtuRoutes where entry.mtu < interfaceMTU {
            try? RouteTable.deleteRoute(to: destination, table: 254, on: routes)
        }
        mtuRoutes.removeAll()
        object?.close(); object = nil
        steeredFlows.removeAll()
        flowsFD = -1
        statsFD = -1
    }

    /// Packets that got an SRH, packets the program could not steer, and steered packets it
    /// sent out of another interface (toward their first segment).
    public func counters() -> (steered: UInt64, errors: UInt64, redirected: UInt64) {
        guard object != nil else { return (0, 0, 0) }
        return (BPFMap.perCPUSum(statsFD, index: UInt32(CSRH_STEER_STAT_STEERED)),
                BPFMap.perCPUSum(statsFD, index: UInt32(CSRH_STEER_STAT_ERRORS)),
                BPFMap.perCPUSum(statsFD, index: UInt32(CSRH_STEER_STAT_REDIRECTED)))
    }

    /// How many BPF programs are attached to `interface`'s TCX egress hook (any
    /// owner), in the calling thread's network namespace.
    /// - Throws: ``SteeringError`` when the interface does not exist or the query fails.
    public static func attachedEgressPrograms(interface: String) throws -> Int {
        do throws(SystemCallError) {
            return try BPFMap.tcxEgressCount(ifindex: Int32(try NetworkInterface.index(of: interface)))
        } catch {
            throw SteeringError("querying TCX egress programs on \(interface): \(error.call)", errno: error.errno)
        }
    }

    static func key(_ f: FourTuple) -> csrh_steer_key {
        var k = csrh_steer_key()
        withUnsafeMutableBytes(of: &k.saddr) { $0.copyBytes(from: f.localAddress.bytes) }
        withUnsafeMutableBytes(of: &k.daddr) { $0.copyBytes(from: f.remoteAddress.bytes) }
        k.sport = f.localPort.bigEndian
        k.dport = f.remotePort.bigEndian
        return k
    }
}
