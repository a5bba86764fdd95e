import Glibc

/// Kernel parameters (`/proc/sys`) of the calling thread's network namespace: the one place srte
/// reads and writes them.
///
/// Keys are paths below `/proc/sys` (`net/mptcp/pm_type`, `net/ipv6/conf/eth0/seg6_enabled`),
/// not the dotted `sysctl(8)` names, since interface names may contain dots.
///
/// ```swift
/// try NetworkNamespace.run(in: "lab-h1") { try Sysctl.write("net/mptcp/pm_type", "1") }
/// ```
package enum Sysctl {
    /// The value of `key`, without the trailing newline.
    /// - Throws: ``SystemCallError`` (ENOENT: no such parameter on this kernel).
    package static func read(_ key: String) throws(SystemCallError) -> String {
        try SysctlFile(key).read()
    }

    /// Sets `key` to `value`.
    /// - Throws: ``SystemCallError`` (ENOENT: no such parameter; EACCES/EPERM: not root;
    ///   EINVAL: a value the kernel refuses).
    package static func write(_ key: String, _ value: String) throws(SystemCallError) {
        let fd = try syscallValue("open(/proc/sys/\(key))") { open("/proc/sys/" + key, O_WRONLY | O_CLOEXEC) }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        let n = try syscallValue("write(/proc/sys/\(key) = \(value))") { bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } }
        guard n == bytes.count else { throw SystemCallError("write(/proc/sys/\(key) = \(value)): short write", errno: EIO) }
    }
}

/// One kernel parameter held open for reading: reads reach the network namespace it was opened
/// in, whichever namespace the calling thread is in later.
package final class SysctlFile {
    private let fd: Int32
    package let key: String

    /// Opens `key` (a path below `/proc/sys`).
    package init(_ key: String) throws(SystemCallError) {
        self.key = key
        fd = try syscallValue("open(/proc/sys/\(key))") { open("/proc/sys/" + key, O_RDONLY | O_CLOEXEC) }
    }

    deinit { close(fd) }

    /// The value now, without the trailing newline.
    package func read() throws(SystemCallError) -> String {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        var offset: off_t = 0
        while true {
            let n = try syscallValue("pread(/proc/sys/\(key))") { buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) } }
            if n == 0 { break }
            out += buf[0..<n]
            offset += off_t(n)
        }
        var text = String(decoding: out, as: UTF8.self)
        while let last = text.last, last == "\n" || last == " " || last == "\t" { text.removeLast() }
        return text
    }
}

/// One kernel parameter held open for writing: writes reach the network namespace it was opened
/// in, whichever namespace the writing thread is in (a signal-handling thread created before
/// the process entered a namespace, say).
public final class SysctlWriter: @unchecked Sendable {
    private let fd: Int32
    public let key: String

    /// Opens `key` (a path below `/proc/sys`) for writing.
    /// - Throws: ``SystemCallError`` (ENOENT: no such parameter; EACCES: not root).
    public init(_ key: String) throws(SystemCallError) {
        self.key = key
        fd = try syscallValue("open(/proc/sys/\(key))") { open("/proc/sys/" + key, O_WRONLY | O_CLOEXEC) }
    }

    deinit { close(fd) }

    /// Sets the parameter to `value`.
    /// - Throws: ``SystemCallError`` (EINVAL: a value the kernel refuses).
    public func write(_ value: String) throws(SystemCallError) {
        let bytes = Array(value.utf8)
        let n = try syscallValue("write(/proc/sys/\(key) = \(value))") { bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) } }
        guard n == bytes.count else { throw SystemCallError("write(/proc/sys/\(key) = \(value)): short write", errno: EIO) }
    }
}
