import Glibc
internal import CSRH
import LinuxSystem

/// Per-subflow socket options on upstream Linux (MPTCP_SUB_SETSOCKOPT), through
/// a cgroup-attached BPF sock_ops program that calls `bpf_setsockopt` on the one
/// subflow whose 4-tuple srte names (csrh bpf/subflow_sockopt.bpf.c).
///
/// Reachable options: `SO_MARK`, `IPV6_TCLASS` (IPv6) or `IP_TOS` (IPv4), `TCP_CONGESTION`, and up to eight integer
/// options per subflow (``Option/integer(level:name:value:)``: whatever `bpf_setsockopt`
/// accepts, e.g. `SO_PRIORITY`, `SO_SNDBUF`, `TCP_NODELAY`). Options reach
/// a subflow when it connects (if set before ``MultipathConnection/openSubflows(_:timeout:confirm:)``)
/// or, for live subflows whose local port is in `ports` (or any MPTCP subflow, with
/// `allSubflows`) and that opened while the program was attached, at their next RTT
/// sample (next ACK).
///
/// ```swift
/// let opts = try SubflowSocketOptions()          // attach (root)
/// connection.socketOptions = opts
/// try connection.setSubflowOption(id: 2, level: SOL_SOCKET, name: SO_MARK, value: int32Bytes(42))
/// ```
///
/// The program stays attached until this object is released or the process exits (bpf_link).
public final class SubflowSocketOptions: @unchecked Sendable {
    private let object: BPFObject
    private let linkFD: Int32
    private let optionsFD: Int32
    /// The local port range whose subflows get RTT callbacks.
    public let ports: ClosedRange<UInt16>

    /// Loads and attaches the program.
    /// - Parameters:
    ///   - cgroup: a cgroup v2 directory containing the processes whose subflows are
    ///     to be reached (default: the cgroup v2 root).
    ///   - ports: srte's local port range (``MultipathConnection/defaultPortRange``).
    ///   - allSubflows: also turn RTT callbacks on for every MPTCP subflow that connects or is
    ///     passively established while the program is attached, whatever its port (the srte
    ///     agent: the subflows of every program it serves), so options reach them later too.
    /// - Throws: `.notSupported` when the kernel refuses the program (no BPF, no
    ///   cgroup v2, not root), with the errno.
    public init(cgroup: String = SubflowSocketOptions.defaultCgroup, ports: ClosedRange<UInt16> = MultipathConnection.defaultPortRange,
                allSubflows: Bool = false) throws(SubflowError) {
        do throws(SystemCallError) {
            object = try BPFObject(embedded: subflowSockoptObject, what: "the per-subflow socket options program")
            optionsFD = try object.mapFD("srte_subflow_opts")
            var zero: UInt32 = 0
            var range = csrh_sockopt_range(lo: UInt32(ports.lowerBound), hi: UInt32(ports.upperBound), mptcp: allSubflows ? 1 : 0)
            try BPFMap.update(try object.mapFD("srte_ports"), key: &zero, value: &range)
            linkFD = try object.attachCgroupSockOps(path: cgroup)
        } catch {
            throw SubflowError(.notSupported, "per-subflow socket options are not supported here: \(error.call) (\(cgroup)): \(error.errno.message) (needs CAP_BPF/CAP_NET_ADMIN and cgroup v2)", errno: error.errno)
        }
        self.ports = ports
        self.allSubflows = allSubflows
    }

    /// Whether every MPTCP subflow gets RTT callbacks (see ``init(cgroup:ports:allSubflows:)``).
    public let allSubflows: Bool

    deinit {
        close(linkFD)
        object.close()
    }

    private static func key(_ local: SocketEndpoint, _ remote: SocketEndpoint, _ namespace: UInt64) -> csrh_sockopt_key {
        var k = csrh_sockopt_key()
        withUnsafeMutableBytes(of: &k.local) { $0.copyBytes(from: local.address.bytes) }
        withUnsafeMutableBytes(of: &k.remote) { $0.copyBytes(from: remote.address.bytes) }
        k.lport = UInt32(local.port)
        k.rport = UInt32(remote.port)
        k.netns = namespace
        return k
    }

    /// The cgroup v2 mount point (root cgroup).
    public static var defaultCgroup: String {
        access("/sys/fs/cgroup/unified/cgroup.procs", F_OK) == 0 ? "/sys/fs/cgroup/unified" : "/sys/fs/cgroup"
    }

    /// One option to set.
    public enum Option: Hashable, Sendable {
        /// `SO_MARK`
        case mark(UInt32)
        /// `IPV6_TCLASS` (IPv6 subflows)
        case trafficClass(Int32)
        /// `IP_TOS` (IPv4 subflows; it replaces a traffic class set before: one field holds either)
        case typeOfService(Int32)
        /// `TCP_CONGESTION` (e.g. "reno", "cubic")
        case congestionControl(String)
        /// Any integer option `bpf_setsockopt` accepts on a TCP socket (`SO_PRIORITY`,
        /// `SO_SNDBUF`, `SO_RCVBUF`, `SO_KEEPALIVE`, `TCP_NODELAY`, `TCP_KEEPIDLE`, …); the kernel
        /// checks it when the program applies it, and ``integerResults(local:remote:namespace:)``
        /// reports its answer. Runs with the kernel's rights: callers check privileges first.
        case integer(level: Int32, name: Int32, value: Int32)
    }

    /// Integer options one subflow may carry.
    public static let maxIntegerOptions = 8

    /// What the program made of one integer option.
    public struct IntegerResult: Hashable, Sendable {
        public var level: Int32, name: Int32
        /// The value asked for.
        public var value: Int32
        /// The value read back right after setting it (what the kernel keeps).
        public var effective: Int32
        /// 0, or the negative errno of `bpf_setsockopt` / `bpf_getsockopt`.
        public var error: Int32
    }

    private static func ints(_ v: inout csrh_sockopt_value) -> UnsafeMutableBufferPointer<csrh_sockopt_int> {
        withUnsafeMutableBytes(of: &v.ints) { $0.bindMemory(to: csrh_sockopt_int.self) }
    }

    /// Sets `option` for the subflow with this 4-tuple (existing or future).
    ///
    /// The program runs for every namespace of its cgroup, so a 4-tuple alone can name two
    /// sockets (two labs with the same addresses). `namespace` is the netns cookie of the
    /// subflow's namespace (``MPTCPSocket/netnsCookie``); 0 matches any namespace, and is used
    /// only when no entry names the socket's own.
    public func set(_ option: Option, local: SocketEndpoint, remote: SocketEndpoint, namespace: UInt64 = 0) throws(SubflowError) {
        var k = Self.key(local, remote, namespace)
        var v = csrh_sockopt_value()
        _ = BPFMap.lookup(optionsFD, key: &k, into: &v)     // keep the options set before
        v.gen &+= 1
        switch option {
        case .mark(let m):
            v.flags |= 1
            v.mark = m
        case .trafficClass(let t):
            v.flags = (v.flags & ~8) | 2
            v.tclass = t
        case .typeOfService(let t):
            v.flags = (v.flags & ~2) | 8
            v.tclass = t
        case .congestionControl(let name):
            guard name.utf8.count < 16, !name.isEmpty else { throw SubflowError(.badArgument, "congestion control name '\(name)' must be 1-15 bytes") }
            v.flags |= 4
            withUnsafeMutableBytes(of: &v.cc) { p in
                p.initializeMemory(as: UInt8.self, repeating: 0)
                p.copyBytes(from: Array(name.utf8))
            }
        case .integer(let level, let name, let value):
            let n = Int(v.nints)
            let slot: Int? = withUnsafeMutableBytes(of: &v.ints) { raw in
                let ints = raw.bindMemory(to: csrh_sockopt_int.self)
                if let i = (0..<min(n, ints.count)).first(where: { ints[$0].level == level && ints[$0].name == name }) { return i }
                return n < ints.count ? n : nil
            }
            guard let i = slot else {
                throw SubflowError(.badArgument, "a subflow carries at most \(Self.maxIntegerOptions) integer options set through srte")
            }
            withUnsafeMutableBytes(of: &v.ints) { raw in
                raw.bindMemory(to: csrh_sockopt_int.self)[i] = csrh_sockopt_int(level: level, name: name, value: value, effective: 0, error: 0)
            }
            if i == n { v.nints += 1 }
        }
        do throws(SystemCallError) { try BPFMap.update(optionsFD, key: &k, value: &v) } catch {
            throw .system(SystemCallError("bpf_map_update_elem(srte_subflow_opts)", errno: error.errno))
        }
    }

    /// Whether the program has applied the latest options of this 4-tuple, and
    /// the OR of its `bpf_setsockopt` results (0 = success, negative errno otherwise).
    public func status(local: SocketEndpoint, remote: SocketEndpoint, namespace: UInt64 = 0) -> (applied: Bool, error: Int32)? {
        var k = Self.key(local, remote, namespace)
        var v = csrh_sockopt_value()
        guard BPFMap.lookup(optionsFD, key: &k, into: &v) else { return nil }
        return (v.gen == v.applied_gen, v.last_error)
    }

    /// The integer options of this 4-tuple and what the program made of them when it last
    /// applied them (``status(local:remote:namespace:)`` says whether it has yet).
    public func integerResults(local: SocketEndpoint, remote: SocketEndpoint, namespace: UInt64 = 0) -> [IntegerResult] {
        var k = Self.key(local, remote, namespace)
        var v = csrh_sockopt_value()
        guard BPFMap.lookup(optionsFD, key: &k, into: &v) else { return [] }
        let n = Int(v.nints)
        return withUnsafeMutableBytes(of: &v.ints) { raw in
            let ints = raw.bindMemory(to: csrh_sockopt_int.self)
            return (0..<min(n, ints.count)).map { IntegerResult(level: ints[$0].level, name: ints[$0].name, value: ints[$0].value,
                                                                effective: ints[$0].effective, error: ints[$0].error) }
        }
    }

    /// A read asked of the program (``startRead(level:name:local:remote:namespace:)``), answered
    /// at the subflow's next callback (``result(of:)``).
    public struct PendingRead {
        fileprivate var key: csrh_sockopt_key
        fileprivate let generation: UInt32
    }

    /// Asks the program to read one integer option of the subflow with this 4-tuple
    /// (`bpf_getsockopt`) at the subflow's next callback — its next RTT sample, so only while
    /// acknowledgments arrive. ``result(of:)`` tells when it did.
    public func startRead(level: Int32, name: Int32, local: SocketEndpoint, remote: SocketEndpoint, namespace: UInt64 = 0) throws(SubflowError) -> PendingRead {
        var k = Self.key(local, remote, namespace)
        var v = csrh_sockopt_value()
        _ = BPFMap.lookup(optionsFD, key: &k, into: &v)
        v.read_level = level
        v.read_name = name
        v.read_gen &+= 1
        do throws(SystemCallError) { try BPFMap.update(optionsFD, key: &k, value: &v) } catch {
            throw .system(SystemCallError("bpf_map_update_elem(srte_subflow_opts)", errno: error.errno))
        }
        return PendingRead(key: k, generation: v.read_gen)
    }

    /// The answer to `read`: nil while the program has not run for the subflow since; otherwise
    /// the value, or the errno the kernel gave.
    public func result(of read: PendingRead) -> Result<Int32, Errno>? {
        var k = read.key
        var now = csrh_sockopt_value()
        guard BPFMap.lookup(optionsFD, key: &k, into: &now), now.read_done_gen == read.generation, now.read_gen == read.generation else { return nil }
        return now.read_error == 0 ? .success(now.read_value) : .failure(Errno(rawValue: -now.read_error))
    }

    /// Reads one integer option of the subflow with this 4-tuple through the program
    /// (`bpf_getsockopt`), waiting for the subflow's next callback (its next RTT sample, so
    /// only while acknowledgments arrive). Nil when none came within `timeout`; otherwise the
    /// value, or the negative errno the kernel gave.
    public func read(level: Int32, name: Int32, local: SocketEndpoint, remote: SocketEndpoint, namespace: UInt64 = 0,
                     timeout: Duration = .milliseconds(500)) throws(SubflowError) -> Result<Int32, Errno>? {
        let pending = try startRead(level: level, name: name, local: local, remote: remote, namespace: namespace)
        let clock = ContinuousClock(), deadline = clock.now + timeout
        while true {
            if let r = result(of: pending) { return r }
            if clock.now >= deadline { return nil }
            usleep(2_000)
        }
    }

    /// Drops the entry of a closed subflow.
    public func forget(local: SocketEndpoint, remote: SocketEndpoint, namespace: UInt64 = 0) {
        var k = Self.key(local, remote, namespace)
        _ = try? BPFMap.delete(optionsFD, key: &k)
    }
}
