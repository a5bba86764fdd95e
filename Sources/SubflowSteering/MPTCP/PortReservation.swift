import Foundation
import LinuxSystem

/// srte's local port range reserved in a namespace's `net.ipv4.ip_local_reserved_ports` while
/// srte processes there use it, and removed again by the last one.
///
/// ``MultipathConnection/connect(to:from:)`` picks ports from
/// ``MultipathConnection/defaultPortRange`` and, as root, reserves it so the kernel's
/// ephemeral-port allocator hands those ports to no other socket (the agent also recognises
/// srte's own connections by them). A reservation is kernel state, so it must go again: each
/// process holding one takes a shared lock on `/run/srte/ports-<namespace cookie>.lock`, and
/// the file records whether srte added the range (a range the administrator reserved is never
/// removed). ``release()`` (also on SIGINT/SIGTERM/SIGHUP through `TerminationGuard` when the
/// caller registers it) removes the range when no other process holds the lock. A process
/// killed with SIGKILL drops its lock with it; `srte cleanup` then removes the range.
public final class PortReservation: @unchecked Sendable {
    /// The reserved range.
    public let range: ClosedRange<UInt16>
    private var lock: FileLock?

    /// The lock file of a namespace.
    static func lockPath(cookie: UInt64) -> String { "/run/srte/ports-\(cookie).lock" }
    static let sysctl = "net/ipv4/ip_local_reserved_ports"

    /// Holds `range` in the calling thread's namespace, reserving it if it is not yet.
    /// - Throws: `SystemCallError` when the lock file or the sysctl cannot be written (not root).
    public init(_ range: ClosedRange<UInt16> = MultipathConnection.defaultPortRange) throws(SystemCallError) {
        self.range = range
        let cookie = try NetworkNamespace.currentCookie()
        try? FileManager.default.createDirectory(atPath: "/run/srte", withIntermediateDirectories: true,
                                                 attributes: [.posixPermissions: 0o755])
        // Shared: other holders keep theirs. Two processes adding the range at once write the
        // same value and the same record.
        let lock = try FileLock(sharing: Self.lockPath(cookie: cookie))
        let current = try Sysctl.read(Self.sysctl)
        if !MultipathConnection.reservedPorts(current, cover: range) {
            try lock.write(record: "\(range.lowerBound)-\(range.upperBound)")
            try Sysctl.write(Self.sysctl, Self.adding(range, to: current))
        }
        self.lock = lock
    }

    deinit { release() }

    /// Stops holding the range; the last holder removes it if srte added it.
    public func release() {
        guard let lock else { return }
        self.lock = nil
        _ = lock.ifSoleHolder(Self.removeRecorded)
        lock.close()
    }

    /// Closes the lock without giving the range back, as a killed process does (tests).
    func abandonForTesting() {
        lock?.close()
        lock = nil
    }

    /// Removes a range srte added in the calling thread's namespace when no srte process holds
    /// it any more (after SIGKILL). Returns the range removed, if any.
    public static func cleanUp() -> String? {
        guard let cookie = try? NetworkNamespace.currentCookie(),
              let lock = FileLock(existing: lockPath(cookie: cookie)) else { return nil }
        return lock.ifSoleHolder(removeRecorded) ?? nil
    }

    /// Takes the range srte recorded out of the sysctl (the caller is the only holder).
    static func removeRecorded(_ lock: FileLock) -> String? {
        let added = lock.record
        guard !added.isEmpty, let current = try? Sysctl.read(sysctl) else { return nil }
        let kept = current.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0 != added }
        // An empty list is written as a newline: a write of no bytes changes nothing.
        guard (try? Sysctl.write(sysctl, kept.isEmpty ? "\n" : kept.joined(separator: ","))) != nil else { return nil }
        try? lock.write(record: "")
        return added
    }

    static func adding(_ range: ClosedRange<UInt16>, to current: String) -> String {
        let trimmed = current.trimmingCharacters(in: .whitespacesAndNewlines)
        return (trimmed.isEmpty ? "" : trimmed + ",") + "\(range.lowerBound)-\(range.upperBound)"
    }
}
