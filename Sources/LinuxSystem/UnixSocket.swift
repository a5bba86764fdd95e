import Glibc
internal import CSRH

/// Unix stream sockets by path: a daemon's control socket and its clients.
package enum UnixSocket {
    /// Calls `body` with `path` as a `sockaddr_un` and its length.
    /// - Throws: ``SystemCallError`` (ENAMETOOLONG) for a path longer than `sun_path` holds.
    static func withAddress<R>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) throws(SystemCallError) -> R {
        var a = sockaddr_un()
        a.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: a.sun_path)
        guard bytes.count < capacity else { throw SystemCallError("socket path \(path)", errno: ENAMETOOLONG) }
        withUnsafeMutableBytes(of: &a.sun_path) { $0.copyBytes(from: bytes + [0]) }
        return withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }

    /// The protocol of socket `fd` (`SO_PROTOCOL`), e.g. of a descriptor received with
    /// SCM_RIGHTS: 262 for an MPTCP socket. Throws ENOTSOCK for what is not a socket.
    package static func socketProtocol(_ fd: Int32) throws(SystemCallError) -> Int32 {
        var proto: Int32 = 0
        var len = socklen_t(4)
        try syscallValue("getsockopt(SO_PROTOCOL)") { getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) }
        return proto
    }

    /// A non-blocking listening socket at `path`, with file mode `mode` (by default readable and
    /// writable by its owner only; connecting needs write permission). A leftover socket file
    /// nobody listens on is replaced; a live one is an error (EADDRINUSE).
    package static func listen(at path: String, mode: mode_t = 0o600) throws(SystemCallError) -> Int32 {
        if let probe = try? connect(to: path) {
            close(probe)
            throw SystemCallError("another process listens on \(path)", errno: EADDRINUSE)
        }
        unlink(path)
        let fd = try syscallValue("socket(AF_UNIX)") { socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        do throws(SystemCallError) {
            let r = try withAddress(path) { bind(fd, $0, $1) }
            if r != 0 { throw SystemCallError("bind(\(path))", errno: .current) }
            try syscallValue("chmod(\(path))") { chmod(path, mode) }
            try syscallValue("listen(\(path))") { Glibc.listen(fd, 64) }
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    /// A connected socket to `path` (blocking).
    package static func connect(to path: String) throws(SystemCallError) -> Int32 {
        let fd = try syscallValue("socket(AF_UNIX)") { socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        let r = try withAddress(path) { Glibc.connect(fd, $0, $1) }
        if r != 0 {
            let e = Errno.current
            close(fd)
            throw SystemCallError("connect(\(path))", errno: e)
        }
        return fd
    }

    /// Writes all of `bytes`.
    package static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(SystemCallError) {
        var done = 0
        while done < bytes.count {
            let n = try syscallValue("write") { bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, bytes.count - done) } }
            done += n
        }
    }

    /// Reads until end of file or `limit` bytes, waiting at most `timeout` for each read.
    package static func readAll(_ fd: Int32, limit: Int = 1 << 20, timeout: Duration = .seconds(5)) throws(SystemCallError) -> [UInt8] {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        let ms = timeout.pollMilliseconds
        while out.count < limit {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = try syscallValue("poll") { poll(&p, 1, ms) }
            if ready == 0 { throw SystemCallError("read: no answer within \(timeout)", errno: ETIMEDOUT) }
            let n = try syscallValue("read") { buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) } }
            if n == 0 { break }
            out += buf[0..<n]
        }
        return out
    }

    /// A client waiting on the non-blocking listener `fd`, or `nil` when none waits. The
    /// client's socket is blocking and closes on exec.
    package static func acceptWaiting(_ fd: Int32) -> Int32? {
        let c = accept(fd, nil, nil)
        guard c >= 0 else { return nil }
        _ = fcntl(c, F_SETFD, FD_CLOEXEC)
        return c
    }

    /// A client's credentials as the kernel reports them.
    package struct Credentials: Hashable, Sendable {
        package var pid: Int32
        package var uid: UInt32
        package var gid: UInt32
        package init(pid: Int32, uid: UInt32, gid: UInt32) {
            self.pid = pid
            self.uid = uid
            self.gid = gid
        }
    }

    /// What one `recvmsg` brought.
    package struct Received {
        /// The bytes (empty: the peer closed its end).
        package var bytes: [UInt8]
        /// Descriptors passed with them (SCM_RIGHTS), close-on-exec; the caller owns and closes them.
        package var fileDescriptors: [Int32]
        /// SCM_CREDENTIALS, when the message carried them (always when ``passCredentials(_:)``
        /// is on for the receiving socket).
        package var credentials: Credentials?
        /// The control data was cut short (MSG_CTRUNC): every descriptor that came was closed.
        package var truncated: Bool
    }

    /// One non-blocking `recvmsg` of at most `max` bytes with its ancillary data; `nil` when
    /// nothing waits (EAGAIN). At most `maxDescriptors` descriptors are kept, the rest closed.
    /// - Throws: ``SystemCallError`` for any other failure.
    package static func receive(_ fd: Int32, max: Int, maxDescriptors: Int = 4) throws(SystemCallError) -> Received? {
        var buf = [UInt8](repeating: 0, count: max)
        var fds = [Int32](repeating: -1, count: 16)
        var nfds: Int32 = 0, hasCreds: Int32 = 0, truncated: Int32 = 0
        var pid: Int32 = 0, uid: UInt32 = 0, gid: UInt32 = 0
        let keep = Int32(min(maxDescriptors, 16))
        let n = buf.withUnsafeMutableBytes { b in
            csrh_recv_ancillary(fd, b.baseAddress, b.count, &fds, keep, &nfds, &hasCreds, &pid, &uid, &gid, &truncated)
        }
        if n == -Int(EAGAIN) { return nil }
        if n < 0 { throw SystemCallError("recvmsg", errno: Errno(Int32(-n))) }
        return Received(bytes: Array(buf[0..<n]), fileDescriptors: Array(fds[0..<Int(nfds)]),
                        credentials: hasCreds != 0 ? Credentials(pid: pid, uid: uid, gid: gid) : nil, truncated: truncated != 0)
    }

    /// One `sendmsg` of `bytes` with `descriptors` (SCM_RIGHTS, at most 8) and, when
    /// `credentials`, the caller's SCM_CREDENTIALS; returns the bytes sent.
    /// - Throws: ``SystemCallError`` (EPIPE when the peer is gone: no SIGPIPE).
    @discardableResult
    package static func send(_ fd: Int32, _ bytes: [UInt8], descriptors: [Int32] = [], credentials: Bool = false) throws(SystemCallError) -> Int {
        let n = bytes.withUnsafeBytes { b in
            descriptors.withUnsafeBufferPointer { f in
                csrh_send_ancillary(fd, b.baseAddress, b.count, f.baseAddress, Int32(f.count), credentials ? 1 : 0)
            }
        }
        if n < 0 { throw SystemCallError("sendmsg", errno: Errno(Int32(-n))) }
        return n
    }

    /// Asks the kernel to attach the sender's credentials to every message `fd` receives
    /// (SO_PASSCRED; a listener's setting is inherited by the sockets it accepts).
    package static func passCredentials(_ fd: Int32) throws(SystemCallError) {
        var on: Int32 = 1
        try syscallValue("setsockopt(SO_PASSCRED)") { setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, socklen_t(MemoryLayout<Int32>.size)) }
    }

    /// The peer's credentials when it connected (SO_PEERCRED).
    package static func peerCredentials(_ fd: Int32) throws(SystemCallError) -> Credentials {
        var pid: Int32 = 0, uid: UInt32 = 0, gid: UInt32 = 0
        let r = csrh_peer_credentials(fd, &pid, &uid, &gid)
        if r < 0 { throw SystemCallError("getsockopt(SO_PEERCRED)", errno: Errno(-r)) }
        return Credentials(pid: pid, uid: uid, gid: gid)
    }
}
