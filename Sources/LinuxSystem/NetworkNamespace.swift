import Glibc
internal import CSRH

/// Runs code inside a named network namespace (`/run/netns/NAME`, as `ip netns add` creates).
///
/// A socket keeps the namespace it was created in, so a socket opened inside
/// ``run(in:_:)`` can be used from anywhere afterwards:
///
/// ```swift
/// let fd = try NetworkNamespace.run(in: "lab-h1") { try openSomeSocket() }
/// ```
public enum NetworkNamespace {
    /// The directory `ip netns` keeps namespace handles in.
    public static let directory = "/run/netns"

    /// Calls `body` on the current thread switched into namespace `name`, then
    /// switches back. `body` must not suspend (it is synchronous) so no other
    /// work runs on this thread meanwhile.
    ///
    /// - Throws: ``SystemCallError`` when the namespace cannot be opened or
    ///   entered (ENOENT: no such namespace; EPERM: not root), or what `body` throws.
    public static func run<T>(in name: String, _ body: () throws -> T) throws -> T {
        let target = try syscallValue("open(\(directory)/\(name))") { open("\(directory)/\(name)", O_RDONLY | O_CLOEXEC) }
        defer { close(target) }
        let original = try syscallValue("open(/proc/thread-self/ns/net)") { open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC) }
        defer { close(original) }
        try syscallValue("setns(\(name))") { csrh_setns_net(target) }
        defer {
            // Returning to our own namespace cannot fail unless the process lost
            // CAP_SYS_ADMIN meanwhile; continuing in the wrong namespace would be worse.
            if csrh_setns_net(original) != 0 {
                fatalError("cannot return to the original network namespace: \(Errno.current.message)")
            }
        }
        return try body()
    }

    /// Moves the calling thread into namespace `name` for good (a process that runs there,
    /// such as a lab's delay bridge, calls this before it starts other threads).
    /// - Throws: ``SystemCallError`` (ENOENT: no such namespace; EPERM: not root).
    public static func enter(_ name: String) throws(SystemCallError) {
        let fd = try syscallValue("open(\(directory)/\(name))") { open("\(directory)/\(name)", O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        try syscallValue("setns(\(name))") { csrh_setns_net(fd) }
    }

    /// The cookie of the calling thread's network namespace (`SO_NETNS_COOKIE`): a number that
    /// names the namespace for as long as the system runs, as BPF's `bpf_get_netns_cookie` sees it.
    public static func currentCookie() throws(SystemCallError) -> UInt64 {
        let probe = try syscallValue("socket for SO_NETNS_COOKIE") { socket(AF_INET6, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        defer { close(probe) }
        return try cookie(ofSocket: probe)
    }

    /// The cookie of the network namespace socket `fd` belongs to (`SO_NETNS_COOKIE`).
    public static func cookie(ofSocket fd: Int32) throws(SystemCallError) -> UInt64 {
        var cookie: UInt64 = 0
        var len = socklen_t(MemoryLayout<UInt64>.size)
        try syscallValue("getsockopt(SO_NETNS_COOKIE)") { getsockopt(fd, SOL_SOCKET, 71 /* SO_NETNS_COOKIE */, &cookie, &len) }
        return cookie
    }

    /// Whether a namespace handle named `name` exists.
    public static func exists(_ name: String) -> Bool {
        access("\(directory)/\(name)", F_OK) == 0
    }
}
