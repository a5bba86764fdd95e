import Glibc

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

    /// A non-blocking listening socket at `path`, readable and writable by its owner only. A
    /// leftover socket file nobody listens on is replaced; a live one is an error (EADDRINUSE).
    package static func listen(at path: String) throws(SystemCallError) -> Int32 {
        if let probe = try? connect(to: path) {
            close(probe)
            throw SystemCallError("another process listens on \(path)", errno: EADDRINUSE)
        }
        unlink(path)
        let fd = try syscallValue("socket(AF_UNIX)") { socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        do throws(SystemCallError) {
            let r = try withAddress(path) { bind(fd, $0, $1) }
            if r != 0 { throw SystemCallError("bind(\(path))", errno: .current) }
            try syscallValue("chmod(\(path))") { chmod(path, 0o600) }
            try syscallValue("listen(\(path))") { Glibc.listen(fd, 16) }
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

    /// One line (without its newline) of at most 4 KiB, waiting at most `timeout`.
    package static func readLine(_ fd: Int32, timeout: Duration) throws(SystemCallError) -> String {
        var out: [UInt8] = []
        var byte: UInt8 = 0
        let ms = timeout.pollMilliseconds
        while out.count < 4096 {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = try syscallValue("poll") { poll(&p, 1, ms) }
            if ready == 0 { throw SystemCallError("read: no request within \(timeout)", errno: ETIMEDOUT) }
            let n = try syscallValue("read") { Glibc.read(fd, &byte, 1) }
            if n == 0 || byte == UInt8(ascii: "\n") { break }
            out.append(byte)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A client waiting on the non-blocking listener `fd`, or `nil` when none waits. The
    /// client's socket is blocking and closes on exec.
    package static func acceptWaiting(_ fd: Int32) -> Int32? {
        let c = accept(fd, nil, nil)
        guard c >= 0 else { return nil }
        _ = fcntl(c, F_SETFD, FD_CLOEXEC)
        return c
    }
}
