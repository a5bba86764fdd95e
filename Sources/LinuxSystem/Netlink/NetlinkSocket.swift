import Glibc
internal import CMNL

/// Where netlink datagrams go and come from: a libmnl socket, or a
/// message-level fake in unit tests.
public protocol NetlinkTransport: AnyObject {
    /// The socket's netlink port id (`nl_pid`), which the kernel echoes in replies.
    var portID: UInt32 { get }
    /// Sends one datagram (one or more messages).
    func send(_ bytes: [UInt8]) throws(NetlinkError)
    /// Receives one datagram; nil when the receive timeout expired.
    func receive() throws(NetlinkError) -> [UInt8]?
}

/// Netlink protocols (`NETLINK_*` socket protocols).
public struct NetlinkProtocol: RawRepresentable, Hashable, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    /// `NETLINK_ROUTE` (rtnetlink)
    public static let route = NetlinkProtocol(rawValue: 0)
    /// `NETLINK_SOCK_DIAG`
    public static let sockDiag = NetlinkProtocol(rawValue: 4)
    /// `NETLINK_GENERIC`
    public static let generic = NetlinkProtocol(rawValue: 16)
}

/// A netlink socket through libmnl (`mnl_socket_*`), with extended acks and
/// capped acks enabled, and a receive timeout.
///
/// The socket belongs to the network namespace it was created in; create it
/// inside ``NetworkNamespace/run(in:_:)`` to talk to another namespace.
public final class MNLSocket: NetlinkTransport, @unchecked Sendable {
    private let nl: OpaquePointer
    public let portID: UInt32
    private var buffer: [UInt8]

    /// Opens and binds a socket.
    /// - Parameters:
    ///   - proto: the netlink protocol.
    ///   - receiveTimeout: how long ``receive()`` waits before returning nil.
    public init(_ proto: NetlinkProtocol, receiveTimeout: Duration = .seconds(5)) throws(NetlinkError) {
        guard let nl = mnl_socket_open(proto.rawValue) else {
            throw NetlinkError(operation: "mnl_socket_open", errno: .current)
        }
        if mnl_socket_bind(nl, 0, pid_t(MNL_SOCKET_AUTOPID)) < 0 {
            let e = Errno.current
            mnl_socket_close(nl)
            throw NetlinkError(operation: "mnl_socket_bind", errno: e)
        }
        self.nl = nl
        self.portID = mnl_socket_get_portid(nl)
        self.buffer = [UInt8](repeating: 0, count: 1 << 16)
        var one: Int32 = 1
        // Best effort: old kernels lack these and still work, with less detail.
        _ = mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = mnl_socket_setsockopt(nl, NETLINK_GET_STRICT_CHK, &one, socklen_t(MemoryLayout<Int32>.size))
        var rcvbuf: Int32 = 1 << 20
        _ = setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUF, &rcvbuf, socklen_t(MemoryLayout<Int32>.size))
        setReceiveTimeout(receiveTimeout)
    }

    deinit { mnl_socket_close(nl) }

    /// The file descriptor (for poll).
    public var fileDescriptor: Int32 { mnl_socket_get_fd(nl) }

    /// Sets the socket's receive buffer (`SO_RCVBUF`; the kernel doubles it and has a floor): a
    /// subscriber that falls behind by more loses messages and reads ENOBUFS once.
    package func setReceiveBuffer(bytes: Int32) {
        var b = bytes
        _ = setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUF, &b, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Changes how long ``receive()`` blocks.
    public func setReceiveTimeout(_ d: Duration) {
        let (s, atto) = d.components
        var tv = timeval(tv_sec: Int(s), tv_usec: Int(atto / 1_000_000_000_000))
        if tv.tv_sec == 0 && tv.tv_usec == 0 { tv.tv_usec = 1 }
        _ = setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Joins a multicast group (`NETLINK_ADD_MEMBERSHIP`).
    public func join(group: UInt32) throws(NetlinkError) {
        var g = group
        if mnl_socket_setsockopt(nl, NETLINK_ADD_MEMBERSHIP, &g, socklen_t(MemoryLayout<UInt32>.size)) < 0 {
            throw NetlinkError(operation: "NETLINK_ADD_MEMBERSHIP \(group)", errno: .current)
        }
    }

    /// Leaves a multicast group (no error when the socket was not a member).
    public func leave(group: UInt32) {
        var g = group
        _ = mnl_socket_setsockopt(nl, NETLINK_DROP_MEMBERSHIP, &g, socklen_t(MemoryLayout<UInt32>.size))
    }

    public func send(_ bytes: [UInt8]) throws(NetlinkError) {
        while true {
            let n = bytes.withUnsafeBytes { mnl_socket_sendto(nl, $0.baseAddress, $0.count) }
            if n >= 0 { return }
            let e = Errno.current
            if e == EINTR { continue }
            throw NetlinkError(operation: "netlink sendto", errno: e)
        }
    }

    /// The next datagram already queued, without waiting (`MSG_DONTWAIT`); nil when none is.
    /// (A receive timeout cannot stand in for this: the kernel rounds it up to a scheduler tick.)
    public func receiveNow() throws(NetlinkError) -> [UInt8]? {
        let fd = mnl_socket_get_fd(nl)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n >= 0 { return Array(buffer[0..<n]) }
            let e = Errno.current
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return nil }
            throw NetlinkError(operation: "netlink recv", errno: e)
        }
    }

    public func receive() throws(NetlinkError) -> [UInt8]? {
        while true {
            let n = buffer.withUnsafeMutableBytes { mnl_socket_recvfrom(nl, $0.baseAddress, $0.count) }
            if n >= 0 { return Array(buffer[0..<n]) }
            let e = Errno.current
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return nil }
            throw NetlinkError(operation: "netlink recvfrom", errno: e)
        }
    }
}
