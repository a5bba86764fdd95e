import HeapModule

/// Which link attribute a computation minimises.
public enum PathMetric: String, Sendable, Hashable, CaseIterable {
    /// The IGP metric (`metric`).
    case igp
    /// The traffic-engineering metric (`te-metric`, defaults to the IGP metric).
    case te
    /// The one-way delay, in microseconds.
    case delay

    /// The weight of `link` under this metric.
    @inlinable
    public func weight(of link: Topology.Link) -> Int {
        switch self {
        case .igp: return link.metric
        case .te: return link.teMetric
        case .delay: return link.delay
        }
    }
}

/// An undirected graph in compressed sparse row (CSR) form: each undirected link becomes two
/// arcs, and the arcs leaving node `v` are `arcStart[v] ..< arcStart[v + 1]`.
///
/// ```swift
/// let g = Graph(topology: diamond, metric: .igp)
/// g.nodeCount      // 7
/// g.arcCount       // 16 (2 per link)
/// ```
public struct Graph: Sendable {
    /// Number of nodes (indices `0 ..< nodeCount`, the topology's node indices).
    public let nodeCount: Int
    /// `arcStart[v] ..< arcStart[v + 1]` are the arcs leaving `v`; `nodeCount + 1` entries.
    public let arcStart: [Int32]
    /// The node each arc enters.
    public let arcHead: [Int32]
    /// The topology link each arc runs over.
    public let arcLink: [Int32]
    /// The weight of each arc (the link's weight under the chosen metric).
    public let arcWeight: [Int64]
    /// Whether each node may forward transit traffic (routers yes, hosts no).
    public let transit: [Bool]

    /// The number of arcs (twice the number of links).
    public var arcCount: Int { arcHead.count }

    /// Builds the CSR graph of a topology under a metric.
    /// - Complexity: O(n + m).
    public init(topology: Topology, metric: PathMetric) {
        let n = topology.nodes.count
        var ends: [(Int, Int, Int)] = []
        ends.reserveCapacity(topology.links.count)
        for l in topology.links { ends.append((l.a, l.b, metric.weight(of: l))) }
        self.init(nodeCount: n, links: ends, transit: topology.nodes.map { $0.kind == .router })
    }

    /// Builds a CSR graph from undirected links `(a, b, weight)`; link `i` is `links[i]`.
    /// - Complexity: O(n + m).
    public init(nodeCount n: Int, links: [(Int, Int, Int)], transit: [Bool]? = nil) {
        precondition(n < 1 << 24, "at most 16M nodes")
        var deg = [Int32](repeating: 0, count: n + 1)
        for (a, b, _) in links { deg[a + 1] += 1; deg[b + 1] += 1 }
        for v in 0..<n { deg[v + 1] += deg[v] }
        var fill = deg
        let m2 = links.count * 2
        var head = [Int32](repeating: 0, count: m2)
        var link = [Int32](repeating: 0, count: m2)
        var w = [Int64](repeating: 0, count: m2)
        for (i, (a, b, weight)) in links.enumerated() {
            var p = Int(fill[a]); fill[a] += 1
            head[p] = Int32(b); link[p] = Int32(i); w[p] = Int64(weight)
            p = Int(fill[b]); fill[b] += 1
            head[p] = Int32(a); link[p] = Int32(i); w[p] = Int64(weight)
        }
        nodeCount = n
        arcStart = deg
        arcHead = head
        arcLink = link
        arcWeight = w
        self.transit = transit ?? [Bool](repeating: true, count: n)
    }
}

/// Single-source shortest paths with equal-cost multipath (ECMP) bookkeeping: distances, the
/// number of shortest paths to each node (saturating), and every shortest-path predecessor.
///
/// Arrays are sized once and reused across runs (an epoch stamp marks valid entries), so a run
/// that stops early costs only what it explores.
///
/// ```swift
/// let spf = ShortestPaths(graph: g)
/// spf.run(from: r1)
/// spf.distance(to: r2)       // 20
/// spf.pathCount(to: r2)      // 3 (via a, b and c)
/// ```
public final class ShortestPaths {
    /// The graph searched.
    public let graph: Graph
    /// Per-node state side by side (one cache line per node in the inner loop).
    struct NodeState {
        var dist: Int64 = 0
        var count: Int = 0
        var stamp: UInt32 = 0     // dist valid when == epoch
        var done: UInt32 = 0      // settled when == epoch
    }
    struct ArcEntry {
        var head: Int32
        var weight: Int32
    }
    private var state: [NodeState]
    private let arcs: [ArcEntry]
    private var epoch: UInt32 = 0
    private var heap = Heap<UInt64>()
    /// The source of the last run.
    public private(set) var source = -1
    /// Nodes settled by the last run, in order.
    public private(set) var settled: [Int32] = []

    /// Creates a reusable search over `graph`.
    public init(graph: Graph) {
        self.graph = graph
        state = [NodeState](repeating: NodeState(), count: graph.nodeCount)
        precondition(graph.arcWeight.allSatisfy { $0 >= 1 && $0 < Int64(Int32.max) }, "arc weights must be in 1..<2^31")
        arcs = (0..<graph.arcCount).map { ArcEntry(head: graph.arcHead[$0], weight: Int32(graph.arcWeight[$0])) }
    }

    /// Runs Dijkstra from `source`, counting shortest paths. Non-transit nodes (hosts) other
    /// than the source are reached but not expanded.
    ///
    /// - Parameters:
    ///   - source: The start node.
    ///   - target: If given, stop once it and every node at the same distance are settled
    ///     (its distance, count and predecessors are then final).
    ///   - radius: If given, stop before settling nodes farther than this.
    /// - Complexity: O((n' + m') log n') for the n' nodes and m' arcs explored.
    public func run(from source: Int, target: Int? = nil, radius: Int64? = nil) {
        start(from: source)
        advance(target: target, radius: radius)
    }

    /// Starts a search from `source` without settling anything; continue with
    /// ``advance(target:radius:)``.
    public func start(from source: Int) {
        epoch &+= 1
        if epoch == 0 {
            for i in state.indices { state[i].stamp = 0; state[i].done = 0 }
            epoch = 1
        }
        self.source = source
        stopAt = Int64.max
        settled.removeAll(keepingCapacity: true)
        heap.removeAll(where: { _ in true })
        state[source].dist = 0
        state[source].count = 1
        state[source].stamp = epoch
        heap.insert(UInt64(source))
    }

    private var stopAt = Int64.max

    /// Continues the current search: settles nodes up to distance `radius` (all if `nil`),
    /// stopping early once `target` and every node at its distance are settled. Calling it
    /// again with a larger radius resumes where it stopped.
    ///
    /// - Complexity: O((n' + m') log n') for the nodes and arcs newly explored.
    public func advance(target: Int? = nil, radius: Int64? = nil) {
        let ep = epoch
        let limit = radius ?? Int64.max
        let source = self.source
        var stopAt = self.stopAt
        let g = graph
        state.withUnsafeMutableBufferPointer { st in
        g.arcStart.withUnsafeBufferPointer { start in
        arcs.withUnsafeBufferPointer { arcs in
        g.transit.withUnsafeBufferPointer { transit in
            while let top = heap.min {
                let d = Int64(top >> 24)
                if d > limit || d > stopAt { break }
                _ = heap.popMin()
                let u = Int(top & 0xff_ffff)
                if st[u].done == ep || d != st[u].dist { continue }
                st[u].done = ep
                settled.append(Int32(u))
                if u == target { stopAt = d }
                if u != source && !transit[u] { continue }
                let cu = st[u].count
                for a in Int(start[u])..<Int(start[u + 1]) {
                    let arc = arcs[a]
                    let v = Int(arc.head)
                    let nd = d + Int64(arc.weight)
                    if st[v].stamp != ep || nd < st[v].dist {
                        st[v].stamp = ep
                        st[v].dist = nd
                        st[v].count = cu
                        heap.insert(UInt64(nd) << 24 | UInt64(v))
                    } else if nd == st[v].dist && st[v].done != ep {
                        let (s, o) = st[v].count.addingReportingOverflow(cu)
                        st[v].count = o ? Int.max : s
                    }
                }
            }
        }}}}
        self.stopAt = stopAt
    }

    /// Whether `v` was settled by the last run (its distance and count are final).
    public func isSettled(_ v: Int) -> Bool { state[v].done == epoch }

    /// The shortest distance from the source to `v`, if settled.
    public func distance(to v: Int) -> Int64? { isSettled(v) ? state[v].dist : nil }

    /// The number of distinct shortest paths from the source to `v` (saturating at `Int.max`),
    /// 0 if `v` was not settled.
    public func pathCount(to v: Int) -> Int { isSettled(v) ? state[v].count : 0 }

    /// The arcs `(u → v)` that lie on some shortest path to `v`, as arc indices of `u`.
    ///
    /// - Complexity: O(degree of v).
    public func predecessorArcs(of v: Int) -> [Int] {
        guard isSettled(v), v != source else { return [] }
        var out: [Int] = []
        let g = graph
        for a in Int(g.arcStart[v])..<Int(g.arcStart[v + 1]) {
            let u = Int(g.arcHead[a])
            guard isSettled(u), u == source || g.transit[u] else { continue }
            if state[u].dist + g.arcWeight[a] == state[v].dist {
                // The reverse arc u → v has the same link and weight; find its index.
                let link = g.arcLink[a]
                for b in Int(g.arcStart[u])..<Int(g.arcStart[u + 1]) where g.arcLink[b] == link && Int(g.arcHead[b]) == v {
                    out.append(b)
                    break
                }
            }
        }
        return out
    }

    /// Every shortest path from the source to `target` as a list of arcs, at most `limit` of
    /// them (the ECMP branches traffic can take). Requires a run that settled `target`.
    ///
    /// - Returns: the paths (arc indices), and whether the list was cut at `limit`.
    public func allShortestPaths(to target: Int, limit: Int = 64) -> (paths: [[Int]], truncated: Bool) {
        guard isSettled(target) else { return ([], false) }
        if target == source { return ([[]], false) }
        var out: [[Int]] = []
        var truncated = false
        var stack: [Int] = []
        func walk(_ v: Int) {
            if out.count >= limit { truncated = true; return }
            if v == source { out.append(stack.reversed()); return }
            for a in predecessorArcs(of: v) {
                stack.append(a)
                walk(tailOf(arc: a))
                stack.removeLast()
                if truncated { return }
            }
        }
        walk(target)
        return (out, truncated)
    }

    /// The node an arc leaves.
    public func tailOf(arc a: Int) -> Int {
        // Binary search in arcStart.
        var lo = 0, hi = graph.nodeCount
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            if Int(graph.arcStart[mid]) <= a { lo = mid } else { hi = mid }
        }
        return lo
    }
}
