import Glibc
internal import CSRH
import SRv6Paths
import LinuxSystem

/// Connection-level MPTCP state (`struct mptcp_info`, getsockopt `MPTCP_INFO`).
public struct MPTCPInfo: Hashable, Sendable {
    /// `mptcpi_token`: the connection id (RFC 6897 TCP_MULTIPATH_CONNID); equals the CREATED event's token.
    public var token: UInt32
    /// `mptcpi_flags`
    public var flags: UInt32
    /// `mptcpi_subflows`: additional subflows (the initial one not counted).
    public var subflows: UInt8
    /// `mptcpi_subflows_max`
    public var subflowsMax: UInt8
    /// `mptcpi_local_addr_used`
    public var localAddressesUsed: UInt8
    /// `mptcpi_bytes_sent`
    public var bytesSent: UInt64
    /// `mptcpi_bytes_received`
    public var bytesReceived: UInt64
    /// `mptcpi_bytes_acked`
    public var bytesAcked: UInt64
    /// `mptcpi_subflows_total` (6.9+): all subflows including the initial one.
    public var subflowsTotal: UInt8
    /// How many bytes the kernel filled in (48 on 6.1, 96 on 6.18).
    public var kernelSize: Int

    /// `MPTCP_INFO_FLAG_FALLBACK`: the connection is plain TCP.
    public var isFallback: Bool { flags & CSRH_MPTCP_INFO_FLAG_FALLBACK != 0 }
    /// `MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED`: the peer speaks MPTCP.
    public var remoteKeyReceived: Bool { flags & CSRH_MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED != 0 }

    init(_ i: csrh_mptcp_info, size: Int) {
        token = i.mptcpi_token
        flags = i.mptcpi_flags
        subflows = i.mptcpi_subflows
        subflowsMax = i.mptcpi_subflows_max
        localAddressesUsed = i.mptcpi_local_addr_used
        bytesSent = i.mptcpi_bytes_sent
        bytesReceived = i.mptcpi_bytes_received
        bytesAcked = i.mptcpi_bytes_acked
        subflowsTotal = i.mptcpi_subflows_total
        kernelSize = size
    }
}

/// One subflow in an `MPTCP_FULL_INFO` snapshot.
public struct SubflowSnapshot: Hashable, Sendable {
    /// `mptcp_subflow_info.id`: a per-connection counter (1, 2, 3…), not a PM address id.
    public var id: UInt32
    public var local: SocketEndpoint
    public var remote: SocketEndpoint
    /// `tcpi_state` (1 = ESTABLISHED, see `TCP_*` in netinet/tcp.h).
    public var tcpState: UInt8
    /// `tcpi_rtt` in microseconds.
    public var rttMicroseconds: UInt32
    /// `tcpi_bytes_sent` (including retransmissions).
    public var bytesSent: UInt64
    /// `tcpi_bytes_acked`
    public var bytesAcked: UInt64
    /// `tcpi_bytes_received`
    public var bytesReceived: UInt64
    /// `tcpi_unacked`: packets sent and not yet acknowledged.
    public var unackedPackets: UInt32 = 0
    /// `tcpi_backoff`: retransmission timeouts in a row without an acknowledgement.
    public var backoff: UInt8 = 0
    /// `tcpi_snd_mss`: the segment size this end sends with (route MTU minus headers and
    /// fixed TCP options; MPTCP's DSS option comes off each segment on top).
    public var sendMSS: UInt32 = 0
}

/// An `IPPROTO_MPTCP` stream socket.
///
/// ```swift
/// let s = try MPTCPSocket()
/// try s.bind(SocketEndpoint(myAddress, port: 40000))   // known 4-tuple for the initial subflow
/// try s.connect(SocketEndpoint(server, port: 5000))
/// print(try s.info().token)
/// ```
public final class MPTCPSocket: @unchecked Sendable {
    /// The file descriptor; closed when the object goes away (unless borrowed).
    public let fileDescriptor: Int32
    private let owned: Bool

    /// Creates an MPTCP socket (AF_INET6, also serves IPv4-mapped peers).
    /// - Throws: ``SubflowError`` `.mptcpDisabled` when the kernel or namespace has MPTCP off.
    public init() throws(SubflowError) {
        let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), CSRH_IPPROTO_MPTCP)
        if fd < 0 {
            let e = Errno.current
            if e == EPROTONOSUPPORT || e == ENOPROTOOPT || e == EINVAL {
                throw SubflowError(.mptcpDisabled, MPTCPNamespaceState.current().map { $0.enabled ? "socket(IPPROTO_MPTCP): \(e.message)" : "MPTCP is disabled in this network namespace: run `sysctl -w net.mptcp.enabled=1`" } ?? "this kernel has no MPTCP (CONFIG_MPTCP)", errno: e)
            }
            throw .system(SystemCallError("socket(IPPROTO_MPTCP)", errno: e))
        }
        fileDescriptor = fd
        owned = true
    }

    /// Takes over `fd` (closed when the object goes away), e.g. a socket received over SCM_RIGHTS.
    package init(adopting fd: Int32) {
        fileDescriptor = fd
        owned = true
    }

    /// Uses `fd` without taking it over: the caller keeps it open while the object is in use
    /// and closes it (a socket a request brought, answered before the request's descriptors close).
    package init(borrowing fd: Int32) {
        fileDescriptor = fd
        owned = false
    }

    deinit { if owned { Glibc.close(fileDescriptor) } }

    /// The error draft-hesmans-mptcp-socket-03 gives after fallback: EOPNOTSUPP, whatever the kernel said.
    static func fallbackError(_ e: Errno, _ option: String) -> SubflowError {
        SubflowError(.fallback, "the connection fell back to plain TCP: there are no MPTCP subflows (getsockopt \(option): \(e.message))", errno: EOPNOTSUPP)
    }

    /// Sets an integer socket option.
    public func setOption(level: Int32, name: Int32, value: Int32) throws(SystemCallError) {
        var v = value
        try syscallValue("setsockopt(\(level), \(name))") { setsockopt(fileDescriptor, level, name, &v, socklen_t(MemoryLayout<Int32>.size)) }
    }

    /// The cookie of the network namespace the socket lives in (`SO_NETNS_COOKIE`, Linux 5.14+;
    /// 0 when unknown): what BPF programs see as `bpf_get_netns_cookie()`.
    public var netnsCookie: UInt64 {
        (try? NetworkNamespace.cookie(ofSocket: fileDescriptor)) ?? 0
    }

    /// Sets the congestion control (`TCP_CONGESTION`, e.g. "cubic", "bbr", "reno"). On an
    /// MPTCP socket the kernel applies it to every subflow, also to subflows opened later.
    /// Any algorithm in `tcp_available_congestion_control` works with CAP_NET_ADMIN; without it,
    /// only those in `tcp_allowed_congestion_control`.
    public func setCongestionControl(_ name: String) throws(SystemCallError) {
        var bytes = Array(name.utf8)
        try syscallValue("setsockopt(TCP_CONGESTION, \(name))") {
            setsockopt(fileDescriptor, Int32(IPPROTO_TCP), TCP_CONGESTION, &bytes, socklen_t(bytes.count))
        }
    }

    /// Binds (do this before ``connect(to:)`` so the initial subflow has a known 4-tuple).
    public func bind(_ e: SocketEndpoint) throws(SystemCallError) {
        try syscallValue("bind(\(e))") { e.withSockaddr { Glibc.bind(fileDescriptor, $0, $1) } }
    }

    /// Connects (blocking).
    public func connect(to e: SocketEndpoint) throws(SystemCallError) {
        try syscallValue("connect(\(e))") { e.withSockaddr { Glibc.connect(fileDescriptor, $0, $1) } }
    }

    /// Connects, giving up after `timeout` (SO_SNDTIMEO bounds a blocking connect on Linux)
    /// with ETIMEDOUT; the socket is then unusable.
    public func connect(to e: SocketEndpoint, timeout: Duration) throws(SystemCallError) {
        var tv = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
        setsockopt(fileDescriptor, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        defer {
            var zero = timeval()
            setsockopt(fileDescriptor, SOL_SOCKET, SO_SNDTIMEO, &zero, socklen_t(MemoryLayout<timeval>.size))
        }
        do { try connect(to: e) } catch {
            if error.errno == EINPROGRESS || error.errno == EAGAIN {
                throw SystemCallError("connect(\(e)): no answer within \(timeout) (is the peer listening, and does it route back to this source address?)", errno: ETIMEDOUT)
            }
            throw error
        }
    }

    /// Listens, with `SO_REUSEADDR` set.
    public func listen(backlog: Int32 = 64) throws(SystemCallError) {
        try syscallValue("listen") { Glibc.listen(fileDescriptor, backlog) }
    }

    /// Accepts one connection (blocking).
    public func accept() throws(SystemCallError) -> MPTCPSocket {
        let fd = try syscallValue("accept") { Glibc.accept(fileDescriptor, UnsafeMutablePointer<sockaddr>?.none, UnsafeMutablePointer<socklen_t>?.none) }
        return MPTCPSocket(adopting: fd)
    }

    /// Waits until the socket is readable (accept/recv would not block), up to `timeout`.
    public func waitReadable(timeout: Duration) throws(SystemCallError) -> Bool {
        var p = pollfd(fd: fileDescriptor, events: Int16(POLLIN), revents: 0)
        let ms = timeout.pollMilliseconds
        return try syscallValue("poll") { poll(&p, 1, ms) } > 0
    }

    /// Waits until the socket is writable (send would not block), up to `timeout`.
    public func waitWritable(timeout: Duration) throws(SystemCallError) -> Bool {
        var p = pollfd(fd: fileDescriptor, events: Int16(POLLOUT), revents: 0)
        let ms = timeout.pollMilliseconds
        return try syscallValue("poll") { poll(&p, 1, ms) } > 0
    }

    /// Sends what fits in the send buffer now, without blocking; 0 when nothing does.
    public func sendAvailable(_ bytes: UnsafeRawBufferPointer) throws(SystemCallError) -> Int {
        let n = Glibc.send(fileDescriptor, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
        if n < 0 {
            let e = Errno.current
            if e == EAGAIN || e == EWOULDBLOCK || e == EINTR { return 0 }
            throw SystemCallError("send", errno: e)
        }
        return n
    }

    /// Sends bytes; returns how many were sent.
    @discardableResult
    public func send(_ bytes: [UInt8]) throws(SystemCallError) -> Int {
        try syscallValue("send") { bytes.withUnsafeBytes { Glibc.send(fileDescriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }
    }

    /// Receives up to `max` bytes ([] at end of stream).
    public func receive(max: Int = 65536) throws(SystemCallError) -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: max)
        let n = try syscallValue("recv") { buf.withUnsafeMutableBytes { recv(fileDescriptor, $0.baseAddress, $0.count, 0) } }
        return Array(buf[0..<n])
    }

    /// `shutdown(SHUT_WR)`.
    public func shutdownWrite() throws(SystemCallError) {
        try syscallValue("shutdown") { Glibc.shutdown(fileDescriptor, Int32(SHUT_WR)) }
    }

    /// `getsockname`
    public func localEndpoint() throws(SystemCallError) -> SocketEndpoint {
        try SocketEndpoint.reading("getsockname") { getsockname(fileDescriptor, $0, $1) }
    }

    /// `getpeername`
    public func remoteEndpoint() throws(SystemCallError) -> SocketEndpoint {
        try SocketEndpoint.reading("getpeername") { getpeername(fileDescriptor, $0, $1) }
    }

    /// `MPTCP_INFO`: token, flags, counters.
    /// - Throws: ``SubflowError`` `.fallback` when the kernel refuses it because the
    ///   connection fell back to TCP.
    public func info() throws(SubflowError) -> MPTCPInfo {
        var i = csrh_mptcp_info()
        var len = socklen_t(MemoryLayout<csrh_mptcp_info>.size)
        if getsockopt(fileDescriptor, CSRH_SOL_MPTCP, CSRH_MPTCP_INFO, &i, &len) < 0 {
            let e = Errno.current
            // After fallback the option goes to the plain TCP socket, which
            // answers ENOPROTOOPT (older kernels: EOPNOTSUPP).
            if e == EOPNOTSUPP || e == ENOPROTOOPT { throw Self.fallbackError(e, "MPTCP_INFO") }
            throw .system(SystemCallError("getsockopt(MPTCP_INFO)", errno: e))
        }
        return MPTCPInfo(i, size: Int(len))
    }

    /// RFC 6897 "is MPTCP in use": true when the connection did not fall back to TCP.
    public var isMultipath: Bool {
        guard let i = try? info() else { return false }
        return !i.isFallback && i.remoteKeyReceived
    }

    /// `MPTCP_FULL_INFO`: one consistent snapshot of the connection and its subflows.
    /// - Throws: ``SubflowError`` `.fallback` after fallback to TCP, `.notSupported` before Linux 6.5.
    public func fullInfo(maxSubflows: Int = 64) throws(SubflowError) -> (info: MPTCPInfo, subflows: [SubflowSnapshot]) {
        var sf = [csrh_mptcp_subflow_info](repeating: csrh_mptcp_subflow_info(), count: maxSubflows)
        var tcp = [UInt8](repeating: 0, count: maxSubflows * Int(CSRH_TCPI_SIZE_WANTED))
        var fi = csrh_mptcp_full_info()
        fi.size_tcpinfo_user = UInt32(CSRH_TCPI_SIZE_WANTED)
        fi.size_sfinfo_user = UInt32(MemoryLayout<csrh_mptcp_subflow_info>.stride)
        fi.size_arrays_user = UInt32(maxSubflows)
        var len = socklen_t(MemoryLayout<csrh_mptcp_full_info>.size)
        let r: Int32 = sf.withUnsafeMutableBytes { sfp in
            tcp.withUnsafeMutableBytes { tp in
                fi.subflow_info = UInt64(UInt(bitPattern: sfp.baseAddress))
                fi.tcp_info = UInt64(UInt(bitPattern: tp.baseAddress))
                return getsockopt(fileDescriptor, CSRH_SOL_MPTCP, CSRH_MPTCP_FULL_INFO, &fi, &len)
            }
        }
        if r < 0 {
            let e = Errno.current
            if e == EOPNOTSUPP { throw Self.fallbackError(e, "MPTCP_FULL_INFO") }
            if e == ENOPROTOOPT {
                _ = try info()   // throws .fallback when that is the reason
                throw SubflowError(.notSupported, "MPTCP_FULL_INFO is not supported by this kernel (Linux 6.5 or later)", errno: e)
            }
            throw .system(SystemCallError("getsockopt(MPTCP_FULL_INFO)", errno: e))
        }
        let info = MPTCPInfo(fi.mptcp_info, size: Int(len) - 40)
        let n = min(Int(fi.num_subflows), maxSubflows)
        let tsize = Int(min(fi.size_tcpinfo_kernel, UInt32(CSRH_TCPI_SIZE_WANTED)))
        var out: [SubflowSnapshot] = []
        out.reserveCapacity(n)
        // Read in place (no copies): this runs on every request the agent's broker answers.
        sf.withUnsafeBytes { sfp in
            tcp.withUnsafeBytes { tp in
                let stride = MemoryLayout<csrh_mptcp_subflow_info>.stride
                let addrs = MemoryLayout<csrh_mptcp_subflow_info>.offset(of: \csrh_mptcp_subflow_info.addrs) ?? 8
                for k in 0..<n {
                    let base = k * Int(CSRH_TCPI_SIZE_WANTED)
                    func field<T: FixedWidthInteger>(_ off: Int32, _: T.Type) -> T {
                        guard Int(off) + MemoryLayout<T>.size <= tsize else { return 0 }
                        return T(littleEndian: tp.loadUnaligned(fromByteOffset: base + Int(off), as: T.self))
                    }
                    let entry = k * stride
                    let id = sfp.loadUnaligned(fromByteOffset: entry, as: UInt32.self)
                    let local = SocketEndpoint(sockaddr: UnsafeRawBufferPointer(rebasing: sfp[(entry + addrs)..<(entry + addrs + 128)]))
                    let remote = SocketEndpoint(sockaddr: UnsafeRawBufferPointer(rebasing: sfp[(entry + addrs + 128)..<(entry + addrs + 256)]))
                    out.append(SubflowSnapshot(id: id, local: local, remote: remote, tcpState: field(CSRH_TCPI_STATE_OFFSET, UInt8.self),
                                               rttMicroseconds: field(CSRH_TCPI_RTT_OFFSET, UInt32.self),
                                               bytesSent: field(CSRH_TCPI_BYTES_SENT_OFFSET, UInt64.self),
                                               bytesAcked: field(CSRH_TCPI_BYTES_ACKED_OFFSET, UInt64.self),
                                               bytesReceived: field(CSRH_TCPI_BYTES_RECEIVED_OFFSET, UInt64.self),
                                               unackedPackets: field(CSRH_TCPI_UNACKED_OFFSET, UInt32.self),
                                               backoff: field(CSRH_TCPI_BACKOFF_OFFSET, UInt8.self),
                                               sendMSS: field(CSRH_TCPI_SND_MSS_OFFSET, UInt32.self)))
                }
            }
        }
        return (info, out)
    }

    /// `MPTCP_SUBFLOW_ADDRS`: every subflow's (local, remote) pair
    /// (RFC 6897 TCP_MULTIPATH_SUBFLOWS). Works since Linux 5.16.
    public func subflowAddresses(max: Int = 64) throws(SubflowError) -> [(local: SocketEndpoint, remote: SocketEndpoint)] {
        let elem = MemoryLayout<csrh_mptcp_subflow_addrs>.size
        var buf = [UInt8](repeating: 0, count: 16 + max * elem)
        // struct mptcp_subflow_data header: size_subflow_data, num_subflows, size_kernel, size_user
        withUnsafeBytes(of: UInt32(16).littleEndian) { buf.replaceSubrange(0..<4, with: $0) }
        withUnsafeBytes(of: UInt32(elem).littleEndian) { buf.replaceSubrange(12..<16, with: $0) }
        var len = socklen_t(buf.count)
        let r = buf.withUnsafeMutableBytes { getsockopt(fileDescriptor, CSRH_SOL_MPTCP, CSRH_MPTCP_SUBFLOW_ADDRS, $0.baseAddress, &len) }
        if r < 0 {
            let e = Errno.current
            if e == EOPNOTSUPP || e == ENOPROTOOPT { throw Self.fallbackError(e, "MPTCP_SUBFLOW_ADDRS") }
            throw .system(SystemCallError("getsockopt(MPTCP_SUBFLOW_ADDRS)", errno: e))
        }
        var h = ByteReader(buf)
        _ = h.u32()
        let num = Int(h.u32()!), sizeKernel = Int(h.u32()!)
        let stride = min(sizeKernel, elem)
        var out: [(SocketEndpoint, SocketEndpoint)] = []
        for k in 0..<min(num, max) {
            let base = 16 + k * stride
            out.append((SocketEndpoint(sockaddrBytes: Array(buf[base..<(base + 128)])), SocketEndpoint(sockaddrBytes: Array(buf[(base + 128)..<(base + 256)]))))
        }
        return out
    }
}

