import Glibc
internal import CSRH
import LinuxSystem

/// Per-subflow socket options on upstream Linux (MPTCP_SUB_SETSOCKOPT), through
/// a cgroup-attached BPF sock_ops program that calls `bpf_setsockopt` on the one
/// subflow whose 4-tuple srte names (csrh bpf/subflow_sockopt.bpf.c).
///
/// Reachable options: `SO_MARK`, `IPV6_TCLASS`, `TCP_CONGESTION`. Options reach
/// a subflow when it connects (if set before ``MultipathConnection/openSubflows(_:timeout:confirm:)``)
/// or, for live subflows whose local port is in `ports` and that opened while
/// the program was attached, at their next RTT sample (next ACK).
///
/// ```swift
/// let opts = try SubflowSocketOptions()          // attach (root)
/// connection.socketOptions = opts
/// try connection.setSubflowOption(id: 2, level: SOL_SOCKET, name: SO_MARK, value: int32Bytes(42))
/// ```
///
/// The program stays attached until this object is released or the process exits (bpf_link).
public final class SubflowSocketOptions: @unchecked Sendable {
    let handle: OpaquePointer
    /// The local port range whose subflows get RTT callbacks.
    public let ports: ClosedRange<UInt16>

    /// Loads and attaches the program.
    /// - Parameters:
    ///   - cgroup: a cgroup v2 directory containing the processes whose subflows are
    ///     to be reached (default: the cgroup v2 root).
    ///   - ports: srte's local port range (``MultipathConnection/defaultPortRange``).
    /// - Throws: `.notSupported` when the kernel refuses the program (no BPF, no
    ///   cgroup v2, not root), with the errno.
    public init(cgroup: String = SubflowSocketOptions.defaultCgroup, ports: ClosedRange<UInt16> = MultipathConnection.defaultPortRange) throws(SubflowError) {
        var err: Int32 = 0
        guard let object = Base64.decode(subflowSockoptObject) else {
            throw SubflowError(.notSupported, "the embedded sock_ops BPF object is corrupt")
        }
        let attached = object.withUnsafeBytes { o in
            csrh_sockopt_attach(o.baseAddress, o.count, cgroup, UInt32(ports.lowerBound), UInt32(ports.upperBound), &err)
        }
        guard let h = attached else {
            throw SubflowError(.notSupported, "per-subflow socket options are not supported here: loading/attaching the sock_ops program to \(cgroup) failed: \(Errno(err).message) (needs CAP_BPF/CAP_NET_ADMIN and cgroup v2)", errno: err)
        }
        handle = h
        self.ports = ports
    }

    deinit { csrh_sockopt_detach(handle) }

    /// The cgroup v2 mount point (root cgroup).
    public static var defaultCgroup: String {
        access("/sys/fs/cgroup/unified/cgroup.procs", F_OK) == 0 ? "/sys/fs/cgroup/unified" : "/sys/fs/cgroup"
    }

    /// One option to set.
    public enum Option: Hashable, Sendable {
        /// `SO_MARK`
        case mark(UInt32)
        /// `IPV6_TCLASS`
        case trafficClass(Int32)
        /// `TCP_CONGESTION` (e.g. "reno", "cubic")
        case congestionControl(String)
    }

    /// Sets `option` for the subflow with this 4-tuple (existing or future).
    ///
    /// The program runs for every namespace of its cgroup, so a 4-tuple alone can name two
    /// sockets (two labs with the same addresses). `namespace` is the netns cookie of the
    /// subflow's namespace (``MPTCPSocket/netnsCookie``); 0 matches any namespace, and is used
    /// only when no entry names the socket's own.
    public func set(_ option: Option, local: SocketEndpoint, remote: SocketEndpoint, namespace: UInt64 = 0) throws(SubflowError) {
        let l = local.address.bytes, r = remote.address.bytes
        let e: Int32
        switch option {
        case .mark(let m): e = csrh_sockopt_set(handle, namespace, l, local.port, r, remote.port, 1, m, 0, nil)
        case .trafficClass(let t): e = csrh_sockopt_set(handle, namespace, l, local.port, r, remote.port, 2, 0, t, nil)
        case .congestionControl(let name):
            guard name.utf8.count < 16, !name.isEmpty else { throw SubflowError(.badArgument, "congestion control name '\(name)' must be 1-15 bytes") }
            e = csrh_sockopt_set(handle, namespace, l, local.port, r, remote.port, 4, 0, 0, name)
        }
        if e != 0 { throw .system(SystemCallError("bpf_map_update_elem(srte_subflow_opts)", errno: e)) }
    }

    /// Whether the program has applied the latest options of this 4-tuple, and
    /// the OR of its `bpf_setsockopt` results (0 = success, negative errno otherwise).
    public func status(local: SocketEndpoint, remote: SocketEndpoint, namespace: UInt64 = 0) -> (applied: Bool, error: Int32)? {
        var applied: Int32 = 0, err: Int32 = 0
        guard csrh_sockopt_status(handle, namespace, local.address.bytes, local.port, remote.address.bytes, remote.port, &applied, &err) == 0 else { return nil }
        return (applied != 0, err)
    }

    /// Drops the entry of a closed subflow.
    public func forget(local: SocketEndpoint, remote: SocketEndpoint, namespace: UInt64 = 0) {
        _ = csrh_sockopt_forget(handle, namespace, local.address.bytes, local.port, remote.address.bytes, remote.port)
    }
}
