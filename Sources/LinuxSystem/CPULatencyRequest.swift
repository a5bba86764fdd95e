import Glibc

/// A PM QoS request for how fast idle CPUs must wake (`/dev/cpu_dma_latency`): while it is held,
/// cpuidle uses no idle state whose exit latency exceeds the request (0: idle CPUs poll instead
/// of halting). A daemon that answers requests within microseconds holds one so that the CPU it
/// wakes on is not deep asleep — at the price of idle CPUs spending power (on a virtual
/// machine, host CPU time) while it runs.
///
/// The kernel keeps the request for as long as the descriptor is open: it goes at
/// ``release()``, when the object is released, or when the process ends, however it ends — no
/// state is left behind.
public final class CPULatencyRequest {
    /// The device, and the aggregate request it reports when read (the smallest held; 2000000000
    /// when none).
    public static let device = "/dev/cpu_dma_latency"

    public let microseconds: Int32
    private var fd: Int32

    /// Holds a request of at most `microseconds` of wake-up latency.
    /// - Throws: `SystemCallError` (EACCES without root, ENOENT without `CONFIG_CPU_IDLE`/PM QoS,
    ///   EINVAL for a negative value).
    public init(microseconds: Int32) throws(SystemCallError) {
        self.microseconds = microseconds
        fd = open(Self.device, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw SystemCallError("open(\(Self.device))", errno: .current) }
        var value = microseconds
        guard write(fd, &value, 4) == 4 else {
            let e = Errno.current
            close(fd)
            throw SystemCallError("write(\(Self.device), \(microseconds))", errno: e)
        }
    }

    /// The request in force now (the smallest any process holds), in microseconds.
    public static func current() -> Int32? {
        let fd = open(device, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var value: Int32 = 0
        return read(fd, &value, 4) == 4 ? value : nil
    }

    /// Drops the request.
    public func release() {
        if fd >= 0 { close(fd); fd = -1 }
    }

    deinit { release() }
}
