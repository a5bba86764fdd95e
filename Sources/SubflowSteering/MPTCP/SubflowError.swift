import Glibc
import LinuxSystem

/// Errors of the MPTCP socket API (draft-hesmans-mptcp-socket-03), one type for
/// every backend. The kind says what went wrong; the message says what to do;
/// ``netlink`` keeps the kernel's own error when there is one.
public struct SubflowError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong. New kinds may be added.
    public struct Kind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The connection fell back to plain TCP: there are no subflows to
        /// manage (the draft's EOPNOTSUPP).
        public static let fallback = Kind(rawValue: "fallback")
        /// No subflow with that id (the draft's EINVAL on an id).
        public static let invalidID = Kind(rawValue: "invalid-id")
        /// Malformed arguments (the draft's EINVAL).
        public static let badArgument = Kind(rawValue: "bad-argument")
        /// A non-root caller asked for a local port below 1024 (draft-hesmans-mptcp-socket-03 §6).
        public static let privilegedPort = Kind(rawValue: "privileged-port")
        /// The tuple carries an SRH, which opening a subflow does not support, or a path with
        /// waypoints was given without a steering mechanism.
        public static let steeringNotAvailable = Kind(rawValue: "steering-not-available")
        /// The running kernel cannot do this (e.g. a per-subflow socket option upstream).
        public static let notSupported = Kind(rawValue: "not-supported")
        /// MPTCP is missing or disabled in the namespace (`net.mptcp.enabled`).
        public static let mptcpDisabled = Kind(rawValue: "mptcp-disabled")
        /// The namespace is not on the userspace path manager (`net.mptcp.pm_type`).
        public static let notUserspacePathManager = Kind(rawValue: "not-userspace-pm")
        /// The subflow did not come up (refused, reset, or no SUB_ESTABLISHED in time).
        public static let subflowFailed = Kind(rawValue: "subflow-failed")
        /// The path manager refused the request (see ``SubflowError/netlink``).
        public static let pathManager = Kind(rawValue: "path-manager")
        /// A system call failed.
        public static let system = Kind(rawValue: "system")
        public var description: String { rawValue }
    }

    public var kind: Kind
    /// A sentence for people.
    public var message: String
    /// The errno a draft-hesmans-mptcp-socket-03 call returns for this error.
    public var errno: Errno
    /// The kernel's own error, when there is one.
    public var netlink: NetlinkError?

    public init(_ kind: Kind, _ message: String, errno: Errno? = nil, netlink: NetlinkError? = nil) {
        self.kind = kind
        self.message = message
        self.netlink = netlink
        self.errno = errno ?? netlink?.errno ?? Self.defaultErrno(kind)
    }

    /// For an errno value a C shim returned.
    public init(_ kind: Kind, _ message: String, errno: Int32, netlink: NetlinkError? = nil) {
        self.init(kind, message, errno: Errno(errno), netlink: netlink)
    }

    static func defaultErrno(_ k: Kind) -> Errno {
        switch k {
        case .fallback, .notSupported, .steeringNotAvailable: Errno(EOPNOTSUPP)
        case .invalidID, .badArgument, .notUserspacePathManager: Errno(EINVAL)
        case .privilegedPort: Errno(EACCES)
        case .mptcpDisabled: Errno(ENOPROTOOPT)
        case .subflowFailed: Errno(ECONNREFUSED)
        default: Errno(EIO)
        }
    }

    public var description: String {
        if let n = netlink { return "\(message) (\(n))" }
        return message
    }

    static func system(_ e: SystemCallError) -> SubflowError {
        SubflowError(.system, e.description, errno: e.errno)
    }

    static func pm(_ e: NetlinkError, _ what: String) -> SubflowError {
        SubflowError(.pathManager, what, netlink: e)
    }
}
