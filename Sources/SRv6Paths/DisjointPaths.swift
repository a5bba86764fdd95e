import HeapModule

/// How planned paths may overlap.
public enum Disjointness: String, Sendable, Hashable, CaseIterable {
    /// No link is used by two paths.
    case link
    /// No node other than the two endpoints is used by two paths (implies link-disjoint).
    case node
    /// No two paths use links of a common shared risk link group (implies link-disjoint).
    case srlg
}

/// One planned path.
public struct PlannedPath: Sendable, Hashable {
    /// Node indices from the source to the destination.
    public var nodes: [Int]
    /// Link indices, `links[i]` joins `nodes[i]` and `nodes[i + 1]`.
    public var links: [Int]
    /// The path's cost under the planning metric.
    public var cost: Int

    /// Creates a path.
    public init(nodes: [Int], links: [Int], cost: Int) {
        self.nodes = nodes
        self.links = links
        self.cost = cost
    }
}

/// The result of a planning request.
public struct DisjointPathPlan: Sendable {
    /// The requested number of paths.
    public var requested: Int
    /// The paths found, cheapest first.
    public var paths: [PlannedPath]
    /// The sum of the paths' costs.
    public var totalCost: Int { paths.reduce(0) { $0 + $1.cost } }
    /// Why fewer than `requested` paths were found, or which relaxation applied; `nil` when
    /// there is nothing to say.
    public var notes: [String] = []
    /// Whether the result is known to be minimum-cost (always for link and node modes).
    public var optimal: Bool = true
}

/// Plans k disjoint paths of minimum total cost between two nodes.
///
/// Link and node modes are exact: successive shortest paths with Johnson potentials on the
/// residual graph (Suurballe for k = 2, Suurballe–Tarjan/Bhandari for larger k); node mode runs
/// on a node-split graph (`v_in → v_out`, capacity 1). SRLG mode is a documented heuristic
/// (see `Docs/Planner.md`) that never returns two paths sharing an SRLG. Hosts are never
/// transit.
///
/// Build one planner per topology and metric and reuse it: the residual networks are built
/// once (lazily, per mode) and each request only touches what it explores.
///
/// ```swift
/// let planner = DisjointPathPlanner(topology: diamond, metric: .igp)
/// let plan = try planner.plan(from: "h1", to: "h2", k: 3, disjoint: .node)
/// plan.paths.count    // 3
/// plan.totalCost      // 150 on topologies/diamond.yaml
/// ```
public final class DisjointPathPlanner {
    /// The topology planned on.
    public let topology: Topology
    /// The metric minimised.
    public let metric: PathMetric
    /// The CSR graph of the topology under `metric`.
    public let graph: Graph
    private var linkNet: ResidualNetwork?
    private var nodeNet: ResidualNetwork?

    /// Prepares a planner.
    /// - Complexity: O(n + m).
    public init(topology: Topology, metric: PathMetric) {
        self.topology = topology
        self.metric = metric
        self.graph = Graph(topology: topology, metric: metric)
    }

    /// A request that cannot be planned at all.
    public struct PlanError: Error, Hashable, Sendable, CustomStringConvertible {
        /// What is wrong.
        public var message: String
        public var description: String { message }
    }

    /// Plans by node name; see ``plan(from:to:k:disjoint:strict:)-(Int,_,_,_,_)``.
    public func plan(from: String, to: String, k: Int, disjoint: Disjointness = .link,
                     strict: Bool = false) throws(PlanError) -> DisjointPathPlan {
        guard let s = topology.index(of: from) else { throw PlanError(message: "unknown node '\(from)'") }
        guard let t = topology.index(of: to) else { throw PlanError(message: "unknown node '\(to)'") }
        return try plan(from: s, to: t, k: k, disjoint: disjoint, strict: strict)
    }

    /// Plans up to `k` pairwise-disjoint paths from `s` to `t` with minimum total cost.
    ///
    /// Host-gateway rule: a host with a single link shares that link and its gateway router
    /// with every path, so unless `strict` is set, disjointness applies beyond the gateway (the
    /// paths are planned from/to the gateway and the access link is prepended/appended). With
    /// `strict`, the literal definition applies and such a host gets one path.
    ///
    /// - Parameters:
    ///   - s: Source node index.
    ///   - t: Destination node index.
    ///   - k: Number of paths wanted, ≥ 1.
    ///   - disjoint: Link, node or SRLG disjointness.
    ///   - strict: Apply disjointness literally, even to single-homed hosts' access links.
    /// - Returns: Up to `k` paths, cheapest first, with notes when fewer exist. An empty path
    ///   list means `t` is unreachable.
    /// - Throws: ``PlanError`` for `s == t` or `k < 1`.
    /// - Complexity: O(k (n + m) log n) for link and node modes: one Dijkstra per path, each
    ///   stopped once `t` is settled; SRLG mode runs at most `k + 1` such rounds plus a greedy
    ///   fallback.
    public func plan(from s: Int, to t: Int, k: Int, disjoint: Disjointness = .link,
                     strict: Bool = false) throws(PlanError) -> DisjointPathPlan {
        guard k >= 1 else { throw PlanError(message: "k must be at least 1, got \(k)") }
        guard s != t else { throw PlanError(message: "source and destination are the same node '\(topology.nodes[s].name)'") }
        var notes: [String] = []
        // Host-gateway rule.
        var head: (node: Int, link: Int)? = nil
        var tail: (node: Int, link: Int)? = nil
        var s2 = s, t2 = t
        if !strict {
            if let g = singleHomedGateway(s) {
                head = (s, g.link); s2 = g.node
                notes.append("\(topology.nodes[s].name) is single-homed: all paths share its link to \(topology.nodes[g.node].name); disjointness applies beyond it (--strict for the literal rule)")
            }
            if let g = singleHomedGateway(t) {
                tail = (t, g.link); t2 = g.node
                notes.append("\(topology.nodes[t].name) is single-homed: all paths share its link to \(topology.nodes[g.node].name); disjointness applies beyond it (--strict for the literal rule)")
            }
        }
        var core: [PlannedPath]
        var optimal = true
        if s2 == t2 {
            // Both ends behind the same gateway (or one is the other's gateway): one path.
            core = [PlannedPath(nodes: [s2], links: [], cost: 0)]
            if k > 1 {
                let g = topology.nodes[s2].name
                notes.append(s2 == s || s2 == t ? "\(g) is the other endpoint's only gateway: only one path exists"
                                                : "both endpoints sit behind \(g): only one path exists")
            }
        } else {
            switch disjoint {
            case .link: core = ssp(network: linkNetwork(), s: s2, t: t2, k: k, nodeSplit: false)
            case .node: core = ssp(network: nodeNetwork(), s: s2, t: t2, k: k, nodeSplit: true)
            case .srlg:
                let r = srlgPlan(s: s2, t: t2, k: k)
                core = r.paths
                optimal = r.optimal
                if !r.optimal { notes.append("SRLG mode: heuristic result (the min-cost link-disjoint paths shared an SRLG)") }
            }
        }
        var paths: [PlannedPath] = []
        for var p in core {
            if let h = head, p.nodes.first != h.node {
                p.nodes.insert(h.node, at: 0); p.links.insert(h.link, at: 0)
            }
            if let tl = tail, p.nodes.last != tl.node {
                p.nodes.append(tl.node); p.links.append(tl.link)
            }
            p.cost = p.links.reduce(0) { $0 + metric.weight(of: topology.links[$1]) }
            paths.append(p)
        }
        paths.sort { x, y in
            if x.cost != y.cost { return x.cost < y.cost }
            if x.nodes.count != y.nodes.count { return x.nodes.count < y.nodes.count }
            return x.nodes.lexicographicallyPrecedes(y.nodes)
        }
        let sn = topology.nodes[s].name, tn = topology.nodes[t].name
        if paths.isEmpty {
            notes.append("no path from \(sn) to \(tn)")
        } else if paths.count < k {
            let what = disjoint == .node ? "node-disjoint" : disjoint == .link ? "link-disjoint" : "SRLG-disjoint"
            let unit = (disjoint == .node ? "node" : "link") + (paths.count == 1 ? "" : "s")
            let proof = disjoint == .srlg ? "that is what the heuristic found"
                : "no more exist (removing \(paths.count) \(unit) disconnects them)"
            notes.append("only \(paths.count) \(what) path\(paths.count == 1 ? "" : "s") from \(sn) to \(tn): \(proof)")
        }
        return DisjointPathPlan(requested: k, paths: paths, notes: notes, optimal: optimal)
    }

    /// The gateway of a host that has exactly one link.
    func singleHomedGateway(_ v: Int) -> (node: Int, link: Int)? {
        guard topology.nodes[v].kind == .host else { return nil }
        let a = Int(graph.arcStart[v]), b = Int(graph.arcStart[v + 1])
        guard b - a == 1 else { return nil }
        return (Int(graph.arcHead[a]), Int(graph.arcLink[a]))
    }

    func linkNetwork() -> ResidualNetwork {
        if let n = linkNet { return n }
        let n = ResidualNetwork(graph: graph, nodeSplit: false)
        linkNet = n
        return n
    }

    func nodeNetwork() -> ResidualNetwork {
        if let n = nodeNet { return n }
        let n = ResidualNetwork(graph: graph, nodeSplit: true)
        nodeNet = n
        return n
    }

    /// Successive shortest paths on a residual network; returns paths in topology terms.
    func ssp(network net: ResidualNetwork, s: Int, t: Int, k: Int, nodeSplit: Bool,
             disabledLinks: [Int] = []) -> [PlannedPath] {
        net.disable(links: disabledLinks)
        defer { net.reset() }
        let S = net.sourceNode(s), T = net.targetNode(t)
        var found = 0
        while found < k, net.shortestPath(from: S, to: T) {
            net.augment(from: S, to: T)
            found += 1
        }
        return net.decompose(s: s, t: t).map { p in
            PlannedPath(nodes: p.nodes, links: p.links,
                        cost: p.links.reduce(0) { $0 + metric.weight(of: topology.links[$1]) })
        }
    }

    // MARK: - SRLG mode

    /// SRLG heuristic: (1) the min-cost link-disjoint set, returned as optimal if SRLG-disjoint;
    /// (2) otherwise keep a maximal conflict-free subset (cheapest first), remove every link
    /// sharing an SRLG with the kept paths and plan the rest on what remains, repeatedly;
    /// (3) also try greedy one-at-a-time shortest paths; return the better valid set.
    func srlgPlan(s: Int, t: Int, k: Int) -> (paths: [PlannedPath], optimal: Bool) {
        let net = linkNetwork()
        var base = ssp(network: net, s: s, t: t, k: k, nodeSplit: false)
        base.sort { $0.cost < $1.cost }
        if srlgConflictFree(base) { return (base, true) }
        // (2) iterative repair.
        var best: [PlannedPath] = []
        var kept: [PlannedPath] = []
        for p in base where srlgConflictFree(kept + [p]) { kept.append(p) }
        var rounds = 0
        while kept.count < k && rounds <= k {
            rounds += 1
            let blocked = linksConflicting(with: kept)
            var more = ssp(network: net, s: s, t: t, k: k - kept.count, nodeSplit: false, disabledLinks: blocked)
            more.sort { $0.cost < $1.cost }
            var added = false
            for p in more where srlgConflictFree(kept + [p]) { kept.append(p); added = true }
            if !added { break }
        }
        best = kept
        // (3) greedy sequential shortest paths.
        var greedy: [PlannedPath] = []
        while greedy.count < k {
            let blocked = linksConflicting(with: greedy)
            guard let p = ssp(network: net, s: s, t: t, k: 1, nodeSplit: false, disabledLinks: blocked).first else { break }
            greedy.append(p)
        }
        let cost = { (ps: [PlannedPath]) in ps.reduce(0) { $0 + $1.cost } }
        if greedy.count > best.count || (greedy.count == best.count && cost(greedy) < cost(best)) { best = greedy }
        return (best, false)
    }

    /// Whether no two paths share a link or an SRLG.
    public func srlgConflictFree(_ paths: [PlannedPath]) -> Bool {
        var seenLinks = Set<Int>(), seenGroups = Set<String>()
        for p in paths {
            var mineGroups = Set<String>()
            for l in p.links {
                if !seenLinks.insert(l).inserted { return false }
                for g in topology.links[l].srlgs { mineGroups.insert(g) }
            }
            if !seenGroups.isDisjoint(with: mineGroups) { return false }
            seenGroups.formUnion(mineGroups)
        }
        return true
    }

    /// Links used by `paths` or sharing an SRLG with them.
    func linksConflicting(with paths: [PlannedPath]) -> [Int] {
        var groups = Set<String>()
        var out = Set<Int>()
        for p in paths {
            for l in p.links { out.insert(l); groups.formUnion(topology.links[l].srlgs) }
        }
        if !groups.isEmpty {
            for (i, l) in topology.links.enumerated() where !groups.isDisjoint(with: l.srlgs) { out.insert(i) }
        }
        return Array(out)
    }
}

/// A static residual network in CSR form for successive shortest paths, with unit capacities.
///
/// Link mode: one node per topology node; each link gives two forward arcs (u→v, v→u, capacity
/// 1, cost w) and their reverse residual arcs (capacity 0, cost −w). Node mode: node v becomes
/// `v_in`, `v_out` joined by a capacity-1 arc; link arcs run `u_out → v_in`. Nodes are
/// renumbered in BFS order for memory locality. All per-request state is undone by `reset()`
/// in time proportional to what the request touched.
final class ResidualNetwork {
    let nodeSplit: Bool
    let n: Int                  // flow nodes
    let start: [Int32]          // CSR offsets, n + 1
    var cap: [Int8]
    let rev: [Int32]
    let link: [Int32]           // topology link, -1 for split arcs
    let isReverse: [Bool]
    let expand: [Bool]          // whether Dijkstra may leave this node (hosts: no)
    let order: [Int32]          // topology node -> renumbered node
    let unorder: [Int32]        // renumbered node -> topology node
    let topoLinkEnds: [(Int32, Int32)]

    /// Per-node search state, kept together so one cache line serves a node.
    struct NodeState {
        var dist: Int64 = 0
        var pi: Int64 = 0
        var parent: Int32 = -1
        var stamp: UInt32 = 0      // dist valid when == epoch
        var done: UInt32 = 0       // settled when == epoch
        var piDirty = false
    }
    /// Head and cost of each arc side by side (the Dijkstra inner loop reads both).
    struct ArcEntry {
        var head: Int32
        var cost: Int32
    }
    let arcs: [ArcEntry]

    // Workspace.
    var state: [NodeState]
    var epoch: UInt32 = 0
    var heap = Heap<UInt64>()
    var settled: [Int32] = []
    var piTouched: [Int32] = []
    var usedArcs: [Int32] = []
    var disabledArcs: [Int32] = []

    init(graph g: Graph, nodeSplit: Bool) {
        self.nodeSplit = nodeSplit
        let nv = g.nodeCount
        // BFS renumbering (all components).
        var order = [Int32](repeating: -1, count: nv)
        var unorder = [Int32](repeating: 0, count: nv)
        var next: Int32 = 0
        var queue = [Int32](repeating: 0, count: nv)
        for r in 0..<nv where order[r] < 0 {
            var qh = 0, qt = 0
            queue[qt] = Int32(r); qt += 1
            order[r] = next; unorder[Int(next)] = Int32(r); next += 1
            while qh < qt {
                let u = Int(queue[qh]); qh += 1
                for a in Int(g.arcStart[u])..<Int(g.arcStart[u + 1]) {
                    let v = Int(g.arcHead[a])
                    if order[v] < 0 {
                        order[v] = next; unorder[Int(next)] = Int32(v); next += 1
                        queue[qt] = Int32(v); qt += 1
                    }
                }
            }
        }
        self.order = order
        self.unorder = unorder
        var ends: [(Int32, Int32)] = Array(repeating: (0, 0), count: g.arcCount / 2)
        for u in 0..<nv {
            for a in Int(g.arcStart[u])..<Int(g.arcStart[u + 1]) where u < Int(g.arcHead[a]) {
                ends[Int(g.arcLink[a])] = (Int32(u), g.arcHead[a])
            }
        }
        topoLinkEnds = ends

        let n = nodeSplit ? 2 * nv : nv
        self.n = n
        // Count arcs per flow node. Each topology arc u→v gives a forward arc at from(u) and a
        // reverse arc at to(v). Node mode adds v_in→v_out and its reverse at v_out.
        func fromNode(_ u: Int) -> Int { nodeSplit ? 2 * Int(order[u]) + 1 : Int(order[u]) }
        func toNode(_ v: Int) -> Int { nodeSplit ? 2 * Int(order[v]) : Int(order[v]) }
        var deg = [Int32](repeating: 0, count: n + 1)
        for u in 0..<nv {
            for a in Int(g.arcStart[u])..<Int(g.arcStart[u + 1]) {
                deg[fromNode(u) + 1] += 1
                deg[toNode(Int(g.arcHead[a])) + 1] += 1
            }
            if nodeSplit { deg[2 * Int(order[u]) + 1] += 1; deg[2 * Int(order[u]) + 2] += 1 }
        }
        for i in 0..<n { deg[i + 1] += deg[i] }
        let total = Int(deg[n])
        var fill = deg
        var head = [Int32](repeating: 0, count: total)
        var cost = [Int64](repeating: 0, count: total)
        var cap = [Int8](repeating: 0, count: total)
        var rev = [Int32](repeating: 0, count: total)
        var link = [Int32](repeating: -1, count: total)
        var isRev = [Bool](repeating: false, count: total)
        func add(_ x: Int, _ y: Int, _ c: Int64, _ l: Int32) {
            let f = Int(fill[x]); fill[x] += 1
            let r = Int(fill[y]); fill[y] += 1
            head[f] = Int32(y); cost[f] = c; cap[f] = 1; rev[f] = Int32(r); link[f] = l
            head[r] = Int32(x); cost[r] = -c; cap[r] = 0; rev[r] = Int32(f); link[r] = l; isRev[r] = true
        }
        // Split arcs first, so each v_in's split arc is the first arc of its list.
        if nodeSplit { for nu in 0..<nv { add(2 * nu, 2 * nu + 1, 0, -1) } }
        // Insert in renumbered order for locality of each node's arc list.
        for nu in 0..<nv {
            let u = Int(unorder[nu])
            for a in Int(g.arcStart[u])..<Int(g.arcStart[u + 1]) {
                add(fromNode(u), toNode(Int(g.arcHead[a])), g.arcWeight[a], g.arcLink[a])
            }
        }
        self.start = deg
        self.cap = cap
        self.rev = rev
        self.link = link
        self.isReverse = isRev
        var expand = [Bool](repeating: true, count: n)
        for v in 0..<nv where !g.transit[v] {
            if nodeSplit { expand[2 * Int(order[v])] = false } else { expand[Int(order[v])] = false }
        }
        self.expand = expand
        precondition(cost.allSatisfy { abs($0) < Int64(Int32.max) }, "link weights must be below 2^31")
        arcs = (0..<total).map { ArcEntry(head: head[$0], cost: Int32(cost[$0])) }
        state = [NodeState](repeating: NodeState(), count: n)
    }

    func sourceNode(_ s: Int) -> Int { nodeSplit ? 2 * Int(order[s]) + 1 : Int(order[s]) }
    func targetNode(_ t: Int) -> Int { nodeSplit ? 2 * Int(order[t]) : Int(order[t]) }

    /// Sets the capacity of both forward arcs of each link to 0 until `reset()`.
    func disable(links: [Int]) {
        guard !links.isEmpty else { return }
        let set = Set(links.map { Int32($0) })
        for l in links {
            let (a, b) = topoLinkEnds[l]
            for u in [a, b] {
                let x = nodeSplit ? 2 * Int(order[Int(u)]) + 1 : Int(order[Int(u)])
                for arc in Int(start[x])..<Int(start[x + 1]) where !isReverse[arc] && set.contains(link[arc]) && cap[arc] > 0 {
                    cap[arc] = 0
                    disabledArcs.append(Int32(arc))
                }
            }
        }
    }

    /// Dijkstra on reduced costs from S, stopped once T is settled; updates the potentials.
    /// Returns false when T is unreachable.
    func shortestPath(from S: Int, to T: Int) -> Bool {
        epoch &+= 1
        if epoch == 0 {
            for i in state.indices { state[i].stamp = 0; state[i].done = 0 }
            epoch = 1
        }
        let ep = epoch
        settled.removeAll(keepingCapacity: true)
        heap.removeAll(where: { _ in true })
        var reached = false
        let split = nodeSplit
        state.withUnsafeMutableBufferPointer { st in
        start.withUnsafeBufferPointer { start in
        arcs.withUnsafeBufferPointer { arcs in
        cap.withUnsafeBufferPointer { cap in
        expand.withUnsafeBufferPointer { expand in
            st[S].dist = 0
            st[S].stamp = ep
            st[S].parent = -1
            heap.insert(UInt64(S))
            while let top = heap.popMin() {
                let d = Int64(top >> 24)
                let u = Int(top & 0xff_ffff)
                if st[u].done == ep || d != st[u].dist { continue }
                st[u].done = ep
                settled.append(Int32(u))
                if u == T { reached = true; break }
                if !expand[u] && u != S { continue }
                var x = u
                if split && u & 1 == 0 && cap[Int(start[u])] > 0 {
                    // v_in of a node no path uses yet: its only usable arc is the split arc, and
                    // v_out is reachable only through it. When the split arc's reduced cost is 0
                    // (potentials of unused v_in and v_out stay equal), settle v_out at once and
                    // expand it instead: one heap operation per node instead of two.
                    let w = u + 1
                    if st[u].pi == st[w].pi && st[w].done != ep {
                        st[w].stamp = ep
                        st[w].dist = d
                        st[w].parent = start[u]
                        st[w].done = ep
                        settled.append(Int32(w))
                        x = w
                    }
                }
                let base = d + st[x].pi
                for a in Int(start[x])..<Int(start[x + 1]) where cap[a] > 0 {
                    let arc = arcs[a]
                    let v = Int(arc.head)
                    // Reduced costs are ≥ 0, so a settled v never improves: no separate check.
                    let nd = base + Int64(arc.cost) - st[v].pi
                    if st[v].stamp != ep || nd < st[v].dist {
                        st[v].stamp = ep
                        st[v].dist = nd
                        st[v].parent = Int32(a)
                        heap.insert(UInt64(nd) << 24 | UInt64(v))
                    }
                }
            }
            guard reached else { return }
            // pi(v) += min(d(v), d(T)) - d(T): only settled nodes change.
            let dT = st[T].dist
            for x in settled {
                let v = Int(x)
                let delta = st[v].dist - dT
                if delta != 0 {
                    st[v].pi += delta
                    if !st[v].piDirty { st[v].piDirty = true; piTouched.append(x) }
                }
            }
        }}}}}
        return reached
    }

    /// Pushes one unit of flow along the parent arcs from T back to S.
    func augment(from S: Int, to T: Int) {
        var v = T
        while v != S {
            let a = Int(state[v].parent)
            cap[a] -= 1
            cap[Int(rev[a])] += 1
            usedArcs.append(Int32(a))
            v = Int(arcs[Int(rev[a])].head)
        }
    }

    /// Splits the flow into paths (topology node and link indices), dropping flow cycles and
    /// cancelling opposite flows on one link.
    func decompose(s: Int, t: Int) -> [(nodes: [Int], links: [Int])] {
        // Forward arcs carrying flow.
        var flowArcs = Set<Int32>()
        for a32 in usedArcs {
            let a = Int(a32)
            let f = isReverse[a] ? Int(rev[a]) : a
            if cap[f] == 0 && link[f] >= 0 { flowArcs.insert(Int32(f)) }
        }
        // Successors in topology terms: node -> [(next, link)].
        var succ: [Int: [(Int, Int)]] = [:]
        var byLinkDir = Set<Int64>()
        var moves: [(Int, Int, Int)] = []
        for f32 in flowArcs {
            let f = Int(f32)
            let x = Int(arcs[Int(rev[f])].head), y = Int(arcs[f].head)
            let u = Int(unorder[nodeSplit ? x / 2 : x]), v = Int(unorder[nodeSplit ? y / 2 : y])
            moves.append((u, v, Int(link[f])))
            byLinkDir.insert(Int64(link[f]) << 1 | (u < v ? 0 : 1))
        }
        for (u, v, l) in moves {
            // Cancel u→v against v→u on the same link (possible only with zero-cost ties).
            if byLinkDir.contains(Int64(l) << 1 | (u < v ? 1 : 0)) { continue }
            succ[u, default: []].append((v, l))
        }
        var paths: [(nodes: [Int], links: [Int])] = []
        while let out = succ[s], !out.isEmpty {
            var nodes = [s], links: [Int] = []
            var pos: [Int: Int] = [s: 0]
            var v = s
            var ok = true
            while v != t {
                guard var list = succ[v], let (nxt, l) = list.popLast() else { ok = false; break }
                succ[v] = list
                if let p = pos[nxt] {
                    for x in nodes[(p + 1)...] { pos[x] = nil }
                    nodes.removeSubrange((p + 1)...)
                    links.removeSubrange(p...)
                    v = nxt
                    continue
                }
                pos[nxt] = nodes.count
                nodes.append(nxt)
                links.append(l)
                v = nxt
            }
            if !ok { break }
            paths.append((nodes, links))
        }
        return paths
    }

    /// Undoes a request: capacities, potentials, disabled arcs.
    func reset() {
        for a32 in usedArcs {
            let a = Int(a32)
            let f = isReverse[a] ? Int(rev[a]) : a
            cap[f] = 1
            cap[Int(rev[f])] = 0
        }
        usedArcs.removeAll(keepingCapacity: true)
        for a in disabledArcs { cap[Int(a)] = 1 }
        disabledArcs.removeAll(keepingCapacity: true)
        for x in piTouched { state[Int(x)].pi = 0; state[Int(x)].piDirty = false }
        piTouched.removeAll(keepingCapacity: true)
    }
}
