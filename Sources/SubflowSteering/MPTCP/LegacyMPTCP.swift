import Glibc
internal import CSRH
import SRv6Paths
import LinuxSystem

/// The draft-hesmans-mptcp-socket-03 operations, whichever kernel runs them: ``MultipathConnection``
/// (upstream, userspace path manager) and ``LegacyMultipathConnection``
/// (the out-of-tree kernel's socket options 66–72).
public protocol SubflowManaging: AnyObject {
    /// MPTCP_GET_SUB_IDS (with tuples and flags).
    func subflows() throws(SubflowError) -> [SubflowStatus]
    /// MPTCP_OPEN_SUB_TUPLE for each tuple; returns the new ids.
    func openSubflows(_ tuples: [SubflowTuple], timeout: Duration, confirm: Duration) throws(SubflowError) -> [UInt32]
    /// MPTCP_CLOSE_SUB_ID
    func closeSubflow(id: UInt32, how: SubflowCloseMode, timeout: Duration) throws(SubflowError)
    /// MPTCP_GET_SUB_TUPLE
    func tuple(id: UInt32) throws(SubflowError) -> SubflowTuple
    /// MPTCP_SUB_GETSOCKOPT
    func subflowOption(id: UInt32, level: Int32, name: Int32) throws(SubflowError) -> [UInt8]
    /// MPTCP_SUB_SETSOCKOPT
    func setSubflowOption(id: UInt32, level: Int32, name: Int32, value: [UInt8]) throws(SubflowError)
}

extension MultipathConnection: SubflowManaging {}

/// The legacy kernel's socket options (all at level `IPPROTO_TCP`).
public struct LegacySocketOption: RawRepresentable, Hashable, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    /// `MPTCP_GET_SUB_IDS` (66)
    public static let getSubIDs = LegacySocketOption(rawValue: CSRH_MPTCP_GET_SUB_IDS)
    /// `MPTCP_CLOSE_SUB_ID` (67)
    public static let closeSubID = LegacySocketOption(rawValue: CSRH_MPTCP_CLOSE_SUB_ID)
    /// `MPTCP_GET_SUB_TUPLE` (68)
    public static let getSubTuple = LegacySocketOption(rawValue: CSRH_MPTCP_GET_SUB_TUPLE)
    /// `MPTCP_OPEN_SUB_TUPLE` (69)
    public static let openSubTuple = LegacySocketOption(rawValue: CSRH_MPTCP_OPEN_SUB_TUPLE)
    /// `MPTCP_SUB_GETSOCKOPT` (71)
    public static let subGetsockopt = LegacySocketOption(rawValue: CSRH_MPTCP_SUB_GETSOCKOPT)
    /// `MPTCP_SUB_SETSOCKOPT` (72)
    public static let subSetsockopt = LegacySocketOption(rawValue: CSRH_MPTCP_SUB_SETSOCKOPT)
}

/// One entry of MPTCP_GET_SUB_IDS (`struct mptcp_sub_status`).
public struct LegacySubflowStatus: Hashable, Sendable {
    public var id: UInt8
    /// `slave_sk`: not the initial subflow.
    public var slaveSocket: Bool
    public var fullyEstablished: Bool
    public var attached: Bool
    /// `low_prio`: backup.
    public var lowPriority: Bool
    public var preEstablished: Bool
}

/// Byte-exact codec for the legacy structs (layouts in csrh_mptcp.h; native byte order).
public enum LegacyCodec {
    /// `sizeof(struct mptcp_sub_status)`: 2 (bitfields in byte 1).
    public static let statusSize = 2
    /// `offsetof(struct mptcp_sub_ids, sub_status)`
    public static let statusOffset = 2
    /// `sizeof(struct mptcp_sub_tuple)` without the addresses.
    public static let tupleHeaderSize = 16

    /// Decodes an MPTCP_GET_SUB_IDS reply.
    public static func decodeSubIDs(_ b: [UInt8]) throws(SubflowError) -> [LegacySubflowStatus] {
        guard let count = b.first else { throw SubflowError(.badArgument, "MPTCP_GET_SUB_IDS reply is empty") }
        guard b.count >= statusOffset + Int(count) * statusSize else {
            throw SubflowError(.badArgument, "MPTCP_GET_SUB_IDS reply has \(b.count) bytes for \(count) subflows")
        }
        return (0..<Int(count)).map { i in
            let o = statusOffset + i * statusSize, bits = b[o + 1]
            return LegacySubflowStatus(id: b[o], slaveSocket: bits & 0x01 != 0, fullyEstablished: bits & 0x02 != 0,
                                       attached: bits & 0x04 != 0, lowPriority: bits & 0x08 != 0, preEstablished: bits & 0x10 != 0)
        }
    }

    /// Encodes one `struct mptcp_sub_status`.
    public static func encodeStatus(_ s: LegacySubflowStatus) -> [UInt8] {
        var bits: UInt8 = 0
        if s.slaveSocket { bits |= 0x01 }
        if s.fullyEstablished { bits |= 0x02 }
        if s.attached { bits |= 0x04 }
        if s.lowPriority { bits |= 0x08 }
        if s.preEstablished { bits |= 0x10 }
        return [s.id, bits]
    }

    static func sockaddrBytes(_ e: SocketEndpoint, v4: Bool) -> [UInt8] {
        var w = ByteWriter()
        if v4 {
            w.append(UInt16(AF_INET)); w.appendBigEndian(e.port); w.append(e.ipv4Bytes); w.append([UInt8](repeating: 0, count: 8))
        } else {
            w.append(UInt16(AF_INET6)); w.appendBigEndian(e.port); w.append(UInt32(0)); w.append(e.address.bytes); w.append(UInt32(0))
        }
        return w.bytes
    }

    /// Encodes a `struct mptcp_sub_tuple` (srte's layout: addresses last).
    /// - Parameters:
    ///   - id: the subflow id.
    ///   - backup: the low-priority flag.
    ///   - interfaceIndex: the interface to bind, 0 for none.
    ///   - srhPointer: the user address of the SRH buffer, 0 for none.
    ///   - local: the local address and port.
    ///   - remote: the remote address and port.
    public static func encodeTuple(id: UInt8, backup: Bool, interfaceIndex: Int32, srhPointer: UInt64, local: SocketEndpoint, remote: SocketEndpoint) -> [UInt8] {
        var w = ByteWriter()
        w.append(id)
        w.append(UInt8(backup ? 1 : 0))
        w.append(UInt16(0))
        w.append(interfaceIndex)
        w.append(srhPointer)
        let v4 = local.isIPv4 && remote.isIPv4
        w.append(sockaddrBytes(local, v4: v4))
        w.append(sockaddrBytes(remote, v4: v4))
        return w.bytes
    }

    /// Decodes a `struct mptcp_sub_tuple` (as MPTCP_GET_SUB_TUPLE fills it).
    public static func decodeTuple(_ b: [UInt8]) throws(SubflowError) -> (id: UInt8, backup: Bool, interfaceIndex: Int32, local: SocketEndpoint, remote: SocketEndpoint) {
        var r = ByteReader(b)
        guard let id = r.u8(), let prio = r.u8(), r.skip(2), let ifIdx = r.read(Int32.self), r.skip(8), let family = r.u16() else {
            throw SubflowError(.badArgument, "mptcp_sub_tuple of \(b.count) bytes is too short")
        }
        let len = family == UInt16(AF_INET) ? 16 : 28
        guard b.count >= tupleHeaderSize + 2 * len else { throw SubflowError(.badArgument, "mptcp_sub_tuple of \(b.count) bytes is too short for two addresses") }
        let l = SocketEndpoint(sockaddrBytes: Array(b[16..<(16 + len)]) + [UInt8](repeating: 0, count: 28 - len))
        let rm = SocketEndpoint(sockaddrBytes: Array(b[(16 + len)..<(16 + 2 * len)]) + [UInt8](repeating: 0, count: 28 - len))
        return (id, prio != 0, ifIdx, l, rm)
    }

    /// Encodes a `struct mptcp_close_sub_id`.
    public static func encodeClose(id: UInt8, how: Int32) -> [UInt8] {
        var w = ByteWriter()
        w.append(id); w.append([0, 0, 0]); w.append(how)
        return w.bytes
    }

    /// Encodes a `struct mptcp_sub_getsockopt` (pointers are user addresses).
    public static func encodeSubGetsockopt(id: UInt8, level: Int32, name: Int32, optval: UInt64, optlen: UInt64) -> [UInt8] {
        var w = ByteWriter()
        w.append(id); w.append([0, 0, 0]); w.append(level); w.append(name); w.append(UInt32(0)); w.append(optval); w.append(optlen)
        return w.bytes
    }

    /// Encodes a `struct mptcp_sub_setsockopt`.
    public static func encodeSubSetsockopt(id: UInt8, level: Int32, name: Int32, optval: UInt64, optlen: UInt32) -> [UInt8] {
        var w = ByteWriter()
        w.append(id); w.append([0, 0, 0]); w.append(level); w.append(name); w.append(UInt32(0)); w.append(optval); w.append(optlen); w.append(UInt32(0))
        return w.bytes
    }
}

/// getsockopt as the legacy backend calls it: returns 0 or an errno; `len` in/out.
public typealias LegacyGetsockopt = (_ level: Int32, _ name: Int32, _ buffer: UnsafeMutableRawPointer, _ length: inout UInt32) -> Int32

/// The draft-hesmans-mptcp-socket-03 API on the legacy out-of-tree kernel (bhesmans/mptcp): a plain TCP
/// socket whose subflows are managed with getsockopt 66–72 at IPPROTO_TCP.
public final class LegacyMultipathConnection: SubflowManaging, @unchecked Sendable {
    /// The TCP socket's descriptor (owned).
    public let fileDescriptor: Int32
    let call: LegacyGetsockopt

    /// Whether the running kernel has the legacy options: getsockopt(66) on a
    /// TCP socket answers ENOPROTOOPT when it does not (every upstream kernel).
    public static func kernelHasLegacyAPI() -> Bool {
        let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), Int32(IPPROTO_TCP))
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 64)
        var len = socklen_t(buf.count)
        let r = buf.withUnsafeMutableBytes { getsockopt(fd, Int32(IPPROTO_TCP), CSRH_MPTCP_GET_SUB_IDS, $0.baseAddress, &len) }
        return !(r < 0 && Errno.current == ENOPROTOOPT)
    }

    /// Wraps a connected TCP socket on the legacy kernel (takes ownership).
    /// - Throws: `.notSupported` when the kernel lacks the options.
    public convenience init(fileDescriptor fd: Int32) throws(SubflowError) {
        guard Self.kernelHasLegacyAPI() else {
            throw SubflowError(.notSupported, "this kernel does not have the out-of-tree MPTCP socket options (getsockopt 66 answers ENOPROTOOPT): use MultipathConnection")
        }
        self.init(fileDescriptor: fd) { level, name, buf, len in
            var l = socklen_t(len)
            defer { len = UInt32(l) }
            return getsockopt(fd, level, name, buf, &l) < 0 ? Errno.current.rawValue : 0
        }
    }

    /// With an injected getsockopt (tests: a message-level fake of the legacy kernel).
    public init(fileDescriptor fd: Int32, getsockopt: @escaping LegacyGetsockopt) {
        fileDescriptor = fd
        call = getsockopt
    }

    deinit { if fileDescriptor >= 0 { close(fileDescriptor) } }

    func invoke(_ o: LegacySocketOption, _ buf: inout [UInt8]) throws(SubflowError) -> Int {
        var len = UInt32(buf.count)
        let e = buf.withUnsafeMutableBytes { call(Int32(IPPROTO_TCP), o.rawValue, $0.baseAddress!, &len) }
        switch e {
        case 0: return Int(len)
        case EINVAL: throw SubflowError(.invalidID, "the kernel rejected the request (EINVAL: unknown subflow id or bad argument)", errno: e)
        case EOPNOTSUPP: throw SubflowError(.fallback, "the connection is not using MPTCP", errno: e)
        default: throw .system(SystemCallError("getsockopt(IPPROTO_TCP, \(o.rawValue))", errno: e))
        }
    }

    public func statuses() throws(SubflowError) -> [LegacySubflowStatus] {
        var buf = [UInt8](repeating: 0, count: LegacyCodec.statusOffset + 255 * LegacyCodec.statusSize)
        let n = try invoke(.getSubIDs, &buf)
        return try LegacyCodec.decodeSubIDs(Array(buf.prefix(n)))
    }

    public func tuple(id: UInt32) throws(SubflowError) -> SubflowTuple {
        guard let small = UInt8(exactly: id) else { throw SubflowError(.invalidID, "legacy subflow ids are 0–255, not \(id)") }
        var buf = [UInt8](repeating: 0, count: LegacyCodec.tupleHeaderSize + 2 * 28)
        buf[0] = small
        let n = try invoke(.getSubTuple, &buf)
        let t = try LegacyCodec.decodeTuple(Array(buf.prefix(n)))
        return SubflowTuple(local: t.local, remote: t.remote, backup: t.backup, interfaceIndex: t.interfaceIndex)
    }

    public func subflows() throws(SubflowError) -> [SubflowStatus] {
        try statuses().map { (s) throws(SubflowError) -> SubflowStatus in
            let t = try tuple(id: UInt32(s.id))
            return SubflowStatus(id: UInt32(s.id), local: t.local, remote: t.remote, backup: s.lowPriority,
                                 state: s.fullyEstablished ? .up : .pending, localID: nil, bytesSent: 0, bytesReceived: 0, rttMicroseconds: 0)
        }
    }

    public func openSubflows(_ tuples: [SubflowTuple], timeout: Duration = .seconds(5), confirm: Duration = .zero) throws(SubflowError) -> [UInt32] {
        var ids: [UInt32] = []
        for t in tuples {
            if t.segmentRoutingHeader != nil {
                throw SubflowError(.steeringNotAvailable, "steering not available: a subflow cannot be opened with an SRH; open it without one")
            }
            if t.local.port != 0 && t.local.port < 1024 && geteuid() != 0 {
                throw SubflowError(.privilegedPort, "local port \(t.local.port) is below 1024: only root may open subflows there")
            }
            var buf = LegacyCodec.encodeTuple(id: 0, backup: t.backup, interfaceIndex: t.interfaceIndex, srhPointer: 0, local: t.local, remote: t.remote)
            _ = try invoke(.openSubTuple, &buf)
            ids.append(UInt32(buf[0]))   // the kernel writes the new id back
        }
        return ids
    }

    public func closeSubflow(id: UInt32, how: SubflowCloseMode = .graceful, timeout: Duration = .seconds(2)) throws(SubflowError) {
        guard let small = UInt8(exactly: id) else { throw SubflowError(.invalidID, "legacy subflow ids are 0–255, not \(id)") }
        var buf = LegacyCodec.encodeClose(id: small, how: how.rawValue)
        _ = try invoke(.closeSubID, &buf)
    }

    public func subflowOption(id: UInt32, level: Int32, name: Int32) throws(SubflowError) -> [UInt8] {
        guard let small = UInt8(exactly: id) else { throw SubflowError(.invalidID, "legacy subflow ids are 0–255, not \(id)") }
        var value = [UInt8](repeating: 0, count: 256)
        var valueLength = UInt32(value.count)
        let r: Result<Int, SubflowError> = value.withUnsafeMutableBytes { v in
            withUnsafeMutablePointer(to: &valueLength) { lp in
                var buf = LegacyCodec.encodeSubGetsockopt(id: small, level: level, name: name,
                                                          optval: UInt64(UInt(bitPattern: v.baseAddress)), optlen: UInt64(UInt(bitPattern: lp)))
                do throws(SubflowError) { return .success(try invoke(.subGetsockopt, &buf)) } catch { return .failure(error) }
            }
        }
        _ = try r.get()
        return Array(value.prefix(Int(min(valueLength, 256))))
    }

    public func setSubflowOption(id: UInt32, level: Int32, name: Int32, value: [UInt8]) throws(SubflowError) {
        guard let small = UInt8(exactly: id) else { throw SubflowError(.invalidID, "legacy subflow ids are 0–255, not \(id)") }
        var v = value
        let r: Result<Int, SubflowError> = v.withUnsafeMutableBytes { p in
            var buf = LegacyCodec.encodeSubSetsockopt(id: small, level: level, name: name, optval: UInt64(UInt(bitPattern: p.baseAddress)), optlen: UInt32(p.count))
            do throws(SubflowError) { return .success(try invoke(.subSetsockopt, &buf)) } catch { return .failure(error) }
        }
        _ = try r.get()
    }
}
