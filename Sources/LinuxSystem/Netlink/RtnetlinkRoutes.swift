import Glibc
import SRv6Paths

/// IPv6 routes and policy rules over rtnetlink: what SRH steering installs.
///
/// Every route and rule srte installs carries the protocol tag
/// ``RouteTable/srteProtocol`` so that leftovers can be found and removed.
public enum RouteTable {
    /// `rtm_protocol` / `FRA_PROTOCOL` value marking srte's routes and rules
    /// (unassigned in /etc/iproute2/rt_protos; shown by `ip` as proto 83).
    public static let srteProtocol: UInt8 = 83

    // Message types (linux/rtnetlink.h).
    static let newRoute = NetlinkMessageType(rawValue: 24)
    static let deleteRoute = NetlinkMessageType(rawValue: 25)
    static let getRoute = NetlinkMessageType(rawValue: 26)
    static let newRule = NetlinkMessageType(rawValue: 32)
    static let deleteRule = NetlinkMessageType(rawValue: 33)
    static let getRule = NetlinkMessageType(rawValue: 34)

    // Route attributes (RTA_*).
    static let rtaDst: UInt16 = 1, rtaOif: UInt16 = 4, rtaGateway: UInt16 = 5, rtaPriority: UInt16 = 6, rtaPrefsrc: UInt16 = 7
    static let rtaMetrics: UInt16 = 8, rtaTable: UInt16 = 15, rtaEncapType: UInt16 = 21, rtaEncap: UInt16 = 22
    static let raxMTU: UInt16 = 2
    static let lwtunnelEncapSeg6: UInt16 = 5
    static let seg6IPTunnelSRH: UInt16 = 1
    static let seg6ModeInline: Int32 = 0
    // Rule attributes (FRA_*).
    static let fraDst: UInt16 = 1, fraSrc: UInt16 = 2, fraPriority: UInt16 = 6, fraTable: UInt16 = 15
    static let fraProtocol: UInt16 = 21, fraIPProto: UInt16 = 22, fraSportRange: UInt16 = 23, fraDportRange: UInt16 = 24

    static let afInet6 = UInt8(AF_INET6)

    /// The route the kernel would use toward `destination` (`ip -6 route get`).
    public struct Lookup: Hashable, Sendable {
        /// Outgoing interface index.
        public var interfaceIndex: UInt32
        /// Next-hop router, if not on-link.
        public var gateway: IPv6Address?
        /// Preferred source address, if the kernel gave one.
        public var source: IPv6Address?
    }

    /// `RTM_GETROUTE` for `destination` in the current namespace.
    /// - Throws: ``NetlinkError`` (e.g. ENETUNREACH with the kernel's message).
    public static func lookup(_ destination: IPv6Address, on c: NetlinkConnection) throws(NetlinkError) -> Lookup {
        var w = ByteWriter()
        w.append(rtmsg(dstLen: 128, table: 0, protocol: 0, scope: 0, type: 0))
        w.attribute(rtaDst, destination.bytes)
        let replies = try c.request(type: getRoute, payload: w.bytes, operation: "route get \(destination)")
        guard let m = replies.first, let attrs = try? NetlinkAttribute.decode(m.payload, from: 12) else {
            throw NetlinkError(operation: "route get \(destination)", errno: ENETUNREACH, extAckMessage: "no route in the reply", sequence: 0)
        }
        var r = Lookup(interfaceIndex: 0, gateway: nil, source: nil)
        for a in attrs {
            switch a.type {
            case rtaOif where a.value.count >= 4: r.interfaceIndex = UInt32(littleEndian: a.value.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
            case rtaGateway where a.value.count == 16: r.gateway = IPv6Address(bytes: a.value)
            case rtaPrefsrc where a.value.count == 16: r.source = IPv6Address(bytes: a.value)
            default: break
            }
        }
        return r
    }

    /// The name of the interface the route toward `destination` leaves by
    /// (in the calling thread's network namespace).
    /// - Throws: ``NetlinkError`` when there is no route, ``SystemCallError`` for an unknown index.
    public static func egressInterface(toward destination: IPv6Address) throws -> String {
        let lookup = try RouteTable.lookup(destination, on: try NetlinkConnection(.route))
        var name = [CChar](repeating: 0, count: Int(IF_NAMESIZE) + 1)
        guard if_indextoname(lookup.interfaceIndex, &name) != nil else {
            throw SystemCallError("if_indextoname(\(lookup.interfaceIndex))", errno: .current)
        }
        return String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A `/128` route to `destination` in `table` that inserts `srh` inline
    /// (`ip -6 route replace DST/128 encap seg6 mode inline segs … via GW dev IF table T proto 83`).
    /// The kernel reserves headroom for the SRH, so the path MTU is right.
    public static func replaceInlineSRHRoute(to destination: IPv6Address, srh: SegmentRoutingHeader, via lookup: Lookup,
                                             table: UInt32, on c: NetlinkConnection) throws(NetlinkError) {
        let wire: [UInt8]
        do { wire = try srh.encoded() } catch {
            throw NetlinkError(operation: "route replace \(destination)", errno: EINVAL, extAckMessage: error.description, sequence: 0)
        }
        var w = ByteWriter()
        w.append(rtmsg(dstLen: 128, table: 0, protocol: srteProtocol, scope: 0, type: 1))
        w.attribute(rtaTable, table)
        w.attribute(rtaDst, destination.bytes)
        if let g = lookup.gateway { w.attribute(rtaGateway, g.bytes) }
        w.attribute(rtaOif, lookup.interfaceIndex)
        w.attribute(rtaEncapType, lwtunnelEncapSeg6)
        w.nested(rtaEncap) { n in
            var v: [UInt8] = []
            withUnsafeBytes(of: seg6ModeInline.littleEndian) { v += $0 }   // struct seg6_iptunnel_encap { int mode; srh }
            n.attribute(seg6IPTunnelSRH, v + wire)
        }
        try c.request(type: newRoute, flags: [.create, .replace], payload: w.bytes,
                      operation: "route replace \(destination)/128 encap seg6 inline table \(table)")
    }

    /// A `/128` route to `destination` with a lowered MTU, in the main table
    /// (for BPF steering, whose SRH the stack does not know about). It keeps the source address
    /// the lookup chose (`RTA_PREFSRC`): without it, connections opened while the route exists
    /// would pick their source address by the rules for a route without one (e.g. the egress
    /// link's address instead of the route's `src`), which the peer may have no route back to.
    public static func replaceMTURoute(to destination: IPv6Address, mtu: UInt32, via lookup: Lookup,
                                       on c: NetlinkConnection) throws(NetlinkError) {
        var w = ByteWriter()
        w.append(rtmsg(dstLen: 128, table: 254, protocol: srteProtocol, scope: 0, type: 1))
        w.attribute(rtaDst, destination.bytes)
        if let g = lookup.gateway { w.attribute(rtaGateway, g.bytes) }
        if let s = lookup.source { w.attribute(rtaPrefsrc, s.bytes) }
        w.attribute(rtaOif, lookup.interfaceIndex)
        // Keep the source address the looked-up route gives: without it, connections opened
        // while this route stands would pick the interface's own address (a lab's hosts have
        // theirs on lo, and nothing routes back to the link address).
        if let s = lookup.source { w.attribute(rtaPrefsrc, s.bytes) }
        w.nested(rtaMetrics) { n in n.attribute(raxMTU, mtu) }
        try c.request(type: newRoute, flags: [.create, .replace], payload: w.bytes,
                      operation: "route replace \(destination)/128 mtu \(mtu)")
    }

    /// Deletes the `/128` route to `destination` in `table` (main = 254). ESRCH counts as done.
    public static func deleteRoute(to destination: IPv6Address, table: UInt32, on c: NetlinkConnection) throws(NetlinkError) {
        var w = ByteWriter()
        w.append(rtmsg(dstLen: 128, table: 0, protocol: srteProtocol, scope: 0, type: 0))
        w.attribute(rtaTable, table)
        w.attribute(rtaDst, destination.bytes)
        do { try c.request(type: deleteRoute, payload: w.bytes, operation: "route del \(destination)/128 table \(table)") } catch {
            if error.errno != ESRCH && error.errno != ENOENT { throw error }
        }
    }

    /// A policy rule sending one TCP 4-tuple to `table`
    /// (`ip -6 rule add pref P from SRC to DST ipproto tcp sport SP dport DP table T proto 83`).
    public static func addFlowRule(_ flow: FourTuple, priority: UInt32, table: UInt32, on c: NetlinkConnection) throws(NetlinkError) {
        try c.request(type: newRule, flags: [.create, .exclusive], payload: rulePayload(flow, priority: priority, table: table),
                      operation: "rule add pref \(priority) \(flow) table \(table)")
    }

    /// Deletes the rule added by ``addFlowRule(_:priority:table:on:)``. ENOENT counts as done.
    public static func deleteFlowRule(_ flow: FourTuple, priority: UInt32, table: UInt32, on c: NetlinkConnection) throws(NetlinkError) {
        do {
            try c.request(type: deleteRule, payload: rulePayload(flow, priority: priority, table: table),
                          operation: "rule del pref \(priority) \(flow)")
        } catch {
            if error.errno != ENOENT && error.errno != ESRCH { throw error }
        }
    }

    /// The IPv6 rules tagged with srte's protocol: (priority, table).
    public static func srteRules(on c: NetlinkConnection) throws(NetlinkError) -> [(priority: UInt32, table: UInt32)] {
        let replies = try c.request(type: getRule, flags: .dump, payload: [afInet6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                                    operation: "rule show")
        var out: [(UInt32, UInt32)] = []
        for m in replies {
            guard let attrs = try? NetlinkAttribute.decode(m.payload, from: 12) else { continue }
            guard attrs.first(fraProtocol)?.value.first == srteProtocol else { continue }
            let prio = attrs.first(fraPriority).map { u32($0.value) } ?? 0
            let table = attrs.first(fraTable).map { u32($0.value) } ?? UInt32(m.payload.count > 4 ? m.payload[4] : 0)
            out.append((prio, table))
        }
        return out
    }

    /// The IPv6 routes tagged with srte's protocol, in any table: (destination, table).
    public static func srteRoutes(on c: NetlinkConnection) throws(NetlinkError) -> [(destination: IPv6Address, table: UInt32)] {
        var w = ByteWriter()
        w.append(rtmsg(dstLen: 0, table: 0, protocol: 0, scope: 0, type: 0))
        let replies = try c.request(type: getRoute, flags: .dump, payload: w.bytes, operation: "route show table all")
        var out: [(IPv6Address, UInt32)] = []
        for m in replies where m.payload.count >= 12 && m.payload[5] == srteProtocol && m.payload[1] == 128 {
            guard let attrs = try? NetlinkAttribute.decode(m.payload, from: 12),
                  let d = attrs.first(rtaDst), d.value.count == 16 else { continue }
            let table = attrs.first(rtaTable).map { u32($0.value) } ?? UInt32(m.payload[4])
            out.append((IPv6Address(bytes: d.value), table))
        }
        return out
    }

    /// Deletes one rule by priority and table (for sweeping leftovers).
    public static func deleteRule(priority: UInt32, table: UInt32, on c: NetlinkConnection) throws(NetlinkError) {
        var w = ByteWriter()
        w.append([afInet6, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0])
        w.attribute(fraPriority, priority)
        w.attribute(fraTable, table)
        do { try c.request(type: deleteRule, payload: w.bytes, operation: "rule del pref \(priority)") } catch {
            if error.errno != ENOENT { throw error }
        }
    }

    // struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags (u32)
    static func rtmsg(dstLen: UInt8, table: UInt8, protocol: UInt8, scope: UInt8, type: UInt8) -> [UInt8] {
        [afInet6, dstLen, 0, 0, table, `protocol`, scope, type, 0, 0, 0, 0]
    }

    static func rulePayload(_ f: FourTuple, priority: UInt32, table: UInt32) -> [UInt8] {
        var w = ByteWriter()
        // struct fib_rule_hdr: family, dst_len, src_len, tos, table, res1, res2, action (FR_ACT_TO_TBL = 1), flags (u32)
        w.append([afInet6, 128, 128, 0, 0, 0, 0, 1, 0, 0, 0, 0])
        w.attribute(fraSrc, f.localAddress.bytes)
        w.attribute(fraDst, f.remoteAddress.bytes)
        w.attribute(fraPriority, priority)
        w.attribute(fraTable, table)
        w.attribute(fraProtocol, srteProtocol)
        w.attribute(fraIPProto, UInt8(IPPROTO_TCP))
        w.attribute(fraSportRange, portRange(f.localPort))
        w.attribute(fraDportRange, portRange(f.remotePort))
        return w.bytes
    }

    // struct fib_rule_port_range { __u16 start; __u16 end; } in host order
    static func portRange(_ p: UInt16) -> [UInt8] {
        var v: [UInt8] = []
        withUnsafeBytes(of: p) { v += $0 }
        withUnsafeBytes(of: p) { v += $0 }
        return v
    }

    static func u32(_ b: [UInt8]) -> UInt32 {
        b.count >= 4 ? UInt32(littleEndian: b.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }) : 0
    }
}

extension RouteTable {
    /// Whether the kernel has seg6 lightweight tunnels (`CONFIG_IPV6_SEG6_LWTUNNEL`: both
    /// `encap seg6` and `encap seg6local`), tried with a throw-away `encap seg6` route in a
    /// `table` (one of srte's), in the calling thread's namespace, removed at once.
    /// - Returns: `nil` when it has them (or when the probe cannot run, e.g. without
    ///   CAP_NET_ADMIN: the real operation then reports the real problem); otherwise the
    ///   kernel's extended-ack message.
    package static func seg6RoutesProblem(table: UInt32, on c: NetlinkConnection) -> String? {
        let probe = IPv6Address(high: 0xfc00_ffff_ffff_ffff, low: 0x5e6)
        guard let srh = try? SegmentRoutingHeader(path: [probe]) else { return nil }
        do {
            try replaceInlineSRHRoute(to: probe, srh: srh, via: Lookup(interfaceIndex: 1, gateway: nil, source: nil), table: table, on: c)
        } catch {
            return error.errno == EOPNOTSUPP ? (error.extAckMessage ?? Errno(EOPNOTSUPP).message) : nil
        }
        try? deleteRoute(to: probe, table: table, on: c)
        return nil
    }

    static let getNeighbour = NetlinkMessageType(rawValue: 30)   // RTM_GETNEIGH
    /// NUD states with a link-layer address (REACHABLE, STALE, DELAY, PROBE, PERMANENT, NOARP).
    static let nudHasAddress: UInt16 = 0x02 | 0x04 | 0x08 | 0x10 | 0x80 | 0x40

    /// The `ndm_state` of the neighbour entry for `address` on interface `index`
    /// (`ip -6 neigh get ADDR dev IF`); `nil` when there is none.
    static func neighbourState(_ address: IPv6Address, interfaceIndex index: UInt32, on c: NetlinkConnection) -> UInt16? {
        var w = ByteWriter()
        // struct ndmsg: family, pad1, pad2 (u16), ifindex (s32), state (u16), flags, type
        w.append([afInet6, 0, 0, 0])
        w.append(withUnsafeBytes(of: Int32(bitPattern: index).littleEndian) { Array($0) })
        w.append([0, 0, 0, 0])
        w.attribute(1, address.bytes)                               // NDA_DST
        guard let replies = try? c.request(type: getNeighbour, payload: w.bytes, operation: "neigh get \(address)"),
              let m = replies.first, m.payload.count >= 12 else { return nil }
        return UInt16(m.payload[8]) | UInt16(m.payload[9]) << 8
    }

    /// Makes sure the neighbour behind `hop` (its gateway, or `destination` on-link) has a
    /// link-layer address, resolving it if need be: one UDP datagram to the discard port
    /// starts neighbour discovery, then the entry is polled for up to `timeout`.
    /// - Returns: whether the address is known.
    @discardableResult
    package static func resolveNeighbour(of hop: Lookup, toward destination: IPv6Address, on c: NetlinkConnection,
                                 timeout: Duration = .milliseconds(300)) -> Bool {
        let neighbour = hop.gateway ?? destination
        if let s = neighbourState(neighbour, interfaceIndex: hop.interfaceIndex, on: c), s & nudHasAddress != 0 { return true }
        let fd = socket(AF_INET6, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd >= 0 {
            var byte: UInt8 = 0
            _ = SocketEndpoint(neighbour, port: 9).withSockaddr(scopeID: hop.interfaceIndex) { sendto(fd, &byte, 1, 0, $0, $1) }
            close(fd)
        }
        let clock = ContinuousClock(), end = clock.now + timeout
        while clock.now < end {
            if let s = neighbourState(neighbour, interfaceIndex: hop.interfaceIndex, on: c), s & nudHasAddress != 0 { return true }
            usleep(1_000)
        }
        return false
    }
}
