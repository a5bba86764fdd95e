/// Netlink messages and attributes, encoded and decoded in Swift.
///
/// Netlink uses the host's byte order (little-endian on every platform srte
/// runs on) for its headers and integer attributes; a few attributes carry
/// big-endian values (ports in MPTCP events), and their decoders say so.
/// Lengths are checked before every read; a short or malformed message is a
/// ``NetlinkDecodingError``, never a crash.

/// Netlink message header flags (`NLM_F_*`, include/uapi/linux/netlink.h).
public struct NetlinkFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// `NLM_F_REQUEST`
    public static let request = NetlinkFlags(rawValue: 0x1)
    /// `NLM_F_MULTI`: part of a multi-part reply ended by `NLMSG_DONE`.
    public static let multi = NetlinkFlags(rawValue: 0x2)
    /// `NLM_F_ACK`
    public static let ack = NetlinkFlags(rawValue: 0x4)
    /// `NLM_F_ROOT | NLM_F_MATCH` (`NLM_F_DUMP`)
    public static let dump = NetlinkFlags(rawValue: 0x300)
    /// `NLM_F_REPLACE` (new requests)
    public static let replace = NetlinkFlags(rawValue: 0x100)
    /// `NLM_F_EXCL` (new requests)
    public static let exclusive = NetlinkFlags(rawValue: 0x200)
    /// `NLM_F_CREATE` (new requests)
    public static let create = NetlinkFlags(rawValue: 0x400)
    /// `NLM_F_CAPPED` (acks): the request was not echoed.
    public static let capped = NetlinkFlags(rawValue: 0x100)
    /// `NLM_F_ACK_TLVS` (acks): extended-ack attributes follow.
    public static let ackTLVs = NetlinkFlags(rawValue: 0x200)
}

/// Netlink message types common to every family (`NLMSG_*`).
public struct NetlinkMessageType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// `NLMSG_NOOP`
    public static let noop = NetlinkMessageType(rawValue: 1)
    /// `NLMSG_ERROR` (also the ack, with error 0)
    public static let error = NetlinkMessageType(rawValue: 2)
    /// `NLMSG_DONE`: end of a dump
    public static let done = NetlinkMessageType(rawValue: 3)
    /// `NLMSG_OVERRUN`
    public static let overrun = NetlinkMessageType(rawValue: 4)
    /// `GENL_ID_CTRL`: the generic netlink controller family
    public static let genericControl = NetlinkMessageType(rawValue: 0x10)
    public var description: String {
        switch self {
        case .noop: "NOOP"
        case .error: "ERROR"
        case .done: "DONE"
        case .overrun: "OVERRUN"
        default: String(rawValue)
        }
    }
}

/// A malformed message or attribute from the kernel (or a fake).
public struct NetlinkDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was being decoded.
    public var what: String
    /// Byte offset in the buffer where decoding stopped.
    public var offset: Int
    package init(what: String, offset: Int) {
        self.what = what
        self.offset = offset
    }
    public var description: String { "malformed netlink data: \(what) at byte \(offset)" }
}

/// One netlink message: the 16-byte `struct nlmsghdr` and its payload.
public struct NetlinkMessage: Hashable, Sendable {
    /// `nlmsg_type`: a family id, a rtnetlink message type, or `NLMSG_*`.
    public var type: NetlinkMessageType
    /// `nlmsg_flags`
    public var flags: NetlinkFlags
    /// `nlmsg_seq`
    public var sequence: UInt32
    /// `nlmsg_pid`: the sender's port id (0 = the kernel).
    public var portID: UInt32
    /// Everything after the header (unpadded).
    public var payload: [UInt8]

    /// `NLMSG_HDRLEN`
    public static let headerLength = 16

    public init(type: NetlinkMessageType, flags: NetlinkFlags, sequence: UInt32 = 0, portID: UInt32 = 0, payload: [UInt8] = []) {
        self.type = type
        self.flags = flags
        self.sequence = sequence
        self.portID = portID
        self.payload = payload
    }

    /// The wire form: header with `nlmsg_len`, payload, padding to 4 bytes.
    public var encoded: [UInt8] {
        var w = ByteWriter()
        w.append(UInt32(Self.headerLength + payload.count))
        w.append(type.rawValue)
        w.append(flags.rawValue)
        w.append(sequence)
        w.append(portID)
        w.append(payload)
        w.pad(to: 4)
        return w.bytes
    }

    /// Splits a datagram from a netlink socket into messages.
    public static func decode(_ bytes: [UInt8]) throws(NetlinkDecodingError) -> [NetlinkMessage] {
        var messages: [NetlinkMessage] = []
        var offset = 0
        while bytes.count - offset >= headerLength {
            var r = ByteReader(bytes, from: offset)
            let length = Int(r.u32()!)
            guard length >= headerLength, offset + length <= bytes.count else {
                throw NetlinkDecodingError(what: "nlmsg_len \(length) (datagram has \(bytes.count - offset) bytes left)", offset: offset)
            }
            let type = r.u16()!, flags = r.u16()!, seq = r.u32()!, pid = r.u32()!
            messages.append(NetlinkMessage(type: NetlinkMessageType(rawValue: type), flags: NetlinkFlags(rawValue: flags), sequence: seq, portID: pid,
                                           payload: Array(bytes[(offset + headerLength)..<(offset + length)])))
            offset += (length + 3) & ~3
        }
        guard offset >= bytes.count else {
            throw NetlinkDecodingError(what: "trailing \(bytes.count - offset) bytes", offset: offset)
        }
        return messages
    }
}

/// Writes native-endian integers and netlink attributes, back-patching lengths.
public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8] = []
    public init() {}

    public mutating func append<T: FixedWidthInteger>(_ v: T) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }
    public mutating func appendBigEndian<T: FixedWidthInteger>(_ v: T) {
        withUnsafeBytes(of: v.bigEndian) { bytes.append(contentsOf: $0) }
    }
    public mutating func append(_ b: [UInt8]) { bytes.append(contentsOf: b) }
    public mutating func pad(to n: Int) {
        while bytes.count % n != 0 { bytes.append(0) }
    }

    /// A `struct nlattr` (len, type) with `value`, padded to 4 bytes.
    public mutating func attribute(_ type: UInt16, _ value: [UInt8]) {
        append(UInt16(4 + value.count))
        append(type)
        append(value)
        pad(to: 4)
    }
    public mutating func attribute<T: FixedWidthInteger>(_ type: UInt16, _ value: T) {
        var w = ByteWriter()
        w.append(value)
        attribute(type, w.bytes)
    }
    /// A NUL-terminated string attribute (`NLA_NUL_STRING` / `mnl_attr_put_strz`).
    public mutating func attribute(_ type: UInt16, string: String) {
        attribute(type, Array(string.utf8) + [0])
    }
    /// A nested attribute (`NLA_F_NESTED` set); its length is filled in after `body`.
    public mutating func nested(_ type: UInt16, _ body: (inout ByteWriter) -> Void) {
        let start = bytes.count
        append(UInt16(0))
        append(type | 0x8000)
        body(&self)
        guard let len = UInt16(exactly: bytes.count - start) else {
            preconditionFailure("nested netlink attribute longer than 65535 bytes")
        }
        withUnsafeBytes(of: len.littleEndian) { bytes.replaceSubrange(start..<(start + 2), with: $0) }
    }
}

/// A bounded cursor over bytes; every read returns nil rather than run past the end.
public struct ByteReader: Sendable {
    public let bytes: [UInt8]
    public private(set) var offset: Int
    let end: Int

    public init(_ bytes: [UInt8], from offset: Int = 0, to end: Int? = nil) {
        self.bytes = bytes
        self.offset = offset
        self.end = end ?? bytes.count
    }

    public var remaining: Int { end - offset }

    public mutating func read<T: FixedWidthInteger>(_: T.Type, bigEndian: Bool = false) -> T? {
        let n = MemoryLayout<T>.size
        guard remaining >= n else { return nil }
        var v: T = 0
        for i in 0..<n { v |= T(bytes[offset + i]) << (8 * (bigEndian ? n - 1 - i : i)) }
        offset += n
        return v
    }
    public mutating func u8() -> UInt8? { read(UInt8.self) }
    public mutating func u16() -> UInt16? { read(UInt16.self) }
    public mutating func u32() -> UInt32? { read(UInt32.self) }
    public mutating func u64() -> UInt64? { read(UInt64.self) }
    public mutating func take(_ n: Int) -> [UInt8]? {
        guard n >= 0, remaining >= n else { return nil }
        defer { offset += n }
        return Array(bytes[offset..<(offset + n)])
    }
    public mutating func skip(_ n: Int) -> Bool {
        guard n >= 0, remaining >= n else { return false }
        offset += n
        return true
    }
}

/// One attribute (`struct nlattr`): type without the NESTED/BYTEORDER bits, and its value.
public struct NetlinkAttribute: Hashable, Sendable {
    /// `nla_type & NLA_TYPE_MASK`
    public var type: UInt16
    /// Whether `NLA_F_NESTED` was set.
    public var isNested: Bool
    /// The value, unpadded.
    public var value: [UInt8]
    /// Offset of the attribute header within the buffer it was decoded from.
    public var offset: Int

    /// Decodes a run of attributes (e.g. a message payload after its fixed header).
    public static func decode(_ bytes: [UInt8], from start: Int = 0) throws(NetlinkDecodingError) -> [NetlinkAttribute] {
        var out: [NetlinkAttribute] = []
        var off = start
        while bytes.count - off >= 4 {
            var r = ByteReader(bytes, from: off)
            let len = Int(r.u16()!), rawType = r.u16()!
            guard len >= 4, off + len <= bytes.count else {
                throw NetlinkDecodingError(what: "nla_len \(len) of attribute type \(rawType & 0x3fff)", offset: off)
            }
            out.append(NetlinkAttribute(type: rawType & 0x3fff, isNested: rawType & 0x8000 != 0, value: Array(bytes[(off + 4)..<(off + len)]), offset: off))
            off += (len + 3) & ~3
        }
        return out
    }

    /// The nested attributes inside this one.
    public func nested() throws(NetlinkDecodingError) -> [NetlinkAttribute] { try Self.decode(value) }

    private func integer<T: FixedWidthInteger>(_: T.Type, bigEndian: Bool = false) throws(NetlinkDecodingError) -> T {
        guard value.count == MemoryLayout<T>.size else {
            throw NetlinkDecodingError(what: "attribute \(type) is not a \(T.self) (length \(value.count))", offset: offset)
        }
        var r = ByteReader(value)
        return r.read(T.self, bigEndian: bigEndian)!
    }
    public func u8() throws(NetlinkDecodingError) -> UInt8 { try integer(UInt8.self) }
    public func u16() throws(NetlinkDecodingError) -> UInt16 { try integer(UInt16.self) }
    /// A 16-bit value in network byte order (e.g. `MPTCP_ATTR_SPORT`).
    public func u16BigEndian() throws(NetlinkDecodingError) -> UInt16 { try integer(UInt16.self, bigEndian: true) }
    public func u32() throws(NetlinkDecodingError) -> UInt32 { try integer(UInt32.self) }
    public func i32() throws(NetlinkDecodingError) -> Int32 { try integer(Int32.self) }
    public func u64() throws(NetlinkDecodingError) -> UInt64 { try integer(UInt64.self) }
    /// A string, with the trailing NUL (if any) removed.
    public func string() -> String {
        let body = value.last == 0 ? value.dropLast() : value[...]
        return String(decoding: body.prefix { $0 != 0 }, as: UTF8.self)
    }
}

extension Array where Element == NetlinkAttribute {
    /// The first attribute of `type`.
    public func first(_ type: UInt16) -> NetlinkAttribute? { first { $0.type == type } }
}

/// The 4-byte generic netlink header (`struct genlmsghdr`).
public struct GenericNetlinkHeader: Hashable, Sendable {
    /// `cmd`
    public var command: UInt8
    /// `version`
    public var version: UInt8
    public init(command: UInt8, version: UInt8) {
        self.command = command
        self.version = version
    }
    public var encoded: [UInt8] { [command, version, 0, 0] }
    /// Reads the header at the start of a generic netlink payload.
    public init(decoding payload: [UInt8]) throws(NetlinkDecodingError) {
        guard payload.count >= 4 else { throw NetlinkDecodingError(what: "genlmsghdr (payload has \(payload.count) bytes)", offset: 0) }
        command = payload[0]
        version = payload[1]
    }
}
