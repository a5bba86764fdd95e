internal import CSRH
import Foundation
import Glibc

/// Who on the host is subscribed to a netlink multicast group.
///
/// The kernel answers "does anyone listen to this group?" host-wide, across network
/// namespaces (`netlink_has_listeners`), and some of its behaviour depends on the answer: a
/// server on the userspace MPTCP path manager accepts MP_JOINs only while some socket on the
/// host subscribes to `mptcp_pm_events`. This finds those sockets by walking `/proc/*/fd` and
/// asking each netlink socket for its memberships (`NETLINK_LIST_MEMBERSHIPS`); the descriptors
/// of other processes are borrowed with `pidfd_getfd`, which needs root (or ptrace rights).
package enum NetlinkListeners {
    /// One subscribed socket.
    package struct Holder: Hashable, Sendable, CustomStringConvertible {
        /// The process holding it.
        package var pid: Int32
        /// Its command name (`/proc/PID/comm`).
        package var command: String
        /// The descriptor in that process.
        package var fd: Int32
        package var description: String { "\(command) (pid \(pid), fd \(fd))" }
    }

    /// The sockets of protocol `proto` subscribed to `group` (a group id as the kernel numbers
    /// them, from 1), in every process this caller may inspect.
    package static func holders(of group: UInt32, protocol proto: NetlinkProtocol) -> [Holder] {
        let own = getpid()
        var out: [Holder] = []
        let words = 64
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
        for pid in pids {
            let dir = "/proc/\(pid)/fd"
            guard let fds = try? FileManager.default.contentsOfDirectory(atPath: dir) else { continue }
            var command: String?
            for name in fds {
                guard let fd = Int32(name),
                      let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(dir)/\(name)"),
                      link.hasPrefix("socket:") else { continue }
                var p: Int32 = -1
                var groups = [UInt32](repeating: 0, count: words)
                let r = csrh_netlink_memberships(pid == own ? 0 : pid, fd, &p, &groups, Int32(words))
                guard r == 0, p == proto.rawValue, group >= 1 else { continue }
                let bit = Int(group - 1)
                guard bit / 32 < words, groups[bit / 32] & (1 << UInt32(bit % 32)) != 0 else { continue }
                if command == nil {
                    command = ((try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? "?")
                        .trimmingCharacters(in: .whitespacesAndNewlines)
                }
                out.append(Holder(pid: pid, command: command ?? "?", fd: fd))
            }
        }
        return out
    }
}
