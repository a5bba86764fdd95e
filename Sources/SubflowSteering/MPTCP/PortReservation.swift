import Foundation
import Glibc
import LinuxSystem

/// srte's local port range reserved in a namespace's `net.ipv4.ip_local_reserved_ports` while
/// srte processes there use it, and removed again by the last one.
///
/// ``MultipathConnection/connect(to:from:)`` picks ports from
/// ``MultipathConnection/defaultPortRange`` and, as root, reserves it so the kernel's
/// ephemeral-port allocator hands those ports to no other socket (the agent also recognises
/// srte's own connections by them). A reservation is kernel state, so it must go again: each
/// process holding one takes a shared `flock` on `/run/srte/ports-<namespace cookie>.lock`, and
/// the file records whether srte added the range (a range the administrator reserved is never
/// removed). ``release()`` (also on SIGINT/SIGTERM/SIGHUP through `TerminationGuard` when the
/// caller registers it) removes the range when no other process holds the lock. A process
/// killed with SIGKILL drops its lock with it; `srte cleanup` then removes the range.
public final class PortReservation: @unchecked Sendable {
    /// The reserved range.
    public let range: ClosedRange<UInt16>
    private var lockFD: Int32
    private let namespaceCookie: UInt64

    /// The lock file of the calling thread's namespace.
    static func lockPath(cookie: UInt64) -> String { "/run/srte/ports-\(cookie).lock" }
    static let sysctl = "net/ipv4/ip_local_reserved_ports"

    /// Holds `range` in the calling thread's namespace, reserving it if it is not yet.
    /// - Throws: `SystemCallError` when the lock file or the sysctl cannot be written (not root).
    public init(_ range: ClosedRange<UInt16> = MultipathConnection.defaultPortRange) throws(SystemCallError) {
        self.range = range
        namespaceCookie = try NetworkNamespace.currentCookie()
        try? FileManager.default.createDirectory(atPath: "/run/srte", withIntermediateDirectories: true,
                                                 attributes: [.posixPermissions: 0o755])
        let path = Self.lockPath(cookie: namespaceCookie)
        lockFD = try syscallValue("open(\(path))") { open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644) }
        do {
            // Shared: other holders keep theirs (an exclusive lock would wait for them all). Two
            // processes adding the range at once write the same value and the same record.
            try syscallValue("flock(\(path), LOCK_SH)") { flock(lockFD, LOCK_SH) }
            let current = try Sysctl.read(Self.sysctl)
            if !MultipathConnection.reservedPorts(current, cover: range) {
                try Self.record(lockFD, "\(range.lowerBound)-\(range.upperBound)")
                try Sysctl.write(Self.sysctl, Self.adding(range, to: current))
            }
        } catch {
            close(lockFD)
            throw error
        }
    }

    deinit { release() }

    /// Stops holding the range; the last holder removes it if srte added it.
    public func release() {
        guard lockFD >= 0 else { return }
        let fd = lockFD
        lockFD = -1
        Self.removeIfUnused(fd: fd, path: Self.lockPath(cookie: namespaceCookie))
        close(fd)
    }

    /// Closes the lock without giving the range back, as a killed process does (tests).
    func abandonForTesting() {
        guard lockFD >= 0 else { return }
        close(lockFD)
        lockFD = -1
    }

    /// Removes a range srte added in the calling thread's namespace when no srte process holds
    /// it any more (after SIGKILL). Returns the range removed, if any.
    public static func cleanUp() -> String? {
        guard let cookie = try? NetworkNamespace.currentCookie() else { return nil }
        let fd = open(lockPath(cookie: cookie), O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return removeIfUnused(fd: fd, path: lockPath(cookie: cookie))
    }

    /// With the lock file's exclusive lock (nobody else holds it): takes the range srte recorded
    /// out of the sysctl and clears the record.
    /// The lock file goes too (the last one out), so namespaces long gone leave no files.
    @discardableResult
    static func removeIfUnused(fd: Int32, path: String? = nil) -> String? {
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return nil }
        defer {
            if let path { unlink(path) }
            flock(fd, LOCK_UN)
        }
        var buf = [UInt8](repeating: 0, count: 64)
        let n = pread(fd, &buf, buf.count, 0)
        let added = n > 0 ? String(decoding: buf[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : ""
        guard !added.isEmpty, let current = try? Sysctl.read(sysctl) else { return nil }
        let kept = current.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0 != added }
        // An empty list is written as a newline: a write of no bytes changes nothing.
        guard (try? Sysctl.write(sysctl, kept.isEmpty ? "\n" : kept.joined(separator: ","))) != nil else { return nil }
        _ = ftruncate(fd, 0)
        return added
    }

    static func adding(_ range: ClosedRange<UInt16>, to current: String) -> String {
        let trimmed = current.trimmingCharacters(in: .whitespacesAndNewlines)
        return (trimmed.isEmpty ? "" : trimmed + ",") + "\(range.lowerBound)-\(range.upperBound)"
    }

    static func record(_ fd: Int32, _ text: String) throws(SystemCallError) {
        _ = ftruncate(fd, 0)
        let bytes = Array((text + "\n").utf8)
        try syscallValue("write(port reservation record)") { pwrite(fd, bytes, bytes.count, 0) }
    }
}
