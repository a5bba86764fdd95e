#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation
internal import CSRH

extension DelayBridge {
    /// Runs a bridge as a process of its own (`srte testbed delay-bridge`): enters network
    /// namespace `namespace` for good (when given), raises its scheduling priority (nice −10:
    /// frames should leave on time while the lab's senders keep the CPUs busy), opens both
    /// ports, writes `ready` and a newline to stdout and then points stdout at /dev/null (the
    /// reader, `up`, goes away), and forwards until a port disappears.
    /// - Throws: `SystemCallError` when the namespace or a port cannot be opened.
    public func serve(namespace: String?) throws(SystemCallError) -> Stop {
        if let namespace {
            let fd = try syscallValue("open(\(NetworkNamespace.directory)/\(namespace))") {
                open("\(NetworkNamespace.directory)/\(namespace)", O_RDONLY | O_CLOEXEC)
            }
            defer { close(fd) }
            try syscallValue("setns(\(namespace))") { csrh_setns_net(fd) }
        }
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, -10)
        // `up` may be gone (killed) before it reads `ready`: a write to the orphaned pipe must
        // fail with EPIPE, not kill the bridge.
        signal(SIGPIPE, SIG_IGN)
        return try run(ready: {
            let line = Array("ready\n".utf8)
            _ = line.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
            let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
            if null >= 0 { dup2(null, 1); close(null) }
        })
    }
}

/// Starting, waiting for and stopping bridge processes.
enum DelayBridgeProcess {
    /// Spawns `argv` detached (new session, default signals, stdin/stderr on /dev/null) with
    /// stdout on a pipe; returns the pid and the pipe's read end.
    static func spawn(_ argv: [String]) throws(TestbedError) -> (pid: Int32, stdout: Int32) {
        var p: [Int32] = [-1, -1]
        guard pipe(&p) == 0 else { throw TestbedError(.system, "pipe: \(String(cString: strerror(errno)))") }
        _ = fcntl(p[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(p[1], F_SETFD, FD_CLOEXEC)
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for c in cargs { free(c) } }
        var pid: Int32 = 0
        let rc = csrh_spawn_detached(argv[0], &cargs, p[1], &pid)
        close(p[1])
        guard rc == 0 else {
            close(p[0])
            throw TestbedError(.system, "cannot start \(argv[0]): \(String(cString: strerror(rc)))")
        }
        return (pid, p[0])
    }

    /// The first line a bridge writes (`ready`, or its error), or what went wrong waiting.
    static func awaitReady(_ fd: Int32, deadline: UInt64, interrupted: () -> Bool = { false }) -> String {
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 512)
        while !bytes.contains(UInt8(ascii: "\n")) {
            let now = monotonicNanoseconds()
            guard now < deadline else { return "timed out" }
            if interrupted() { return "interrupted" }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let n = poll(&pfd, 1, min(Int32((deadline - now) / 1_000_000) + 1, 100))
            if n < 0 { if errno == EINTR { continue }; return "poll: \(String(cString: strerror(errno)))" }
            if n == 0 { continue }
            let r = read(fd, &buf, buf.count)
            if r < 0 { if errno == EINTR { continue }; return "read: \(String(cString: strerror(errno)))" }
            if r == 0 { break }
            bytes += buf[0..<r]
        }
        let text = String(decoding: bytes, as: UTF8.self)
        return String(text.split(separator: "\n", omittingEmptySubsequences: true).first ?? "exited").trimmingCharacters(in: .whitespaces)
    }

    /// Whether `pid` is a live process (not a zombie), and the one recorded when
    /// `startTime` is given.
    static func isRunning(_ pid: Int32, startTime: UInt64? = nil) -> Bool {
        guard let s = TestbedState.processStat(pid), s.state != "Z", s.state != "X" else { return false }
        return startTime == nil || s.startTime == startTime
    }

    /// The processes whose network namespace is `namespace` (`/run/netns/NAME`).
    static func processes(in namespace: String) -> [Int32] {
        var st = stat()
        guard stat("\(NetworkNamespace.directory)/\(namespace)", &st) == 0 else { return [] }
        let want = "net:[\(st.st_ino)]"
        let me = getpid()
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        var found: [Int32] = []
        var buf = [CChar](repeating: 0, count: 64)
        for e in entries {
            guard let pid = Int32(e), pid != me else { continue }
            let n = readlink("/proc/\(pid)/ns/net", &buf, buf.count - 1)
            guard n > 0 else { continue }
            let link = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if link == want { found.append(pid) }
        }
        return found
    }

    /// Stops the recorded bridges (only those still the same process) and every process
    /// inside the given link namespaces (a bridge started by an `up` that was killed before
    /// it could record it): SIGTERM, up to 2 s, then SIGKILL. Reaps the ones that are this
    /// process's children, also those that had already exited: an unreaped child confuses
    /// whoever else waits for children here (Foundation's `Process`, Swift Testing's exit
    /// tests). Returns the pids still running.
    static func stop(_ bridges: [TestbedState.Bridge], namespaces: [String]) -> [Int32] {
        var status: Int32 = 0
        // Recorded bridges that exited on their own (zombies with the recorded start time).
        for b in bridges where !isRunning(b.pid) && TestbedState.startTime(of: b.pid) == b.startTime && b.startTime != nil {
            _ = waitpid(b.pid, &status, WNOHANG)
        }
        // Only a pid with the recorded start time is the bridge (a recycled pid is not); one
        // whose start time could not be recorded is found by the namespace scan below.
        var left = Set(bridges.filter { $0.startTime != nil && isRunning($0.pid, startTime: $0.startTime) }.map(\.pid))
        for ns in namespaces { left.formUnion(processes(in: ns)) }
        guard !left.isEmpty else { return [] }
        /// Gone: reaped here, or not our child and no longer running.
        func gone(_ p: Int32) -> Bool {
            let r = waitpid(p, &status, WNOHANG)
            if r == p { return true }
            return r < 0 && !isRunning(p)
        }
        for (signal, wait) in [(SIGTERM, 2000), (SIGKILL, 1000)] {
            for p in left { kill(p, signal) }
            var waited = 0
            left = left.filter { !gone($0) }
            while !left.isEmpty && waited < wait {
                usleep(5000)
                waited += 5
                left = left.filter { !gone($0) }
            }
            if left.isEmpty { break }
        }
        return left.sorted()
    }
}

extension Testbed {
    /// The `srte` executable that runs bridges: this process's executable if it is `srte`,
    /// else `srte` beside it (tests run from the build's products directory), else `srte` on
    /// `PATH`.
    static func bridgeExecutable() throws(TestbedError) -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        if n > 0 {
            let me = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let url = URL(fileURLWithPath: me)
            if url.lastPathComponent == "srte" { return me }
            let sibling = url.deletingLastPathComponent().appendingPathComponent("srte").path
            if access(sibling, X_OK) == 0 { return sibling }
        }
        if let found = Subprocess.locate("srte"), access(found, X_OK) == 0 { return found }
        throw TestbedError(.system, "delay bridges run as `srte testbed delay-bridge`, and no srte executable was found (beside this program or on PATH); use --delay off")
    }
}
