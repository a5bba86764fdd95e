import Glibc
// SOCK_STREAM and SOCK_CLOEXEC reach optimised (whole-module) builds through the C modules
// that include <sys/socket.h>, not through Glibc alone: import CSRH here as the other files do.
internal import CSRH
import LinuxSystem

/// Asks the running kernel whether it accepts an SRH.
///
/// `setsockopt(IPPROTO_IPV6, IPV6_RTHDR, bytes)` on a plain (unconnected) TCP
/// socket runs the option-length rules of `ipv6_set_opt_hdr` and then
/// `seg6_validate_srh`: it succeeds exactly for the SRHs Linux accepts and
/// fails with EINVAL otherwise. No packet is sent.
///
/// ```swift
/// let kernel = try KernelSRHCheck()
/// try kernel.accepts(try srh.encoded())   // true
/// ```
public final class KernelSRHCheck {
    private let fd: Int32

    /// Opens the TCP socket the checks run on.
    /// - Throws: `SystemCallError` when no IPv6 TCP socket can be opened.
    public init() throws(SystemCallError) {
        fd = try syscallValue("socket(AF_INET6, SOCK_STREAM)") { socket(AF_INET6, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
    }

    deinit { close(fd) }

    /// Whether the kernel accepts `bytes` as a routing header.
    ///
    /// An empty buffer is sent as a one-byte option (a zero length would mean
    /// "remove the header", which always succeeds).
    /// - Throws: `SystemCallError` for any errno other than EINVAL.
    public func accepts(_ bytes: [UInt8]) throws(SystemCallError) -> Bool {
        var buf = bytes.isEmpty ? [UInt8(0)] : bytes
        let r = buf.withUnsafeMutableBytes { p in
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_RTHDR, p.baseAddress, socklen_t(bytes.isEmpty ? 1 : p.count))
        }
        if r == 0 { return true }
        let e = Errno.current
        if e == EINVAL { return false }
        throw SystemCallError("setsockopt(IPV6_RTHDR, \(bytes.count) bytes)", errno: e)
    }
}
