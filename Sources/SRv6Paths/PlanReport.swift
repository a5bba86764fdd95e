/// A complete answer to `srte plan`: the disjoint paths, each with its segment list and delay,
/// and the planner's notes. The CLI renders it (text table, JSON, Graphviz DOT, iproute2
/// commands; `Sources/srte/PlanReport+Formats.swift`).
///
/// ```swift
/// let r = try PlanReport(topology: diamond, from: "h1", to: "h2", k: 3, disjoint: .node)
/// r.paths.count                          // 3
/// r.paths[1].segments.map(\.sid)         // [fc00:0:b::1, fc00:2::2]
/// ```
public struct PlanReport: Sendable {
    /// One planned path and its encoding.
    public struct Path: Sendable {
        /// The path (node and link indices) and its cost under the planning metric.
        public var path: PlannedPath
        /// One-way delay along the path, in microseconds.
        public var delay: Int
        /// The segment list that forces it, checked by forwarding simulation.
        public var segments: [Segment]
        /// The SIDs before the final destination: what a subflow's SRH needs besides its own
        /// destination (empty for the IGP's path).
        public var waypoints: [IPv6Address] { segments.waypoints }
        /// With ``Encoding/fewestBytes`` or ``Encoding/fewestReducedBytes``: ``segments`` compressed into C-SID containers.
        public var compressed: Topology.CompressedList? = nil
    }

    /// What a segment list is chosen for.
    public enum Encoding: String, Sendable, Hashable {
        /// The fewest SIDs (``SegmentEncoder/encode(_:msd:)``).
        case fewestSIDs
        /// The fewest SRH bytes once compressed with the topology's C-SIDs
        /// (``SegmentEncoder/encodeFewestBytes(_:msd:reduced:)``).
        case fewestBytes
        /// The fewest bytes of a reduced SRH: as ``fewestBytes``, but a list whose first entry is
        /// a container costs one entry less (it travels as the Destination Address).
        case fewestReducedBytes
    }

    /// The topology planned on.
    public var topology: Topology
    /// Source and destination node indices.
    public var from: Int, to: Int
    /// Requested number of paths.
    public var requested: Int
    /// Disjointness and metric used.
    public var disjoint: Disjointness, metric: PathMetric
    /// Whether the literal disjointness rule was applied (`--strict`).
    public var strict: Bool
    /// What the segment lists were chosen for.
    public var encoding: Encoding
    /// How the lists are sent: uncompressed for ``Encoding/fewestSIDs``, containers in a full
    /// SRH for ``Encoding/fewestBytes``, a reduced SRH where possible for ``Encoding/fewestReducedBytes``.
    public var compression: SRHCompression {
        switch encoding {
        case .fewestSIDs: .off
        case .fewestBytes: .full
        case .fewestReducedBytes: .reduced
        }
    }
    /// The paths, cheapest first.
    public var paths: [Path]
    /// Explanations (fewer paths than requested, host-gateway rule, heuristics).
    public var notes: [String]
    /// The sum of the path costs.
    public var totalCost: Int { paths.reduce(0) { $0 + $1.path.cost } }

    /// Why a plan could not be produced.
    public struct Failure: Error, Hashable, Sendable, CustomStringConvertible {
        /// What went wrong.
        public var message: String
        /// Whether the request itself is unusable (unknown node, same endpoints, k < 1), as
        /// opposed to a plan that cannot be encoded.
        public var isBadRequest: Bool = false
        public var description: String { message }
    }

    /// Plans and encodes in one step.
    ///
    /// - Parameters:
    ///   - topology: The network.
    ///   - from: Source node name.
    ///   - to: Destination node name.
    ///   - k: Number of paths wanted.
    ///   - disjoint: Link, node or SRLG disjointness.
    ///   - metric: Metric minimised; IGP forwarding is assumed to follow the same metric.
    ///   - msd: Maximum SID depth; defaults to the source node's `msd`, then the topology's.
    ///   - strict: Literal disjointness for single-homed hosts.
    ///   - planner: A planner to reuse (same topology and metric); built if `nil`.
    ///   - encoding: Fewest SIDs (the default) or fewest SRH bytes with the topology's C-SIDs, full
    ///     or reduced; with the latter two the MSD counts Segment List entries (a container once).
    /// - Throws: ``Failure`` for unknown nodes, bad requests, or a path that cannot be encoded
    ///   within the MSD. Finding no path is not an error: `paths` is then empty.
    public init(topology: Topology, from: String, to: String, k: Int, disjoint: Disjointness = .link,
                metric: PathMetric = .igp, msd: Int? = nil, strict: Bool = false,
                planner: DisjointPathPlanner? = nil, encoding: Encoding = .fewestSIDs) throws(Failure) {
        guard let s = topology.index(of: from) else { throw Failure(message: "unknown node '\(from)' (not in topology '\(topology.name)')", isBadRequest: true) }
        guard let t = topology.index(of: to) else { throw Failure(message: "unknown node '\(to)' (not in topology '\(topology.name)')", isBadRequest: true) }
        let pl = planner ?? DisjointPathPlanner(topology: topology, metric: metric)
        let plan: DisjointPathPlan
        do { plan = try pl.plan(from: s, to: t, k: k, disjoint: disjoint, strict: strict) } catch {
            throw Failure(message: error.message, isBadRequest: true)
        }
        let encoder = SegmentEncoder(planner: pl)
        let depth = msd ?? topology.nodes[s].msd ?? topology.defaultMSD
        var out: [Path] = []
        for p in plan.paths {
            do {
                let delay = p.links.reduce(0) { $0 + topology.links[$1].delay }
                switch encoding {
                case .fewestSIDs:
                    out.append(Path(path: p, delay: delay, segments: try encoder.encode(p, msd: depth)))
                case .fewestBytes, .fewestReducedBytes:
                    let e = try encoder.encodeFewestBytes(p, msd: depth, reduced: encoding == .fewestReducedBytes)
                    out.append(Path(path: p, delay: delay, segments: e.segments, compressed: e.list))
                }
            } catch {
                throw Failure(message: error.message)
            }
        }
        self.topology = topology
        self.from = s
        self.to = t
        self.requested = k
        self.disjoint = disjoint
        self.metric = metric
        self.strict = strict
        self.encoding = encoding
        self.paths = out
        self.notes = plan.notes
    }
}

/// `str` as a JSON string literal (quotes, backslashes and control characters escaped).
public func jsonString(_ str: String) -> String {
    var s = "\""
    for u in str.unicodeScalars {
        switch u {
        case "\"": s += "\\\""
        case "\\": s += "\\\\"
        case "\n": s += "\\n"
        case "\r": s += "\\r"
        case "\t": s += "\\t"
        case _ where u.value < 0x20:
            let h = String(u.value, radix: 16)
            s += "\\u" + String(repeating: "0", count: 4 - h.count) + h
        default: s.unicodeScalars.append(u)
        }
    }
    return s + "\""
}
