import Glibc

/// A failed netlink operation, with everything the kernel said about it.
///
/// The kernel answers a failed request with a negative errno in `NLMSG_ERROR`
/// and, with `NETLINK_EXT_ACK`, often a message ("subflow not found") and the
/// byte offset of the offending attribute in the request. Both are kept; they
/// are frequently the only useful clue.
///
/// ```swift
/// do { try pm.destroySubflow(token: t, local: l, remote: r) }
/// catch let e as NetlinkError where e.errno == ESRCH { print(e.extAckMessage ?? "") }
/// ```
public struct NetlinkError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What srte was doing, e.g. `"mptcp_pm SUBFLOW_CREATE"`.
    public var operation: String
    /// The positive errno value (`-nlmsgerr.error`, or the failed system call's errno).
    public var errno: Errno
    /// `NLMSGERR_ATTR_MSG`: the kernel's extended-ack message.
    public var extAckMessage: String?
    /// `NLMSGERR_ATTR_OFFS`: offset of the offending attribute in the request message.
    public var extAckOffset: UInt32?
    /// The request's sequence number (0 when none was sent).
    public var sequence: UInt32

    public init(operation: String, errno: Errno, extAckMessage: String? = nil, extAckOffset: UInt32? = nil, sequence: UInt32 = 0) {
        self.operation = operation
        self.errno = errno
        self.extAckMessage = extAckMessage
        self.extAckOffset = extAckOffset
        self.sequence = sequence
    }

    /// For an errno value as netlink or a C shim returns it (negative or positive).
    public init(operation: String, errno: Int32, extAckMessage: String? = nil, extAckOffset: UInt32? = nil, sequence: UInt32 = 0) {
        self.init(operation: operation, errno: Errno(errno), extAckMessage: extAckMessage, extAckOffset: extAckOffset, sequence: sequence)
    }

    /// `strerror(errno)`.
    public var reason: String { errno.message }

    public var description: String {
        var s = "\(operation): \(errno)"
        if let m = extAckMessage, !m.isEmpty { s += ": \(m)" }
        if let o = extAckOffset { s += " [attribute at byte \(o)]" }
        return s
    }

    /// Parses an `NLMSG_ERROR` payload. Returns nil for an ack (error 0).
    ///
    /// Layout: `int error; struct nlmsghdr request;` then, unless `NLM_F_CAPPED`,
    /// the request's payload; then, with `NLM_F_ACK_TLVS`, the extended-ack attributes.
    static func fromErrorMessage(_ m: NetlinkMessage, operation: String) throws(NetlinkDecodingError) -> NetlinkError? {
        var r = ByteReader(m.payload)
        guard let raw = r.read(Int32.self), let requestLength = r.u32() else {
            throw NetlinkDecodingError(what: "nlmsgerr (\(m.payload.count) bytes)", offset: 0)
        }
        guard raw != 0 else { return nil }
        var e = NetlinkError(operation: operation, errno: -raw, sequence: m.sequence)
        if m.flags.contains(.ackTLVs) {
            var start = 4 + NetlinkMessage.headerLength
            if !m.flags.contains(.capped) { start = 4 + ((Int(requestLength) + 3) & ~3) }
            if start <= m.payload.count { e.takeExtendedAck(try NetlinkAttribute.decode(m.payload, from: start)) }
        }
        return e
    }

    /// Parses the failure of a dump from its `NLMSG_DONE` payload (a negative int, then with
    /// `NLM_F_ACK_TLVs` the extended-ack attributes); `nil` when the dump succeeded.
    static func fromDoneMessage(_ m: NetlinkMessage, operation: String) -> NetlinkError? {
        var r = ByteReader(m.payload)
        guard let status = r.read(Int32.self), status < 0 else { return nil }
        var e = NetlinkError(operation: operation, errno: -status, sequence: m.sequence)
        if m.flags.contains(.ackTLVs), let attrs = try? NetlinkAttribute.decode(m.payload, from: 4) { e.takeExtendedAck(attrs) }
        return e
    }

    /// Takes the kernel's message and the offending attribute's offset from extended-ack
    /// attributes: the one place srte reads them.
    mutating func takeExtendedAck(_ attributes: [NetlinkAttribute]) {
        for a in attributes {
            switch a.type {
            case 1: extAckMessage = a.string()            // NLMSGERR_ATTR_MSG
            case 2: extAckOffset = try? a.u32()           // NLMSGERR_ATTR_OFFS
            default: break
            }
        }
    }
}
