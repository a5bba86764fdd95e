import Foundation

/// Other processes, as `/proc` shows them: liveness, identity across pid reuse, namespace
/// membership, and stopping them.
package enum Processes {
    /// A process's state letter (field 3) and start time in clock ticks since boot (field 22)
    /// from `/proc/PID/stat`; `nil` when there is no such process.
    package static func status(_ pid: Int32) -> (state: Substring, startTime: UInt64?)? {
        guard pid > 0, let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat") else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        // The command name (field 2) is in parentheses and may hold spaces: split after the last ')'.
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state), so field 22 is fields[19].
        guard let state = fields.first else { return nil }
        return (state, fields.count > 19 ? UInt64(fields[19]) : nil)
    }

    /// Whether `pid` is a live process (not a zombie) and, when `startTime` is given, still the
    /// process that had that start time (not a recycled pid).
    package static func isRunning(_ pid: Int32, startTime: UInt64? = nil) -> Bool {
        guard let s = status(pid), s.state != "Z", s.state != "X" else { return false }
        return startTime == nil || s.startTime == startTime
    }

    /// The processes (other than this one) whose network namespace is the named one
    /// (`/run/netns/NAME`).
    package static func inNetworkNamespace(_ name: String) -> [Int32] {
        var st = stat()
        guard stat("\(NetworkNamespace.directory)/\(name)", &st) == 0 else { return [] }
        let want = "net:[\(st.st_ino)]"
        let me = getpid()
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        var found: [Int32] = []
        var buf = [CChar](repeating: 0, count: 64)
        for e in entries {
            guard let pid = Int32(e), pid != me else { continue }
            let n = readlink("/proc/\(pid)/ns/net", &buf, buf.count - 1)
            guard n > 0 else { continue }
            if String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) == want { found.append(pid) }
        }
        return found
    }

    /// The process holding each of the sockets `inodes` (the first found: a socket shared
    /// across a fork has several) and its command (`/proc/PID/comm`), from `/proc/*/fd`.
    /// Processes this one may not inspect are skipped.
    package static func owners(ofSocketInodes inodes: Set<UInt32>) -> [UInt32: (pid: Int32, command: String)] {
        guard !inodes.isEmpty else { return [:] }
        var found: [UInt32: (pid: Int32, command: String)] = [:]
        var buf = [CChar](repeating: 0, count: 64)
        for e in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(e), let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else { continue }
            for fd in fds {
                let n = readlink("/proc/\(pid)/fd/\(fd)", &buf, buf.count - 1)
                guard n > 9 else { continue }
                let link = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                guard link.hasPrefix("socket:["), let inode = UInt32(link.dropFirst(8).dropLast()),
                      inodes.contains(inode), found[inode] == nil else { continue }
                let comm = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?
                    .trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
                found[inode] = (pid, comm)
            }
            if found.count == inodes.count { break }
        }
        return found
    }

    /// Reaps `pid` if it is an exited child of this process (an unreaped child confuses
    /// whoever else waits for children here, such as Foundation's `Process`).
    package static func reapIfExited(_ pid: Int32) {
        var status: Int32 = 0
        _ = waitpid(pid, &status, WNOHANG)
    }

    /// Stops `pids`: SIGTERM, up to `grace`, then SIGKILL and up to one more second. Reaps
    /// those that are children of this process.
    /// - Returns: the pids still running.
    package static func terminate(_ pids: Set<Int32>, grace: Duration = .seconds(2)) -> [Int32] {
        var left = pids
        guard !left.isEmpty else { return [] }
        var status: Int32 = 0
        /// Gone: reaped here, or not our child and no longer running.
        func gone(_ p: Int32) -> Bool {
            let r = waitpid(p, &status, WNOHANG)
            if r == p { return true }
            return r < 0 && !isRunning(p)
        }
        let graceMs = Int(grace.pollMilliseconds)
        for (signal, wait) in [(SIGTERM, graceMs), (SIGKILL, 1000)] {
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
