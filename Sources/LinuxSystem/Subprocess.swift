import Foundation
internal import CSRH

/// The result of a finished command.
public struct CommandResult: Sendable, Hashable {
    package init(argv: [String], status: Int32, stdout: String, stderr: String) {
        self.argv = argv; self.status = status; self.stdout = stdout; self.stderr = stderr
    }
    /// The argument vector that ran.
    public var argv: [String]
    /// Exit status (128 + signal number when killed by a signal).
    public var status: Int32
    /// Everything written to stdout.
    public var stdout: String
    /// Everything written to stderr.
    public var stderr: String
}

/// Why a child process could not be run, or why `Subprocess.check` rejected its exit.
public struct SubprocessError: Error, Sendable, CustomStringConvertible {
    /// The argument vector.
    public var argv: [String]
    /// What went wrong, for a person.
    public var message: String
    public var description: String { message }
}

/// Runs iproute2 and tc as child processes.
///
/// The testbed drives `ip`, `tc` and (inside namespaces) arbitrary commands as subprocesses
/// rather than speaking rtnetlink itself: the commands are few per namespace (one `-batch`
/// each), their text is testable without root, and their error messages are what a network
/// engineer expects to read. The SRv6/MPTCP data path (steering, path manager) does not go
/// through here.
///
/// Why not swift-subprocess: its API is async-only and ties a child's lifetime to the
/// awaiting closure, while srte's callers are synchronous (argument-parser commands, the
/// testbed's interruptible `up`) and the delay bridges must outlive the `up` that starts them,
/// with a ready pipe as an extra inherited descriptor; and it would add swift-subprocess and
/// swift-system to every clean build (Docs/Architecture.md has the measurement).
package enum Subprocess {
    /// Directories searched, after `PATH`, for tools (iproute2 lives in /usr/sbin or /sbin).
    package static let fallbackDirectories = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]

    /// The absolute path of `tool`, searched in `PATH` then the usual sbin directories.
    package static func locate(_ tool: String) -> String? {
        if tool.contains("/") { return tool }
        let path = ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":").map(String.init) ?? []
        for dir in path + fallbackDirectories where FileManager.default.isExecutableFile(atPath: "\(dir)/\(tool)") {
            return "\(dir)/\(tool)"
        }
        return nil
    }

    /// Runs `argv` to completion, feeding `stdin`, and returns its status and output.
    ///
    /// Uses `posix_spawn` and a `poll` loop over the three pipes (Foundation's `Process` waits
    /// in run-loop steps, too coarse for the many short commands of `up`).
    /// - Throws: ``SubprocessError`` only when the program cannot be started.
    package static func run(_ argv: [String], stdin: String? = nil) throws(SubprocessError) -> CommandResult {
        guard let exe = locate(argv[0]) else {
            throw SubprocessError(argv: argv, message: "\(argv[0]) not found (install iproute2)")
        }
        var inPipe: [Int32] = [-1, -1], outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        func cloexecPipe(_ p: inout [Int32]) -> Bool {
            guard pipe(&p) == 0 else { return false }
            _ = fcntl(p[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(p[1], F_SETFD, FD_CLOEXEC)
            return true
        }
        guard cloexecPipe(&inPipe), cloexecPipe(&outPipe), cloexecPipe(&errPipe) else {
            let e = Errno.current
            for fd in inPipe + outPipe + errPipe where fd >= 0 { close(fd) }
            throw SubprocessError(argv: argv, message: "pipe: \(e.message)")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // dup2 clears close-on-exec on the copies; every other pipe end closes at exec.
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        var cargs: [UnsafeMutablePointer<CChar>?] = ([exe] + argv.dropFirst()).map { strdup($0) } + [nil]
        defer { for p in cargs { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, exe, &actions, nil, &cargs, environ)
        close(inPipe[0]); close(outPipe[1]); close(errPipe[1])
        guard rc == 0 else {
            close(inPipe[1]); close(outPipe[0]); close(errPipe[0])
            throw SubprocessError(argv: argv, message: "cannot start \(exe): \(Errno(rc).message)")
        }
        let input = Array((stdin ?? "").utf8)
        var written = 0
        var inFD = inPipe[1]
        if input.isEmpty { close(inFD); inFD = -1 } else { _ = fcntl(inFD, F_SETFL, O_NONBLOCK) }
        var out: [UInt8] = [], err: [UInt8] = []
        var outFD = outPipe[0], errFD = errPipe[0]
        var buf = [UInt8](repeating: 0, count: 65536)
        while outFD >= 0 || errFD >= 0 || inFD >= 0 {
            var fds = [pollfd(fd: outFD, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: errFD, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: inFD, events: Int16(POLLOUT), revents: 0)]
            let n = poll(&fds, 3, -1)
            if n < 0 { if Errno.current == EINTR { continue }; break }
            for k in 0..<2 where fds[k].revents != 0 {
                let r = read(fds[k].fd, &buf, buf.count)
                if r > 0 {
                    if k == 0 { out += buf[0..<r] } else { err += buf[0..<r] }
                } else if r == 0 || (Errno.current != EINTR && Errno.current != EAGAIN) {
                    close(fds[k].fd)
                    if k == 0 { outFD = -1 } else { errFD = -1 }
                }
            }
            if inFD >= 0 && fds[2].revents != 0 {
                let r = input.withUnsafeBytes { write(inFD, $0.baseAddress! + written, input.count - written) }
                if r > 0 { written += r }
                if written == input.count || (r < 0 && Errno.current != EINTR && Errno.current != EAGAIN) { close(inFD); inFD = -1 }
            }
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && Errno.current == EINTR {}
        // WIFEXITED / WEXITSTATUS / WTERMSIG, spelled out (macros do not import).
        let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return CommandResult(argv: argv, status: code, stdout: String(decoding: out, as: UTF8.self),
                             stderr: String(decoding: err, as: UTF8.self))
    }

    /// Runs `argv` and throws ``SubprocessError`` with its stderr unless it exits 0.
    @discardableResult
    package static func check(_ argv: [String], stdin: String? = nil, what: String? = nil) throws(SubprocessError) -> String {
        let r = try run(argv, stdin: stdin)
        guard r.status == 0 else {
            let detail = r.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            throw SubprocessError(argv: argv, message: "\(what ?? argv.joined(separator: " ")) failed (exit \(r.status))\(detail.isEmpty ? "" : ": \(detail)")")
        }
        return r.stdout
    }

    /// Starts `argv` as a detached process and returns at once: a new session (terminal
    /// signals for the caller's process group do not reach it), an empty signal mask and
    /// default dispositions, stdin, stdout and stderr on /dev/null, no inherited descriptors
    /// but the write end of a pipe as descriptor `readyFD`, whose read end is returned (the
    /// child reports readiness there; the caller closes it).
    ///
    /// This is the one process start that does not wait, so it is not built on a run-to-
    /// completion API: the child must outlive the caller.
    /// - Returns: the child's pid and the read end of its ready pipe.
    package static func spawnDetached(_ argv: [String], readyFD: Int32) throws(SubprocessError) -> (pid: Int32, ready: Int32) {
        precondition(readyFD == 3, "the ready pipe is descriptor 3 of the child")
        var p: [Int32] = [-1, -1]
        guard pipe(&p) == 0 else { throw SubprocessError(argv: argv, message: "pipe: \(Errno.current.message)") }
        _ = fcntl(p[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(p[1], F_SETFD, FD_CLOEXEC)
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for c in cargs { free(c) } }
        var pid: Int32 = 0
        let rc = csrh_spawn_detached(argv[0], &cargs, p[1], &pid)
        close(p[1])
        guard rc == 0 else {
            close(p[0])
            throw SubprocessError(argv: argv, message: "cannot start \(argv[0]): \(Errno(rc).message)")
        }
        return (pid, p[0])
    }

    /// The path of this process's executable (`/proc/self/exe`).
    package static var currentExecutable: String? {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
