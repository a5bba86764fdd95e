import Glibc
internal import CSRH
import LinuxSystem

/// One MPTCP subflow of any process in the namespace, as `sock_diag` reports
/// it (what `ss -tiM` shows): the view `srte subflows` needs, since another
/// process's socket options cannot be read.
public struct SubflowDiagnostics: Hashable, Sendable {
    /// `MPTCP_SUBFLOW_ATTR_TOKEN_LOC`: the local token of the connection.
    public var token: UInt32
    public var local: SocketEndpoint
    public var remote: SocketEndpoint
    /// TCP state (`idiag_state`, 1 = ESTABLISHED).
    public var tcpState: UInt8
    /// `MPTCP_SUBFLOW_ATTR_ID_LOC`: local address id (0 = the initial subflow's address).
    public var localID: UInt8
    /// `MPTCP_SUBFLOW_ATTR_ID_REM`
    public var remoteID: UInt8
    /// `MPTCP_SUBFLOW_ATTR_FLAGS`
    public var flags: UInt32
    /// `tcpi_bytes_sent`
    public var bytesSent: UInt64
    /// `tcpi_bytes_received`
    public var bytesReceived: UInt64
    /// `tcpi_bytes_acked`
    public var bytesAcked: UInt64 = 0
    /// `tcpi_rtt`: smoothed RTT in microseconds.
    public var rttMicroseconds: UInt32 = 0
    /// `INET_DIAG_MARK` (SO_MARK; reported to CAP_NET_ADMIN callers)
    public var mark: UInt32? = nil
    /// `INET_DIAG_CONG`: the congestion control name.
    public var congestionControl: String? = nil
    /// `INET_DIAG_TCLASS`: the IPv6 traffic class.
    public var trafficClass: UInt8? = nil
    /// `INET_DIAG_TOS`: the IPv4 type of service (IP_TOS).
    public var typeOfService: UInt8? = nil
    /// `INET_DIAG_INFO`: the subflow's `struct tcp_info` as the kernel sent it (its length is
    /// the kernel's `sizeof(struct tcp_info)`).
    public var tcpInfo: [UInt8]? = nil
    /// `idiag_uid`: the user owning the socket (the creator of the MPTCP socket, in the
    /// namespace's user namespace).
    public var uid: UInt32 = 0

    /// `MPTCP_SUBFLOW_FLAG_BKUP_LOC`: this side marked the subflow backup.
    public var backup: Bool { flags & 0x20 != 0 }
    /// `MPTCP_SUBFLOW_FLAG_BKUP_REM`: the peer marked it backup.
    public var peerBackup: Bool { flags & 0x10 != 0 }
    /// `MPTCP_SUBFLOW_FLAG_FULLY_ESTABLISHED`
    public var fullyEstablished: Bool { flags & 0x40 != 0 }
    /// `MPTCP_SUBFLOW_FLAG_JOIN_LOC` / `_JOIN_REM`: an additional (MP_JOIN) subflow.
    public var isJoin: Bool { flags & 0x0c != 0 }

    /// The name of TCP state `state` (`idiag_state`), as `ss` prints it.
    public static func stateName(_ state: UInt8) -> String {
        let names = ["unknown", "established", "syn-sent", "syn-recv", "fin-wait-1", "fin-wait-2", "time-wait",
                     "close", "close-wait", "last-ack", "listen", "closing", "new-syn-recv"]
        return Int(state) < names.count ? names[Int(state)] : "state-\(state)"
    }

    /// `SOCK_DIAG_BY_FAMILY`
    static let requestType = NetlinkMessageType(rawValue: 20)

    /// `struct inet_diag_req_v2` for a dump of TCP sockets of `family` with
    /// `INET_DIAG_INFO` (tcp_info; ULP info — the MPTCP subflow attributes — comes with it).
    static func dumpPayload(family: UInt8) -> [UInt8] {
        var w = ByteWriter()
        w.append(family)                       // sdiag_family
        w.append(UInt8(IPPROTO_TCP))           // sdiag_protocol
        let ext: UInt8 = 0b0011_1010                 // idiag_ext bits (type - 1): INET_DIAG_INFO 2, _CONG 4, _TOS 5, _TCLASS 6
        w.append(ext)
        w.append(UInt8(0))                     // pad
        w.append(UInt32(0xffff_ffff))          // idiag_states: all
        w.append([UInt8](repeating: 0, count: 48)) // struct inet_diag_sockid: any
        return w.bytes
    }

    /// Decodes one `struct inet_diag_msg` + attributes; nil for a non-MPTCP socket.
    static func decode(_ m: NetlinkMessage) throws(NetlinkDecodingError) -> SubflowDiagnostics? {
        var r = ByteReader(m.payload)
        guard let family = r.u8(), let state = r.u8(), r.skip(2),
              let sport = r.read(UInt16.self, bigEndian: true), let dport = r.read(UInt16.self, bigEndian: true),
              let src = r.take(16), let dst = r.take(16), r.skip(4 + 8 + 12),   // if, cookie; expires, rqueue, wqueue
              let uid = r.read(UInt32.self), r.skip(4) else {                       // uid, inode
            throw NetlinkDecodingError(what: "inet_diag_msg (\(m.payload.count) bytes)", offset: 0)
        }
        let v4 = family == UInt8(AF_INET)
        var d = SubflowDiagnostics(token: 0, local: .fromRaw(v4 ? Array(src[0..<4]) : src, port: sport),
                                   remote: .fromRaw(v4 ? Array(dst[0..<4]) : dst, port: dport), tcpState: state,
                                   localID: 0, remoteID: 0, flags: 0, bytesSent: 0, bytesReceived: 0)
        d.uid = uid
        var isMPTCP = false
        for a in try NetlinkAttribute.decode(m.payload, from: 72) {
            switch a.type {
            case 2: // INET_DIAG_INFO: struct tcp_info
                d.tcpInfo = a.value
                var t = ByteReader(a.value, from: Int(CSRH_TCPI_BYTES_RECEIVED_OFFSET))
                d.bytesReceived = t.u64() ?? 0
                var s = ByteReader(a.value, from: Int(CSRH_TCPI_BYTES_SENT_OFFSET))
                d.bytesSent = s.u64() ?? 0
                var k = ByteReader(a.value, from: Int(CSRH_TCPI_BYTES_ACKED_OFFSET))
                d.bytesAcked = k.u64() ?? 0
                var rtt = ByteReader(a.value, from: Int(CSRH_TCPI_RTT_OFFSET))
                d.rttMicroseconds = rtt.u32() ?? 0
            case 4: d.congestionControl = a.string()           // INET_DIAG_CONG
            case 5: d.typeOfService = try a.u8()                // INET_DIAG_TOS
            case 6: d.trafficClass = try a.u8()                 // INET_DIAG_TCLASS
            case 15: d.mark = try a.u32()                       // INET_DIAG_MARK
            case 19: // INET_DIAG_ULP_INFO
                let ulp = try a.nested()
                guard ulp.first(1)?.string() == "mptcp", let mp = ulp.first(3) else { continue }
                isMPTCP = true
                for x in try mp.nested() {
                    switch x.type {
                    case 2: d.token = try x.u32()          // TOKEN_LOC
                    case 8: d.flags = try x.u32()          // FLAGS
                    case 9: d.remoteID = try x.u8()        // ID_REM
                    case 10: d.localID = try x.u8()        // ID_LOC
                    default: break
                    }
                }
            default: break
            }
        }
        return isMPTCP ? d : nil
    }

    /// Every MPTCP subflow in the current namespace (IPv4 and IPv6), by token then local port.
    public static func all() throws(NetlinkError) -> [SubflowDiagnostics] {
        try all(on: NetlinkConnection(transport: try MNLSocket(.sockDiag)))
    }

    /// Every MPTCP subflow in the namespace of `c` (a `NETLINK_SOCK_DIAG` connection).
    public static func all(on c: NetlinkConnection) throws(NetlinkError) -> [SubflowDiagnostics] {
        var out: [SubflowDiagnostics] = []
        for family in [UInt8(AF_INET), UInt8(AF_INET6)] {
            for m in try c.request(type: requestType, flags: .dump, payload: dumpPayload(family: family), operation: "sock_diag TCP dump") {
                do {
                    if let d = try decode(m), d.token != 0 { out.append(d) }
                } catch {
                    throw NetlinkError(operation: "sock_diag TCP dump", errno: EBADMSG, extAckMessage: error.description)
                }
            }
        }
        return out.sorted { ($0.token, $0.local.port) < ($1.token, $1.local.port) }
    }

    /// The 4-tuple of every TCP socket in the namespace of `c` (plain TCP and MPTCP subflows,
    /// any state, TIME_WAIT included): what a new subflow's 4-tuple must not collide with.
    package static func tcpFourTuples(on c: NetlinkConnection) throws(NetlinkError) -> Set<FourTuple> {
        var out: Set<FourTuple> = []
        for family in [UInt8(AF_INET), UInt8(AF_INET6)] {
            for m in try c.request(type: requestType, flags: .dump, payload: dumpPayload(family: family), operation: "sock_diag TCP dump") {
                var r = ByteReader(m.payload)
                guard let f = r.u8(), r.skip(3), let sport = r.read(UInt16.self, bigEndian: true), let dport = r.read(UInt16.self, bigEndian: true),
                      let src = r.take(16), let dst = r.take(16) else { continue }
                let v4 = f == UInt8(AF_INET)
                out.insert(FourTuple(SocketEndpoint.fromRaw(v4 ? Array(src[0..<4]) : src, port: sport),
                                     SocketEndpoint.fromRaw(v4 ? Array(dst[0..<4]) : dst, port: dport)))
            }
        }
        return out
    }

    /// Whether a TCP socket of the namespace of `c` (plain TCP or a subflow, any state,
    /// TIME_WAIT included) has exactly this 4-tuple: one exact sock_diag request, no ack asked
    /// (where ``tcpFourTuples(on:)`` dumps the host's TCP hash tables: milliseconds). The
    /// kernel's lookup falls back to a listener on the local port; a listener's 4-tuple is
    /// not this one.
    package static func fourTupleInUse(local: SocketEndpoint, remote: SocketEndpoint, on c: NetlinkConnection) throws(NetlinkError) -> Bool {
        let m: NetlinkMessage
        do {
            // (A constant name: the error is the common answer, ENOENT, and naming the 4-tuple
            // in it would format two addresses per lookup.)
            m = try c.query(type: requestType, payload: exactPayload(local: local, remote: remote, ext: 0), operation: "sock_diag lookup of a 4-tuple")
        } catch where error.errno == ENOENT {
            return false
        }
        var r = ByteReader(m.payload)
        guard let f = r.u8(), r.skip(3), let sport = r.read(UInt16.self, bigEndian: true), let dport = r.read(UInt16.self, bigEndian: true),
              let src = r.take(16), let dst = r.take(16) else {
            throw NetlinkError(operation: "sock_diag lookup \(FourTuple(local, remote))", errno: EBADMSG, extAckMessage: "inet_diag_msg of \(m.payload.count) bytes")
        }
        let v4 = f == UInt8(AF_INET)
        return FourTuple(SocketEndpoint.fromRaw(v4 ? Array(src[0..<4]) : src, port: sport),
                         SocketEndpoint.fromRaw(v4 ? Array(dst[0..<4]) : dst, port: dport)) == FourTuple(local, remote)
    }

    /// `struct inet_diag_req_v2` naming exactly one TCP socket by its 4-tuple.
    static func exactPayload(local: SocketEndpoint, remote: SocketEndpoint, ext: UInt8) -> [UInt8] {
        let v4 = local.isIPv4
        var w = ByteWriter()
        w.append(UInt8(v4 ? AF_INET : AF_INET6))   // sdiag_family
        w.append(UInt8(IPPROTO_TCP))               // sdiag_protocol
        w.append(ext)                              // idiag_ext
        w.append(UInt8(0))                         // pad
        w.append(UInt32(0xffff_ffff))              // idiag_states: any
        w.append(local.port.bigEndian)             // idiag_sport
        w.append(remote.port.bigEndian)            // idiag_dport
        func address(_ e: SocketEndpoint) -> [UInt8] { v4 ? e.ipv4Bytes + [UInt8](repeating: 0, count: 12) : e.address.bytes }
        w.append(address(local))                   // idiag_src
        w.append(address(remote))                  // idiag_dst
        w.append(UInt32(0))                        // idiag_if: any
        w.append(UInt32(0xffff_ffff))              // idiag_cookie: INET_DIAG_NOCOOKIE
        w.append(UInt32(0xffff_ffff))
        return w.bytes
    }

    /// The MPTCP subflow with exactly this 4-tuple in the namespace of `c`, or nil when there
    /// is none (or it is plain TCP). One hash lookup in the kernel, where a dump walks the
    /// host-wide TCP hash tables (every namespace's buckets): about 3.4 ms on a 2-core VM with
    /// a handful of sockets, against tens of microseconds for the lookup.
    package static func lookup(local: SocketEndpoint, remote: SocketEndpoint, on c: NetlinkConnection) throws(NetlinkError) -> SubflowDiagnostics? {
        func operation() -> String { "sock_diag lookup \(FourTuple(local, remote))" }    // for errors only
        let m: NetlinkMessage
        do {
            // No ack asked: the answer (or the error) is the one message that comes back.
            m = try c.query(type: requestType, payload: exactPayload(local: local, remote: remote, ext: 0b0011_1010), operation: operation())
        } catch where error.errno == ENOENT {
            return nil
        }
        do { return try decode(m) } catch {
            throw NetlinkError(operation: operation(), errno: EBADMSG, extAckMessage: error.description)
        }
    }

    /// `SOCK_DESTROY`: resets the TCP socket (a subflow) with exactly this 4-tuple in the
    /// namespace of `c` (needs CAP_NET_ADMIN and CONFIG_INET_DIAG_DESTROY). The kernel sends a
    /// RST and the subflow closes with ECONNABORTED.
    /// - Throws: ``NetlinkError``: ENOENT when no such socket exists, EOPNOTSUPP without
    ///   CONFIG_INET_DIAG_DESTROY.
    package static func destroy(local: SocketEndpoint, remote: SocketEndpoint, on c: NetlinkConnection) throws(NetlinkError) {
        try c.request(type: NetlinkMessageType(rawValue: 21), payload: exactPayload(local: local, remote: remote, ext: 0),
                      operation: "sock_diag SOCK_DESTROY \(FourTuple(local, remote))")
    }
}

/// One MPTCP connection (the MPTCP socket itself, not a subflow) of any process in the
/// namespace, as `sock_diag` reports it for `IPPROTO_MPTCP`: who owns it.
public struct MPTCPConnectionDiagnostics: Hashable, Sendable {
    /// `mptcpi_token`
    public var token: UInt32
    public var local: SocketEndpoint
    public var remote: SocketEndpoint
    /// `idiag_uid`: the socket's owner.
    public var uid: UInt32
    /// `idiag_inode`: the socket's inode (`socket:[inode]` in the owner's `/proc/PID/fd`).
    public var inode: UInt32

    /// Every MPTCP connection in the current namespace (IPv4 and IPv6), listeners included
    /// (token 0).
    public static func all() throws(NetlinkError) -> [MPTCPConnectionDiagnostics] {
        try all(on: NetlinkConnection(transport: try MNLSocket(.sockDiag)))
    }

    /// Every MPTCP connection in the namespace of `c` (a `NETLINK_SOCK_DIAG` connection, which
    /// stays in the namespace it was opened in whichever thread uses it).
    public static func all(on c: NetlinkConnection) throws(NetlinkError) -> [MPTCPConnectionDiagnostics] {
        var out: [MPTCPConnectionDiagnostics] = []
        for family in [UInt8(AF_INET), UInt8(AF_INET6)] {
            var w = ByteWriter()
            w.append(family)
            w.append(UInt8(0))                     // sdiag_protocol is 8 bits: 262 goes in an attribute
            w.append(UInt8(0b0000_0010))           // INET_DIAG_INFO: struct mptcp_info
            w.append(UInt8(0))
            w.append(UInt32(0xffff_ffff))
            w.append([UInt8](repeating: 0, count: 48))
            w.append(UInt16(8))                    // INET_DIAG_REQ_PROTOCOL (u32)
            w.append(UInt16(3))
            w.append(UInt32(CSRH_IPPROTO_MPTCP))
            for m in try c.request(type: SubflowDiagnostics.requestType, flags: .dump, payload: w.bytes, operation: "sock_diag MPTCP dump") {
                var r = ByteReader(m.payload)
                guard let fam = r.u8(), r.skip(3),
                      let sport = r.read(UInt16.self, bigEndian: true), let dport = r.read(UInt16.self, bigEndian: true),
                      let src = r.take(16), let dst = r.take(16), r.skip(4 + 8 + 12),
                      let uid = r.u32(), let inode = r.u32() else {
                    throw NetlinkError(operation: "sock_diag MPTCP dump", errno: EBADMSG, extAckMessage: "short inet_diag_msg (\(m.payload.count) bytes)")
                }
                let v4 = fam == UInt8(AF_INET)
                var token: UInt32 = 0
                let attributes: [NetlinkAttribute]
                do { attributes = try NetlinkAttribute.decode(m.payload, from: 72) } catch {
                    throw NetlinkError(operation: "sock_diag MPTCP dump", errno: EBADMSG, extAckMessage: error.description)
                }
                for a in attributes where a.type == 2 {         // INET_DIAG_INFO
                    var t = ByteReader(a.value, from: 12)       // mptcpi_token
                    token = t.u32() ?? 0
                }
                out.append(MPTCPConnectionDiagnostics(
                    token: token, local: .fromRaw(v4 ? Array(src[0..<4]) : src, port: sport),
                    remote: .fromRaw(v4 ? Array(dst[0..<4]) : dst, port: dport), uid: uid, inode: inode))
            }
        }
        return out
    }
}
