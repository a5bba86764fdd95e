import SRv6Paths
import LinuxSystem

/// The MPTCP path manager's generic netlink vocabulary (family `mptcp_pm`,
/// include/uapi/linux/mptcp_pm.h, Documentation/netlink/specs/mptcp_pm.yaml).

/// `MPTCP_PM_CMD_*`
public struct MPTCPCommand: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// `MPTCP_PM_CMD_ADD_ADDR`
    public static let addAddress = MPTCPCommand(rawValue: 1)
    /// `MPTCP_PM_CMD_DEL_ADDR`
    public static let deleteAddress = MPTCPCommand(rawValue: 2)
    /// `MPTCP_PM_CMD_GET_ADDR`
    public static let getAddress = MPTCPCommand(rawValue: 3)
    /// `MPTCP_PM_CMD_FLUSH_ADDRS`
    public static let flushAddresses = MPTCPCommand(rawValue: 4)
    /// `MPTCP_PM_CMD_SET_LIMITS`
    public static let setLimits = MPTCPCommand(rawValue: 5)
    /// `MPTCP_PM_CMD_GET_LIMITS`
    public static let getLimits = MPTCPCommand(rawValue: 6)
    /// `MPTCP_PM_CMD_SET_FLAGS`
    public static let setFlags = MPTCPCommand(rawValue: 7)
    /// `MPTCP_PM_CMD_ANNOUNCE` (userspace PM: send ADD_ADDR)
    public static let announce = MPTCPCommand(rawValue: 8)
    /// `MPTCP_PM_CMD_REMOVE` (userspace PM: send RM_ADDR)
    public static let remove = MPTCPCommand(rawValue: 9)
    /// `MPTCP_PM_CMD_SUBFLOW_CREATE`
    public static let subflowCreate = MPTCPCommand(rawValue: 10)
    /// `MPTCP_PM_CMD_SUBFLOW_DESTROY`
    public static let subflowDestroy = MPTCPCommand(rawValue: 11)
    public var description: String {
        let names = [1: "ADD_ADDR", 2: "DEL_ADDR", 3: "GET_ADDR", 4: "FLUSH_ADDRS", 5: "SET_LIMITS", 6: "GET_LIMITS",
                     7: "SET_FLAGS", 8: "ANNOUNCE", 9: "REMOVE", 10: "SUBFLOW_CREATE", 11: "SUBFLOW_DESTROY"]
        return names[Int(rawValue)] ?? "command \(rawValue)"
    }
}

/// `MPTCP_EVENT_*`: the commands of messages on the `mptcp_pm_events` group.
public struct MPTCPEventType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// `MPTCP_EVENT_CREATED`: a connection was created (token known).
    public static let created = MPTCPEventType(rawValue: 1)
    /// `MPTCP_EVENT_ESTABLISHED`: the connection is established.
    public static let established = MPTCPEventType(rawValue: 2)
    /// `MPTCP_EVENT_CLOSED`: the connection is gone.
    public static let closed = MPTCPEventType(rawValue: 3)
    /// `MPTCP_EVENT_ANNOUNCED`: the peer announced an address (ADD_ADDR).
    public static let announced = MPTCPEventType(rawValue: 6)
    /// `MPTCP_EVENT_REMOVED`: the peer removed an address (RM_ADDR).
    public static let removed = MPTCPEventType(rawValue: 7)
    /// `MPTCP_EVENT_SUB_ESTABLISHED`: a subflow's handshake completed.
    public static let subflowEstablished = MPTCPEventType(rawValue: 10)
    /// `MPTCP_EVENT_SUB_CLOSED`: a subflow closed (or was refused).
    public static let subflowClosed = MPTCPEventType(rawValue: 11)
    /// `MPTCP_EVENT_SUB_PRIORITY`: the peer changed a subflow's backup flag (MP_PRIO).
    public static let subflowPriority = MPTCPEventType(rawValue: 13)
    /// `MPTCP_EVENT_LISTENER_CREATED`
    public static let listenerCreated = MPTCPEventType(rawValue: 15)
    /// `MPTCP_EVENT_LISTENER_CLOSED`
    public static let listenerClosed = MPTCPEventType(rawValue: 16)
    public var description: String {
        let names = [1: "CREATED", 2: "ESTABLISHED", 3: "CLOSED", 6: "ANNOUNCED", 7: "REMOVED", 10: "SUB_ESTABLISHED",
                     11: "SUB_CLOSED", 13: "SUB_PRIORITY", 15: "LISTENER_CREATED", 16: "LISTENER_CLOSED"]
        return names[Int(rawValue)] ?? "EVENT_\(rawValue)"
    }
}

/// `MPTCP_PM_ADDR_FLAG_*`
public struct MPTCPAddressFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `MPTCP_PM_ADDR_FLAG_SIGNAL`: announce with ADD_ADDR.
    public static let signal = MPTCPAddressFlags(rawValue: 1)
    /// `MPTCP_PM_ADDR_FLAG_SUBFLOW`
    public static let subflow = MPTCPAddressFlags(rawValue: 2)
    /// `MPTCP_PM_ADDR_FLAG_BACKUP`: the subflow is a backup (MP_JOIN/MP_PRIO B bit).
    public static let backup = MPTCPAddressFlags(rawValue: 4)
    /// `MPTCP_PM_ADDR_FLAG_FULLMESH`
    public static let fullmesh = MPTCPAddressFlags(rawValue: 8)
}


/// One path-manager event (a message on `mptcp_pm_events`), with every attribute the kernel sent.
public struct MPTCPEvent: Hashable, Sendable, CustomStringConvertible {
    /// The event (`genlmsghdr.cmd`).
    public var type: MPTCPEventType
    /// `MPTCP_ATTR_TOKEN`: the connection.
    public var token: UInt32?
    /// `MPTCP_ATTR_LOC_ID`
    public var localID: UInt8?
    /// `MPTCP_ATTR_REM_ID`
    public var remoteID: UInt8?
    /// `MPTCP_ATTR_SADDR4/6` + `MPTCP_ATTR_SPORT` (big-endian on the wire).
    public var local: SocketEndpoint?
    /// `MPTCP_ATTR_DADDR4/6` + `MPTCP_ATTR_DPORT`.
    public var remote: SocketEndpoint?
    /// `MPTCP_ATTR_BACKUP`
    public var backup: Bool?
    /// `MPTCP_ATTR_ERROR`: the subflow's socket error (an errno) on SUB_CLOSED.
    public var error: UInt8?
    /// `MPTCP_ATTR_FLAGS`
    public var flags: UInt16?
    /// `MPTCP_ATTR_TIMEOUT`
    public var timeout: UInt32?
    /// `MPTCP_ATTR_IF_IDX`
    public var interfaceIndex: Int32?
    /// `MPTCP_ATTR_RESET_REASON` (an MPTCP reset reason code, RFC 8684 §3.6).
    public var resetReason: UInt32?
    /// `MPTCP_ATTR_RESET_FLAGS`
    public var resetFlags: UInt32?
    /// `MPTCP_ATTR_SERVER_SIDE`
    public var serverSide: Bool?

    public init(type: MPTCPEventType) { self.type = type }

    /// Decodes an event message (payload = genlmsghdr + attributes).
    public init(decoding m: NetlinkMessage) throws(NetlinkDecodingError) {
        let h = try GenericNetlinkHeader(decoding: m.payload)
        type = MPTCPEventType(rawValue: h.command)
        var saddr: [UInt8]?, daddr: [UInt8]?, sport: UInt16 = 0, dport: UInt16 = 0
        for a in try NetlinkAttribute.decode(m.payload, from: 4) {
            switch a.type {
            case 1: token = try a.u32()
            case 3: localID = try a.u8()
            case 4: remoteID = try a.u8()
            case 5, 6: saddr = a.value
            case 7, 8: daddr = a.value
            case 9: sport = try a.u16BigEndian()
            case 10: dport = try a.u16BigEndian()
            case 11: backup = try a.u8() != 0
            case 12: error = try a.u8()
            case 13: flags = try a.u16()
            case 14: timeout = try a.u32()
            case 15: interfaceIndex = try a.i32()
            case 16: resetReason = try a.u32()
            case 17: resetFlags = try a.u32()
            case 18: serverSide = try a.u8() != 0
            default: break
            }
        }
        if let saddr { local = .fromRaw(saddr, port: sport) }
        if let daddr { remote = .fromRaw(daddr, port: dport) }
    }

    /// `ip mptcp monitor`-like one-line form.
    public var description: String {
        var s = "[\(type)]"
        if let token { s += " token=\(token)" }
        if let localID { s += " loc_id=\(localID)" }
        if let remoteID { s += " rem_id=\(remoteID)" }
        if let local { s += " local=\(local)" }
        if let remote { s += " remote=\(remote)" }
        if let backup { s += " backup=\(backup ? 1 : 0)" }
        if let error { s += " error=\(error)" }
        if let flags { s += " flags=0x\(String(flags, radix: 16))" }
        if let timeout { s += " timeout=\(timeout)" }
        if let interfaceIndex { s += " ifindex=\(interfaceIndex)" }
        if let resetReason { s += " reset_reason=\(resetReason)" }
        if let resetFlags { s += " reset_flags=0x\(String(resetFlags, radix: 16))" }
        if let serverSide, serverSide { s += " server_side" }
        return s
    }
}

/// Builders for path-manager requests (payload = genlmsghdr + attributes),
/// separate from sending so unit tests can compare them with golden bytes.
public enum MPTCPRequest {
    /// `MPTCP_PM_ATTR_*`
    enum Attr {
        static let addr: UInt16 = 1, token: UInt16 = 4, locID: UInt16 = 5, addrRemote: UInt16 = 6
    }
    /// `MPTCP_PM_ADDR_ATTR_*`
    enum AddrAttr {
        static let family: UInt16 = 1, id: UInt16 = 2, addr4: UInt16 = 3, addr6: UInt16 = 4, port: UInt16 = 5, flags: UInt16 = 6, ifIndex: UInt16 = 7
    }

    static func address(_ w: inout ByteWriter, _ type: UInt16, _ e: SocketEndpoint, id: UInt8?, includePort: Bool, ifIndex: Int32 = 0, flags: MPTCPAddressFlags = []) {
        w.nested(type) { n in
            n.attribute(AddrAttr.family, UInt16(e.isIPv4 ? 2 : 10))
            if let id { n.attribute(AddrAttr.id, id) }
            if e.isIPv4 { n.attribute(AddrAttr.addr4, e.ipv4Bytes) } else { n.attribute(AddrAttr.addr6, e.address.bytes) }
            if includePort { n.attribute(AddrAttr.port, e.port) }   // host byte order
            if ifIndex > 0 { n.attribute(AddrAttr.ifIndex, ifIndex) }
            if !flags.isEmpty { n.attribute(AddrAttr.flags, flags.rawValue) }
        }
    }

    static func header(_ c: MPTCPCommand, version: UInt8) -> ByteWriter {
        var w = ByteWriter()
        w.append(GenericNetlinkHeader(command: c.rawValue, version: version).encoded)
        return w
    }

    /// `SUBFLOW_CREATE`: TOKEN, ADDR{FAMILY, ID, ADDR, PORT, IF_IDX, FLAGS}, ADDR_REMOTE{FAMILY, ADDR, PORT}.
    public static func subflowCreate(version: UInt8 = 1, token: UInt32, localID: UInt8, local: SocketEndpoint, remote: SocketEndpoint, interfaceIndex: Int32 = 0, backup: Bool = false) -> [UInt8] {
        var w = header(.subflowCreate, version: version)
        w.attribute(Attr.token, token)
        address(&w, Attr.addr, local, id: localID, includePort: true, ifIndex: interfaceIndex, flags: backup ? .backup : [])
        address(&w, Attr.addrRemote, remote, id: nil, includePort: true)
        return w.bytes
    }

    /// `SUBFLOW_DESTROY`: TOKEN, ADDR{FAMILY, ADDR, PORT}, ADDR_REMOTE{FAMILY, ADDR, PORT}.
    public static func subflowDestroy(version: UInt8 = 1, token: UInt32, local: SocketEndpoint, remote: SocketEndpoint) -> [UInt8] {
        var w = header(.subflowDestroy, version: version)
        w.attribute(Attr.token, token)
        address(&w, Attr.addr, local, id: nil, includePort: true)
        address(&w, Attr.addrRemote, remote, id: nil, includePort: true)
        return w.bytes
    }

    /// `SET_FLAGS` on one subflow (both ports given, so exactly that subflow gets MP_PRIO).
    public static func setFlags(version: UInt8 = 1, token: UInt32, local: SocketEndpoint, remote: SocketEndpoint, backup: Bool) -> [UInt8] {
        var w = header(.setFlags, version: version)
        w.attribute(Attr.token, token)
        w.nested(Attr.addr) { n in
            n.attribute(AddrAttr.family, UInt16(local.isIPv4 ? 2 : 10))
            if local.isIPv4 { n.attribute(AddrAttr.addr4, local.ipv4Bytes) } else { n.attribute(AddrAttr.addr6, local.address.bytes) }
            n.attribute(AddrAttr.port, local.port)
            n.attribute(AddrAttr.flags, (backup ? MPTCPAddressFlags.backup : []).rawValue)
        }
        address(&w, Attr.addrRemote, remote, id: nil, includePort: true)
        return w.bytes
    }

    /// `ANNOUNCE`: TOKEN, ADDR{FAMILY, ID, ADDR, [PORT], FLAGS=SIGNAL}.
    public static func announce(version: UInt8 = 1, token: UInt32, id: UInt8, address a: SocketEndpoint) -> [UInt8] {
        var w = header(.announce, version: version)
        w.attribute(Attr.token, token)
        address(&w, Attr.addr, a, id: id, includePort: a.port != 0, flags: .signal)
        return w.bytes
    }

    /// `REMOVE`: TOKEN, LOC_ID.
    public static func remove(version: UInt8 = 1, token: UInt32, id: UInt8) -> [UInt8] {
        var w = header(.remove, version: version)
        w.attribute(Attr.token, token)
        w.attribute(Attr.locID, id)
        return w.bytes
    }
}
