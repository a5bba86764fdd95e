/// One entry of an SRv6 segment list, with what it means in the topology.
public struct Segment: Sendable, Hashable, CustomStringConvertible {
    /// What a SID does.
    public enum Kind: String, Sendable, Hashable {
        /// A router's node SID (End): reach the router over IGP shortest paths (ECMP).
        case node
        /// A router's adjacency SID (End.X): reach the router, then cross one particular link.
        case adjacency
        /// A host's address, the final destination.
        case destination
    }

    /// The IPv6 address carried in the segment list.
    public var sid: IPv6Address
    /// Node, adjacency or destination.
    public var kind: Kind
    /// The node that owns the SID (the host for a destination).
    public var node: Int
    /// For an adjacency SID: the link it forces and the neighbour it leads to.
    public var link: Int?
    /// For an adjacency SID: the neighbour at the far end of `link`.
    public var neighbor: Int?

    /// Creates a segment.
    public init(sid: IPv6Address, kind: Kind, node: Int, link: Int? = nil, neighbor: Int? = nil) {
        self.sid = sid
        self.kind = kind
        self.node = node
        self.link = link
        self.neighbor = neighbor
    }

    public var description: String { "\(sid) (\(kind.rawValue))" }
}

/// Why a path cannot be encoded or did not survive the forwarding check.
public struct EncodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public var message: String
    public var description: String { message }
}

/// One way traffic can go: a hop sequence (nodes and the links between them).
public struct ForwardingBranch: Sendable, Hashable {
    /// Nodes from the ingress to where the segment list ends.
    public var nodes: [Int]
    /// Links between consecutive nodes.
    public var links: [Int]
}

/// Encodes planned paths as minimal SRv6 segment lists and checks them by simulating
/// forwarding over every ECMP branch.
///
/// Encoding: from the current point, the path is followed as far as it is the *unique*
/// shortest path under the metric (one shortest path, and it is the planned one); that stretch
/// is covered by one SID. The lists found have the fewest SIDs possible (see `Docs/Planner.md`
/// for the argument); among equally short lists, node SIDs are preferred over adjacency SIDs.
/// The list always ends with the destination's SID (node SID of a router, address of a host).
///
/// ```swift
/// let enc = SegmentEncoder(topology: diamond, metric: .igp)
/// let segs = try enc.encode(path)          // h1 r1 a r2 h2
/// segs.map(\.description)                  // ["fc00:0:a::1 (node)", "fc00:2::2 (destination)"]
/// ```
public final class SegmentEncoder {
    /// The topology.
    public let topology: Topology
    /// The metric IGP shortest paths follow.
    public let metric: PathMetric
    /// The graph searched.
    public let graph: Graph
    private let spf: ShortestPaths

    /// Creates an encoder for IGP shortest paths under `metric`.
    public init(topology: Topology, metric: PathMetric) {
        self.topology = topology
        self.metric = metric
        self.graph = Graph(topology: topology, metric: metric)
        self.spf = ShortestPaths(graph: graph)
    }

    /// Creates an encoder sharing a planner's graph (same topology and metric).
    public init(planner: DisjointPathPlanner) {
        self.topology = planner.topology
        self.metric = planner.metric
        self.graph = planner.graph
        self.spf = ShortestPaths(graph: graph)
    }

    /// The fewest SIDs that force `path`, checked by ``simulate(from:segments:limit:)``.
    ///
    /// - Parameters:
    ///   - path: A path from the ingress (`path.nodes[0]`, which pushes the list) to the destination.
    ///   - msd: The maximum number of SIDs the ingress can push, if limited.
    /// - Returns: The segment list in path order (first SID first), ending at the destination.
    /// - Throws: ``EncodingError`` if the list would exceed `msd`, if a host ingress has
    ///   equal-cost first hops (hosts own no End.X SIDs), or if the forwarding check fails.
    /// - Complexity: one Dijkstra per distinct stretch start examined, each bounded by the
    ///   cost of the stretch it checks; O(L) stretches for a path of L hops.
    public func encode(_ path: PlannedPath, msd: Int? = nil) throws(EncodingError) -> [Segment] {
        let p = path.nodes
        let m = p.count - 1
        guard m >= 1 else { throw EncodingError(message: "a path needs at least one hop") }
        let reach = reachFunction(path)

        // best(x) = (number of SIDs, number of adjacency SIDs, move) from position x to the end.
        enum Move { case finish, node(Int), adjacency(Int) }
        var memo: [Int: (Int, Int, Move)] = [:]
        var failure: EncodingError? = nil
        func best(_ x: Int) -> (Int, Int, Move)? {
            if let b = memo[x] { return b }
            if x == m {
                // At the destination after an End.X: its own SID still ends the list.
                memo[x] = (1, 0, .finish)
                return memo[x]
            }
            let j = reach(x)
            var result: (Int, Int, Move)? = nil
            if j == m {
                result = (1, 0, .finish)
            } else {
                if j > x, topology.nodes[p[j]].kind == .router, let b = best(j) {
                    result = (b.0 + 1, b.1, .node(j))
                }
                if topology.nodes[p[j]].kind == .router, let b = best(j + 1) {
                    let cand = (b.0 + 1, b.1 + 1, Move.adjacency(j))
                    if result == nil || (cand.0, cand.1) < (result!.0, result!.1) { result = cand }
                }
                if result == nil && failure == nil {
                    failure = EncodingError(message: "cannot force the hop \(topology.nodes[p[j]].name) → \(topology.nodes[p[j + 1]].name): \(topology.nodes[p[j]].name) is a host with equal-cost first hops and owns no End.X SID")
                }
            }
            memo[x] = result
            return result
        }
        guard best(0) != nil else {
            throw failure ?? EncodingError(message: "cannot encode the path")
        }
        var segments: [Segment] = []
        var x = 0
        while true {
            let (_, _, move) = memo[x]!
            switch move {
            case .finish:
                let d = p[m]
                let kind: Segment.Kind = topology.nodes[d].kind == .host ? .destination : .node
                segments.append(Segment(sid: topology.destinationAddress(ofNode: d), kind: kind, node: d))
                x = m + 1
            case .node(let j):
                segments.append(Segment(sid: topology.nodeSID(ofNode: p[j])!, kind: .node, node: p[j]))
                x = j
            case .adjacency(let j):
                let l = path.links[j]
                segments.append(Segment(sid: topology.adjacencySID(link: l, from: p[j])!, kind: .adjacency,
                                        node: p[j], link: l, neighbor: p[j + 1]))
                x = j + 1
            }
            if x > m { break }
        }
        if let msd, segments.count > msd {
            throw EncodingError(message: "path \(path.nodes.map { topology.nodes[$0].name }.joined(separator: " ")) needs \(segments.count) SIDs, more than the maximum SID depth \(msd)")
        }
        try verify(path, segments: segments)
        return segments
    }

    /// J(i) for `path`: the farthest j ≥ i such that `nodes[i...j]` is the unique shortest path
    /// from `nodes[i]` to `nodes[j]`, memoised. What one SID starting at position i covers.
    func reachFunction(_ path: PlannedPath) -> (Int) -> Int {
        let p = path.nodes
        let m = p.count - 1
        // prefix[j] = cost of p[0...j].
        var prefix = [Int64](repeating: 0, count: m + 1)
        for j in 0..<m { prefix[j + 1] = prefix[j] + Int64(metric.weight(of: topology.links[path.links[j]])) }
        var reachMemo: [Int: Int] = [:]
        let spf = self.spf
        return { i in
            if let r = reachMemo[i] { return r }
            // Grow the search one hop at a time (the search resumes, so this costs nothing
            // extra) and stop at the first hop that is not on the unique shortest path: the
            // ball explored never reaches past that hop's distance.
            var j = i
            spf.start(from: p[i])
            while j < m {
                let nj = j + 1
                spf.advance(radius: prefix[nj] - prefix[i])
                guard spf.distance(to: p[nj]) == prefix[nj] - prefix[i], spf.pathCount(to: p[nj]) == 1 else { break }
                j = nj
            }
            reachMemo[i] = j
            return j
        }
    }

    /// Checks by simulation that `segments`, pushed at `path.nodes[0]`, make traffic follow
    /// exactly `path` on every ECMP branch.
    /// - Throws: ``EncodingError`` describing the first stray branch.
    public func verify(_ path: PlannedPath, segments: [Segment]) throws(EncodingError) {
        let sim = simulate(from: path.nodes[0], segments: segments, limit: 2)
        let names = { (ns: [Int]) in ns.map { self.topology.nodes[$0].name }.joined(separator: " ") }
        guard let first = sim.branches.first else {
            throw EncodingError(message: "forwarding check: the segment list does not reach its destination")
        }
        if sim.branches.count > 1 || first.nodes != path.nodes || first.links != path.links {
            let stray = sim.branches.first { $0.nodes != path.nodes || $0.links != path.links } ?? first
            throw EncodingError(message: "forwarding check failed: traffic can take \(names(stray.nodes)) instead of \(names(path.nodes))")
        }
    }

    /// The result of a forwarding simulation.
    public struct Simulation: Sendable {
        /// Every hop sequence traffic can follow (up to the limit).
        public var branches: [ForwardingBranch]
        /// Whether more branches exist than were listed.
        public var truncated: Bool
    }

    /// Simulates SRv6 forwarding of a segment list pushed at `ingress`: for each SID, traffic
    /// follows every IGP shortest path (ECMP) to the SID's owner, and an End.X SID then crosses
    /// its link. Returns every resulting hop sequence.
    ///
    /// ```swift
    /// enc.simulate(from: r1, segments: [nodeSID(r2)]).branches.count   // 3 on the diamond
    /// ```
    /// - Parameters:
    ///   - ingress: The node that pushes the list.
    ///   - segments: The list, first SID first.
    ///   - limit: The most branches to list.
    /// - Complexity: one Dijkstra (stopped at the SID's owner) per segment, plus the branches.
    public func simulate(from ingress: Int, segments: [Segment], limit: Int = 64) -> Simulation {
        var branches = [ForwardingBranch(nodes: [ingress], links: [])]
        var truncated = false
        for seg in segments {
            let target = seg.node
            let here = branches[0].nodes.last!
            var pieces: [[Int]] = [[]]
            if here != target {
                spf.run(from: here, target: target)
                let r = spf.allShortestPaths(to: target, limit: limit)
                if r.paths.isEmpty { return Simulation(branches: [], truncated: false) }
                pieces = r.paths
                truncated = truncated || r.truncated
            }
            var next: [ForwardingBranch] = []
            for b in branches {
                for arcs in pieces {
                    var nb = b
                    for a in arcs {
                        nb.nodes.append(Int(graph.arcHead[a]))
                        nb.links.append(Int(graph.arcLink[a]))
                    }
                    if seg.kind == .adjacency, let l = seg.link {
                        nb.nodes.append(topology.links[l].otherEnd(from: target))
                        nb.links.append(l)
                    }
                    next.append(nb)
                    if next.count >= limit { truncated = truncated || next.count < branches.count * pieces.count; break }
                }
                if next.count >= limit { break }
            }
            branches = next
        }
        return Simulation(branches: branches, truncated: truncated)
    }
}

extension Array where Element == Segment {
    /// The SIDs of every segment but the last (the final destination), in path order.
    public var waypoints: [IPv6Address] { dropLast().map(\.sid) }
}

