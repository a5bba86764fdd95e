import SRv6Paths
import Yams

/// What `srte agent` does with the MPTCP connections of a host: ordered rules, and the first rule
/// that matches a connection decides its paths. Connections no rule matches are left alone.
///
/// A policy file (YAML; errors name file:line:column):
///
/// ```yaml
/// rules:
///   - match: { to: "fc00:2::/64", port: 5201 }
///     paths: [[fc00:0:b::1], [fc00:0:c::1], direct]
///   - match: { to: "fc00:0:1::/48", uid: 1000-1999 }
///     plan: { topology: topologies/abilene.yaml, from: Sunnyvale, k: 3, disjoint: node }
///     keep: true
///   - match: { to: "fc00:2::/64" }
///     plan: { topology: diamond-csid.yaml, from: h1, k: 3, compress: reduced }   # RFC 9800 C-SIDs
/// grants:                       # what unprivileged programs may ask of the agent (C API)
///   - { uid: 1000-1999, sids: ["fc00:0:b::/48"], subflows: 4, marks: 100-199 }
/// ```
///
/// ```swift
/// let policy = try AgentPolicy(yaml: text, file: "policy.yaml")
/// policy.firstMatch(ConnectionFacts(remote: peer, remotePort: 5201))?.index   // 0
/// ```
public struct AgentPolicy: Sendable, Hashable {
    /// The rules, in the order they are tried.
    public var rules: [Rule]
    /// What non-root callers of the agent's subflow protocol may do (Docs/AgentProtocol.md):
    /// a uid no grant covers may not open or close subflows. Root may do everything.
    public var grants: [Grant]

    public init(rules: [Rule], grants: [Grant] = []) {
        self.rules = rules
        self.grants = grants
    }

    /// The first grant that covers `uid`; `nil` when none does.
    public func grant(for uid: UInt32) -> Grant? {
        grants.first { $0.uids.contains(uid) }
    }

    /// The most subflows one connection may have: the kernel's limit (`MPTCP_PM_ADDR_MAX`, the
    /// ceiling of `ip mptcp limits set subflows`).
    public static let maxSubflows = 8

    /// The first rule that matches `connection`, and its position.
    /// - Complexity: O(number of rules).
    public func firstMatch(_ connection: ConnectionFacts) -> (index: Int, rule: Rule)? {
        for (i, r) in rules.enumerated() where r.match.matches(connection) { return (i, r) }
        return nil
    }

    /// The policy of the command line's `--to PREFIX [--port PORT] --path SEGS...`: one rule.
    public static func oneRule(to: IPv6Prefix, port: ClosedRange<UInt16>? = nil, paths: [PathSpec], keep: Bool = false) -> AgentPolicy {
        AgentPolicy(rules: [Rule(match: Match(to: to, ports: port), paths: .explicit(paths), keep: keep)])
    }
}

/// One rule: which connections, and how their subflows are routed.
public struct Rule: Sendable, Hashable {
    /// Which connections the rule takes.
    public var match: Match
    /// Where each subflow goes.
    public var paths: Paths
    /// Whether a subflow that stops making progress is replaced on a re-planned path.
    public var keep: Bool
    /// The position of the rule in its file (0 for rules not read from a file).
    public var line: Int, column: Int

    public init(match: Match, paths: Paths, keep: Bool = false, line: Int = 0, column: Int = 0) {
        self.match = match
        self.paths = paths
        self.keep = keep
        self.line = line
        self.column = column
    }

    /// A rule's paths: listed, or planned from a topology.
    public enum Paths: Sendable, Hashable {
        /// One subflow per entry, in order; the first is the initial subflow's.
        case explicit([PathSpec])
        /// k disjoint paths from a topology, toward the node that owns the destination.
        case plan(PlanSpec)

        /// How many subflows a matching connection gets.
        public var subflowCount: Int {
            switch self {
            case .explicit(let p): p.count
            case .plan(let p): p.k
            }
        }
    }
}

/// One subflow's path.
public enum PathSpec: Sendable, Hashable, CustomStringConvertible {
    /// The IGP's path: no SRH.
    case direct
    /// Through these SIDs, in path order; the connection's destination is appended as the last
    /// segment (Segment List[0] on the wire).
    case segments([IPv6Address])

    /// Parses the command line's form: `direct`, or a comma-separated SID list in path order.
    /// - Throws: `IPv6AddressError` for a SID that is not an IPv6 address.
    public init(parsing text: String) throws(IPv6AddressError) {
        if text == "direct" { self = .direct; return }
        var sids: [IPv6Address] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            sids.append(try IPv6Address(parsing: String(part)))
        }
        self = .segments(sids)
    }

    public var description: String {
        switch self {
        case .direct: "direct"
        case .segments(let s): s.map(\.description).joined(separator: ",")
        }
    }
}

/// A planned rule: what `srte plan` would compute.
public struct PlanSpec: Sendable, Hashable {
    /// The topology file as written in the policy.
    public var topology: String
    /// The topology file's path: relative paths are taken from the policy file's directory.
    public var topologyPath: String
    /// This host's node in the topology.
    public var from: String
    /// Number of paths (subflows).
    public var k: Int
    public var disjoint: Disjointness
    public var metric: PathMetric
    /// How the planned segment lists are packed (`srte open --compress`): `off` whole SIDs,
    /// `full` RFC 9800 NEXT-C-SID containers in a full SRH, `reduced` containers with the first
    /// only as Destination Address (RFC 8754 reduced SRH). `nil`: `reduced` when the topology
    /// declares C-SIDs (`csid:`), else `off` — and `off` for an agent that reflects (`--reflect`).
    public var compress: SRHCompression?

    public init(topology: String, topologyPath: String? = nil, from: String, k: Int, disjoint: Disjointness = .link, metric: PathMetric = .igp,
                compress: SRHCompression? = nil) {
        self.topology = topology
        self.topologyPath = topologyPath ?? topology
        self.from = from
        self.k = k
        self.disjoint = disjoint
        self.metric = metric
        self.compress = compress
    }
}

/// Which connections a rule takes. Every condition given must hold; none given matches all.
public struct Match: Sendable, Hashable, CustomStringConvertible {
    /// The destination (the connection's remote address).
    public var to: IPv6Prefix?
    /// The source (the connection's local address).
    public var from: IPv6Prefix?
    /// The destination port.
    public var ports: ClosedRange<UInt16>?
    /// The owning process's user id.
    public var uids: ClosedRange<UInt32>?
    /// The owning process's cgroup (v2 path, e.g. `/system.slice/iperf3.service`); it and the
    /// cgroups below it match.
    public var cgroup: String?

    public init(to: IPv6Prefix? = nil, from: IPv6Prefix? = nil, ports: ClosedRange<UInt16>? = nil,
                uids: ClosedRange<UInt32>? = nil, cgroup: String? = nil) {
        self.to = to
        self.from = from
        self.ports = ports
        self.uids = uids
        self.cgroup = cgroup
    }

    /// An address (taken as a /128) or `ADDRESS/LENGTH`, as `to` and `from` are written.
    public static func parsePrefix(_ text: String) throws(IPv6AddressError) -> IPv6Prefix {
        if text.contains("/") { return try IPv6Prefix(parsing: text) }
        return IPv6Prefix(address: try IPv6Address(parsing: text), length: 128)
    }

    /// `N` or `A-B` within `bounds`, as `port` and `uid` are written.
    /// - Throws: a message saying what was expected.
    public static func parseRange(_ text: String, within bounds: ClosedRange<Int>) throws(MatchValueError) -> ClosedRange<Int> {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 1 || parts.count == 2, let lo = parts[0], let hi = parts[parts.count - 1] else {
            throw MatchValueError(message: "expected a number or a range like 5201-5210, got '\(text)'")
        }
        guard bounds.contains(lo), bounds.contains(hi), lo <= hi else {
            throw MatchValueError(message: "\(text) is out of range (\(bounds.lowerBound)...\(bounds.upperBound), low end first)")
        }
        return lo...hi
    }

    /// The conditions, e.g. "to fc00:2::/64, port 5201"; "every connection" for none.
    public var description: String {
        var parts: [String] = []
        if let to { parts.append("to \(to)") }
        if let p = ports { parts.append(p.count == 1 ? "port \(p.lowerBound)" : "ports \(p.lowerBound)-\(p.upperBound)") }
        if let from { parts.append("from \(from)") }
        if let u = uids { parts.append(u.count == 1 ? "uid \(u.lowerBound)" : "uids \(u.lowerBound)-\(u.upperBound)") }
        if let cgroup { parts.append("cgroup \(cgroup)") }
        return parts.isEmpty ? "every connection" : parts.joined(separator: ", ")
    }

    /// Whether `c` meets every condition. A condition on the owner (uid, cgroup) does not match
    /// a connection whose owner is unknown.
    public func matches(_ c: ConnectionFacts) -> Bool {
        if let to, !to.contains(c.remote) { return false }
        if let from {
            guard let local = c.local, from.contains(local) else { return false }
        }
        if let ports, !ports.contains(c.remotePort) { return false }
        if let uids {
            guard let uid = c.uid, uids.contains(uid) else { return false }
        }
        if let cgroup {
            guard let own = c.cgroup else { return false }
            let base = cgroup.hasSuffix("/") && cgroup.count > 1 ? String(cgroup.dropLast()) : cgroup
            guard own == base || own.hasPrefix(base == "/" ? "/" : base + "/") else { return false }
        }
        return true
    }
}

/// A `port` or `uid` value that is not a number or range within bounds.
public struct MatchValueError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// What the agent knows of a connection when it decides: its endpoints and, where visible, its
/// owner.
public struct ConnectionFacts: Sendable, Hashable {
    public var local: IPv6Address?
    public var remote: IPv6Address
    public var remotePort: UInt16
    public var uid: UInt32?
    public var cgroup: String?

    public init(local: IPv6Address? = nil, remote: IPv6Address, remotePort: UInt16, uid: UInt32? = nil, cgroup: String? = nil) {
        self.local = local
        self.remote = remote
        self.remotePort = remotePort
        self.uid = uid
        self.cgroup = cgroup
    }
}

/// A policy the agent cannot use, with the file, line and column of the first problem.
public struct PolicyError: Error, Hashable, Sendable, CustomStringConvertible {
    public var file: String
    /// 1-based line, 0 when unknown.
    public var line: Int
    /// 1-based column, 0 when unknown.
    public var column: Int
    /// What is wrong and what was expected.
    public var message: String

    public init(file: String, line: Int = 0, column: Int = 0, _ message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    init(_ e: TopologyError) { self.init(file: e.file, line: e.line, column: e.column, e.message) }

    public var description: String {
        line > 0 ? "\(file):\(line):\(column): \(message)" : "\(file): \(message)"
    }
}

/// What a range of non-root users may ask of the agent for their own MPTCP connections: open
/// and close subflows, at most ``subflows`` per connection, with SRHs whose segments (except
/// the final one, the subflow's destination) all lie in ``sids``.
public struct Grant: Sendable, Hashable, CustomStringConvertible {
    /// The user ids it covers.
    public var uids: ClosedRange<UInt32>
    /// The SIDs their SRHs may name; empty: no SRH at all.
    public var sids: [IPv6Prefix]
    /// The most subflows one connection may have after an open (the initial subflow counts).
    public var subflows: Int
    /// The `SO_MARK` values they may give their subflows (per-subflow setsockopt); `nil`: none
    /// (setting a mark needs CAP_NET_ADMIN, which the kernel would check).
    public var marks: ClosedRange<UInt32>?
    /// The position of the grant in its file (0 for grants not read from a file).
    public var line: Int, column: Int

    public init(uids: ClosedRange<UInt32>, sids: [IPv6Prefix] = [], subflows: Int = AgentPolicy.maxSubflows,
                marks: ClosedRange<UInt32>? = nil, line: Int = 0, column: Int = 0) {
        self.uids = uids
        self.sids = sids
        self.subflows = subflows
        self.marks = marks
        self.line = line
        self.column = column
    }

    /// Whether an SRH through `waypoints` (the final segment left out) is allowed.
    public func allows(waypoints: [IPv6Address]) -> Bool {
        waypoints.allSatisfy { w in sids.contains { $0.contains(w) } }
    }

    /// E.g. "uids 1000-1999: sids fc00:0:b::/48, up to 4 subflows".
    public var description: String {
        let who = uids.count == 1 ? "uid \(uids.lowerBound)" : "uids \(uids.lowerBound)-\(uids.upperBound)"
        let what = sids.isEmpty ? "no SRH" : "sids " + sids.map(\.description).joined(separator: ", ")
        let marked = marks.map { $0.count == 1 ? ", mark \($0.lowerBound)" : ", marks \($0.lowerBound)-\($0.upperBound)" } ?? ""
        return "\(who): \(what), up to \(subflows) subflow\(subflows == 1 ? "" : "s") per connection\(marked)"
    }
}
