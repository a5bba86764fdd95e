/// Re-planning around a failure: the path that replaces one that stopped working, chosen to stay
/// disjoint from the paths that still work (`srte open --keep`, `srte experiment --fail`).
extension DisjointPathPlanner {
    /// A path planned to replace a failed one.
    public struct Replacement: Sendable, Hashable {
        /// The new path, from the same source to the same destination.
        public var path: PlannedPath
        /// Whether it is disjoint (in the mode asked for) from every surviving path. When no
        /// disjoint path is left, the cheapest path that avoids the failed links is returned
        /// and this is false: it shares capacity with a surviving path.
        public var disjoint: Bool
    }

    /// The cheapest path from `s` to `t` that avoids every link in `failed` and, if one exists,
    /// is disjoint from all `surviving` paths under `mode` (with the host-gateway rule of
    /// ``plan(from:to:k:disjoint:strict:)-(Int,_,_,_,_)``: a single-homed host's access link is
    /// shared by every path).
    ///
    /// - Parameters:
    ///   - s: Source node index.
    ///   - t: Destination node index.
    ///   - surviving: The paths still in use.
    ///   - failed: Links known or suspected to be down.
    ///   - mode: Link, node or SRLG disjointness from the surviving paths.
    ///   - strict: The literal disjointness rule, access links included.
    /// - Returns: The replacement, or nil when every path from `s` to `t` crosses a failed link.
    /// - Complexity: at most two Dijkstra runs, O((n + m) log n).
    public func replacement(from s: Int, to t: Int, surviving: [PlannedPath], avoiding failed: Set<Int>,
                            disjoint mode: Disjointness = .link, strict: Bool = false) -> Replacement? {
        guard s != t else { return nil }
        let head = strict ? nil : singleHomedGateway(s)
        let tail = strict ? nil : singleHomedGateway(t)
        let s2 = head?.node ?? s, t2 = tail?.node ?? t
        var shared = Set<Int>()
        if let h = head { shared.insert(h.link) }
        if let tl = tail { shared.insert(tl.link) }
        if !failed.isDisjoint(with: shared) { return nil }

        var conflicts = Set<Int>()
        switch mode {
        case .link:
            for p in surviving { conflicts.formUnion(p.links) }
        case .srlg:
            conflicts.formUnion(linksConflicting(with: surviving))
        case .node:
            let ends: Set<Int> = [s, t, s2, t2]
            var interior = Set<Int>()
            for p in surviving {
                conflicts.formUnion(p.links)
                interior.formUnion(p.nodes.filter { !ends.contains($0) })
            }
            for (i, l) in topology.links.enumerated() where interior.contains(l.a) || interior.contains(l.b) {
                conflicts.insert(i)
            }
        }
        conflicts.subtract(shared)

        func cheapest(avoiding blocked: Set<Int>) -> PlannedPath? {
            if s2 == t2 { return PlannedPath(nodes: [s2], links: [], cost: 0) }
            return ssp(network: linkNetwork(), s: s2, t: t2, k: 1, nodeSplit: false, disabledLinks: Array(blocked)).first
        }
        var isDisjoint = true
        var core = cheapest(avoiding: failed.union(conflicts))
        if core == nil {
            isDisjoint = false
            core = cheapest(avoiding: failed)
        }
        guard var p = core else { return nil }
        if let h = head { p.nodes.insert(s, at: 0); p.links.insert(h.link, at: 0) }
        if let tl = tail { p.nodes.append(t); p.links.append(tl.link) }
        p.cost = p.links.reduce(0) { $0 + metric.weight(of: topology.links[$1]) }
        return Replacement(path: p, disjoint: isDisjoint)
    }
}
