import Glibc
import Foundation
internal import CSRH
import SRv6Paths
import LinuxSystem
import SubflowSteering

/// Starting, waiting for and stopping bridge processes.
enum DelayBridgeProcess {
    /// The descriptor on which a bridge process reports readiness (its `--ready-fd`).
    static let readyFD: Int32 = 3

    /// Spawns `argv` detached with descriptor ``readyFD`` on a pipe; returns the pid and the
    /// pipe's read end.
    static func spawn(_ argv: [String]) throws(TestbedError) -> (pid: Int32, ready: Int32) {
        do { return try Subprocess.spawnDetached(argv, readyFD: readyFD) } catch {
            throw TestbedError(.system, error.message)
        }
    }

    /// The first line a bridge writes to its ready descriptor (`ready`, or `error: …`), or what
    /// went wrong waiting.
    static func awaitReady(_ fd: Int32, deadline: UInt64, interrupted: () -> Bool = { false }) -> String {
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 512)
        while !bytes.contains(UInt8(ascii: "\n")) {
            let now = monotonicNanoseconds()
            guard now < deadline else { return "timed out" }
            if interrupted() { return "interrupted" }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let n = poll(&pfd, 1, min(Int32((deadline - now) / 1_000_000) + 1, 100))
            if n < 0 { if Errno.current == EINTR { continue }; return "poll: \(Errno.current.message)" }
            if n == 0 { continue }
            let r = read(fd, &buf, buf.count)
            if r < 0 { if Errno.current == EINTR { continue }; return "read: \(Errno.current.message)" }
            if r == 0 { break }
            bytes += buf[0..<r]
        }
        let text = String(decoding: bytes, as: UTF8.self)
        return String(text.split(separator: "\n", omittingEmptySubsequences: true).first ?? "exited").trimmingCharacters(in: .whitespaces)
    }

    /// Whether `pid` is a live process (not a zombie), and the one recorded when
    /// `startTime` is given.
    static func isRunning(_ pid: Int32, startTime: UInt64? = nil) -> Bool {
        Processes.isRunning(pid, startTime: startTime)
    }

    /// The processes whose network namespace is `namespace` (`/run/netns/NAME`).
    static func processes(in namespace: String) -> [Int32] {
        Processes.inNetworkNamespace(namespace)
    }

    /// Stops the recorded bridges (only those still the same process) and every process
    /// inside the given link namespaces (a bridge started by an `up` that was killed before
    /// it could record it): SIGTERM, up to 2 s, then SIGKILL. Reaps the ones that are this
    /// process's children, also those that had already exited. Returns the pids still running.
    static func stop(_ bridges: [TestbedState.Bridge], namespaces: [String]) -> [Int32] {
        // Recorded bridges that exited on their own (zombies with the recorded start time).
        for b in bridges where !isRunning(b.pid) && TestbedState.startTime(of: b.pid) == b.startTime && b.startTime != nil {
            Processes.reapIfExited(b.pid)
        }
        // Only a pid with the recorded start time is the bridge (a recycled pid is not); one
        // whose start time could not be recorded is found by the namespace scan below.
        var left = Set(bridges.filter { $0.startTime != nil && isRunning($0.pid, startTime: $0.startTime) }.map(\.pid))
        for ns in namespaces { left.formUnion(processes(in: ns)) }
        return Processes.terminate(left)
    }
}

extension Testbed {
    /// The delay bridge's executable name.
    static let bridgeExecutableName = "srte-delay-bridge"

    /// The `srte-delay-bridge` executable: beside this process's executable (an installed or
    /// built `srte`; the test runner in the build's products directory), else on `PATH`.
    static func bridgeExecutable() throws(TestbedError) -> String {
        if let me = Subprocess.currentExecutable {
            let sibling = URL(fileURLWithPath: me).deletingLastPathComponent().appendingPathComponent(bridgeExecutableName).path
            if access(sibling, X_OK) == 0 { return sibling }
        }
        if let found = Subprocess.locate(bridgeExecutableName), access(found, X_OK) == 0 { return found }
        throw TestbedError(.system, "delay bridges run as \(bridgeExecutableName), which was found neither beside this program nor on PATH (swift build --product \(bridgeExecutableName)); or use --delay off")
    }
}
