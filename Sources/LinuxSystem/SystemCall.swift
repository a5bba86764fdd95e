import Glibc

/// An errno value: why the kernel refused a call. Every srte error that comes from the kernel
/// carries one (``SystemCallError``, ``NetlinkError``, and the error types above them).
///
/// The C constants compare directly: `error.errno == EOPNOTSUPP`, `case EINVAL:` in a switch.
/// `Errno.current` (package-internal) is the one place srte reads the thread's `errno`.
public struct Errno: RawRepresentable, Error, Hashable, Sendable, CustomStringConvertible {
    /// The positive C value, e.g. `EOPNOTSUPP` (95).
    public var rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }
    /// The errno `value` (positive; a negative errno as C shims return it is turned around).
    public init(_ value: Int32) { self.rawValue = value < 0 ? -value : value }

    /// The calling thread's `errno`, to be read right after the call that failed.
    package static var current: Errno { Errno(Glibc.errno) }

    /// `strerror(3)`: e.g. "Operation not supported".
    public var message: String { String(cString: strerror(rawValue)) }
    /// The message and the number: "Operation not supported (errno 95)".
    public var description: String { "\(message) (errno \(rawValue))" }

    /// `EINTR`
    public static var interrupted: Errno { Errno(EINTR) }
    /// `EAGAIN`
    public static var wouldBlock: Errno { Errno(EAGAIN) }
    /// `EOPNOTSUPP`
    public static var notSupported: Errno { Errno(EOPNOTSUPP) }
    /// `ENOENT`
    public static var noSuchFile: Errno { Errno(ENOENT) }
    /// `ESRCH`
    public static var noSuchProcess: Errno { Errno(ESRCH) }
    /// `EINVAL`
    public static var invalidArgument: Errno { Errno(EINVAL) }
    /// `EEXIST`
    public static var fileExists: Errno { Errno(EEXIST) }
    /// `EPERM`
    public static var notPermitted: Errno { Errno(EPERM) }
    /// `ETIMEDOUT`
    public static var timedOut: Errno { Errno(ETIMEDOUT) }

    public static func == (lhs: Errno, rhs: Int32) -> Bool { lhs.rawValue == rhs }
    public static func != (lhs: Errno, rhs: Int32) -> Bool { lhs.rawValue != rhs }
    public static func == (lhs: Int32, rhs: Errno) -> Bool { lhs == rhs.rawValue }
    public static func != (lhs: Int32, rhs: Errno) -> Bool { lhs != rhs.rawValue }
    /// `switch error.errno { case EINVAL: … }`
    public static func ~= (pattern: Int32, value: Errno) -> Bool { pattern == value.rawValue }
}

extension Optional where Wrapped == Errno {
    /// `error.netlink?.errno == EADDRINUSE`
    public static func == (lhs: Errno?, rhs: Int32) -> Bool { lhs?.rawValue == rhs }
    public static func != (lhs: Errno?, rhs: Int32) -> Bool { lhs?.rawValue != rhs }
}

/// A failed system call: which call, and the errno it returned.
public struct SystemCallError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The call, e.g. `"setsockopt(IPV6_RTHDR)"`.
    public var call: String
    /// Why it failed.
    public var errno: Errno
    /// More for a person to read, e.g. libbpf's verifier log; may be empty.
    public var detail: String

    public init(_ call: String, errno: Errno, detail: String = "") {
        self.call = call
        self.errno = errno
        self.detail = detail
    }

    /// For an errno value a C shim returned (negative or positive).
    public init(_ call: String, errno: Int32, detail: String = "") {
        self.init(call, errno: Errno(errno), detail: detail)
    }

    /// `strerror(errno)`.
    public var reason: String { errno.message }

    public var description: String {
        "\(call): \(errno)" + (detail.isEmpty ? "" : "\n" + detail)
    }
}

/// Runs a system call that returns -1 and sets errno on failure, retrying on EINTR.
/// Traps on EBADF and EFAULT, which mean a bug in srte, not a condition to handle.
@discardableResult
package func syscallValue<T: FixedWidthInteger>(_ name: @autoclosure () -> String, _ body: () -> T) throws(SystemCallError) -> T {
    while true {
        let r = body()
        if r != -1 { return r }
        let e = Errno.current
        if e == EINTR { continue }
        precondition(e != EBADF && e != EFAULT, "\(name()): \(e.message) — a bug in srte")
        throw SystemCallError(name(), errno: e)
    }
}

/// CLOCK_MONOTONIC in nanoseconds.
package func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

extension Duration {
    /// Whole milliseconds (truncated), for `poll(2)` and friends; at most `Int32.max`.
    package var pollMilliseconds: Int32 {
        let ms = components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
        return Int32(clamping: ms)
    }
}

