import Glibc

/// A failed system call: which call, and the errno it returned.
public struct SystemCallError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The call, e.g. `"setsockopt(IPV6_RTHDR)"`.
    public var call: String
    /// The errno value.
    public var errno: Int32
    /// More for a person to read, e.g. libbpf's verifier log; may be empty.
    public var detail: String

    public init(_ call: String, errno: Int32, detail: String = "") {
        self.call = call
        self.errno = errno
        self.detail = detail
    }

    /// `strerror(errno)`.
    public var reason: String { String(cString: strerror(errno)) }

    public var description: String {
        "\(call): \(reason) (errno \(errno))" + (detail.isEmpty ? "" : "\n" + detail)
    }
}

/// Runs a system call that returns -1 and sets errno on failure, retrying on EINTR.
/// Traps on EBADF and EFAULT, which mean a bug in srte, not a condition to handle.
@discardableResult
package func syscallValue<T: FixedWidthInteger>(_ name: @autoclosure () -> String, _ body: () -> T) throws(SystemCallError) -> T {
    while true {
        let r = body()
        if r != -1 { return r }
        let e = errno
        if e == EINTR { continue }
        precondition(e != EBADF && e != EFAULT, "\(name()): \(String(cString: strerror(e))) — a bug in srte")
        throw SystemCallError(name(), errno: e)
    }
}

/// CLOCK_MONOTONIC in nanoseconds.
package func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
