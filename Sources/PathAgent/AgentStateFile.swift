import Foundation
import Glibc
import LinuxSystem

/// What a running agent changed outside the BPF state that dies with it: kept in a file under
/// `/run/srte` so that `srte cleanup` can undo it after the agent was killed (SIGKILL, a crash).
///
/// Today that is the path-manager sysctl `--set-pm` switches. The file is written before the
/// change is made and removed once it is undone.
public struct AgentStateFile: Codable, Sendable, Hashable {
    /// The agent's process and its start time (`/proc/PID/stat`), to tell it from a reused pid.
    public var pid: Int32
    public var startTime: UInt64?
    /// The network namespace (its cookie) the changes were made in.
    public var namespaceCookie: UInt64
    /// The agent's control socket.
    public var controlSocket: String?
    /// Kernel parameters (paths below `/proc/sys`) and the values to put back.
    public var sysctls: [String: String]

    /// `/run/srte/agent-<netns cookie>.state`.
    public static func path(namespaceCookie: UInt64) -> String { "/run/srte/agent-\(namespaceCookie).state" }

    /// Writes the file (atomically).
    /// - Throws: Foundation's error when `/run/srte` cannot be written.
    public func save() throws {
        let path = Self.path(namespaceCookie: namespaceCookie)
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try encoder.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// The file of namespace `cookie`, if there is one and it can be read.
    public static func load(namespaceCookie cookie: UInt64) -> AgentStateFile? {
        guard let data = FileManager.default.contents(atPath: path(namespaceCookie: cookie)) else { return nil }
        return try? JSONDecoder().decode(AgentStateFile.self, from: data)
    }

    /// Puts every recorded kernel parameter back and removes the file. `/proc/sys/net` is the
    /// calling *thread's* namespace: either call this in the namespace the file names, or pass
    /// the parameters opened there beforehand (`opened`, by key), as the agent does for a signal
    /// handler thread.
    /// - Returns: the parameters that could not be restored, with the reason.
    @discardableResult
    public func undo(through opened: [String: SysctlWriter] = [:]) -> [String] {
        var failed: [String] = []
        for (key, value) in sysctls.sorted(by: { $0.key < $1.key }) {
            do throws(SystemCallError) {
                if let w = opened[key] { try w.write(value) } else { try Sysctl.write(key, value) }
            } catch { failed.append("\(key) = \(value): \(error)") }
        }
        unlink(Self.path(namespaceCookie: namespaceCookie))
        return failed
    }

    /// Whether the agent that wrote the file still runs.
    public var ownerIsRunning: Bool { Processes.isRunning(pid, startTime: startTime) }

    /// Undoes what a dead agent of the calling thread's namespace left: its recorded kernel
    /// parameters; and removes every agent control socket nothing listens on any more.
    /// - Returns: what was done, one line each (empty when nothing was left).
    public static func cleanUpAfterDeadAgent() -> [String] {
        guard let cookie = try? NetworkNamespace.currentCookie() else { return [] }
        var done: [String] = []
        if let state = load(namespaceCookie: cookie), !state.ownerIsRunning {
            let failed = state.undo()
            done.append("restored \(state.sysctls.count - failed.count) kernel parameter(s) of agent pid \(state.pid)"
                        + (failed.isEmpty ? "" : "; could not restore: " + failed.joined(separator: "; ")))
        }
        // Control sockets nobody listens on (of this namespace or of one that is gone).
        let directory = (Agent.defaultControlPath(namespaceCookie: cookie) as NSString).deletingLastPathComponent
        for name in ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
        where name.hasPrefix("agent-") && name.hasSuffix(".sock") {
            let socket = directory + "/" + name
            do throws(SystemCallError) { close(try UnixSocket.connect(to: socket)) } catch {
                guard error.errno == ECONNREFUSED else { continue }
                unlink(socket)
                done.append("removed the stale control socket \(socket)")
            }
        }
        return done
    }
}
