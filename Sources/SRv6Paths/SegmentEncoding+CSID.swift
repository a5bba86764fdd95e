/// A segment list chosen for the fewest SRH bytes once compressed (RFC 9800 NEXT-C-SID).
public struct CompressedEncoding: Sendable, Hashable {
    /// The segments in path order, as the planner means them (node, adjacency, destination).
    public var segments: [Segment]
    /// The same list compressed: containers and whole SIDs.
    public var list: Topology.CompressedList
    /// Bytes of a full SRH carrying ``list``: 8 + 16 per entry.
    public var srhBytes: Int { 8 + 16 * list.entries.count }
    /// Bytes of a reduced SRH carrying it, when ``Topology/CompressedList/reducible``: 16 fewer.
    public var reducedSRHBytes: Int? { list.reducible ? srhBytes - 16 : nil }
}

extension SegmentEncoder {
    /// The segment list that forces `path` in the fewest SRH bytes once compressed with the
    /// topology's C-SIDs (``Topology/compressed(_:)``), checked by ``verify(_:segments:)``.
    ///
    /// ``encode(_:msd:)`` minimises SIDs; here a SID costs what it adds to the compressed list:
    /// a node SID of a router with C-SIDs is one C-SID (free while the open container has
    /// room), an adjacency SID two (End then End.X), any other SID and the final destination 16
    /// bytes. A SID may stop anywhere along the unique shortest path it covers, not only at its
    /// far end, so a router with C-SIDs can be preferred to one without. Among lists of equal
    /// bytes the one with fewer SIDs, then fewer adjacency SIDs, then later stops wins; without
    /// C-SIDs in the topology that is the list ``encode(_:msd:)`` finds.
    ///
    /// With `reduced`, the list is chosen for a reduced SRH (RFC 8754 §4.1.1): a list whose first
    /// entry is a container sends that entry only as the Destination Address, so it costs one
    /// entry less, and a list that starts with a C-SID can win over one of equal full size that
    /// starts with a whole SID.
    ///
    /// - Parameters:
    ///   - path: a path from the ingress (`path.nodes[0]`) to the destination.
    ///   - msd: the most Segment List entries (containers count once) the ingress can push; the
    ///     full list is checked, also when it will travel reduced.
    ///   - reduced: minimise the bytes of a reduced SRH instead of a full one.
    /// - Throws: ``EncodingError`` as ``encode(_:msd:)``.
    /// - Complexity: that of ``encode(_:msd:)`` times the states of an open container
    ///   (C-SIDs per container × C-SID formats in use).
    public func encodeFewestBytes(_ path: PlannedPath, msd: Int? = nil, reduced: Bool = false) throws(EncodingError) -> CompressedEncoding {
        let p = path.nodes
        let m = p.count - 1
        guard m >= 1 else { throw EncodingError(message: "a path needs at least one hop") }
        let reach = reachFunction(path)

        // Formats in use, numbered; the state's open container is (format number, C-SIDs in it).
        var formats: [CSIDFormat] = []
        func formatIndex(_ f: CSIDFormat) -> Int {
            if let i = formats.firstIndex(of: f) { return i }
            formats.append(f)
            return formats.count - 1
        }
        /// The C-SIDs a node SID (link nil) or adjacency SID of `node` becomes, and their format.
        func csids(node: Int, link: Int?) -> (format: Int, count: Int)? {
            guard let d = topology.csidDomain(ofNode: node), topology.endCSID(ofNode: node) != nil else { return nil }
            if let l = link, topology.adjacencyCSID(link: l, from: node) == nil { return nil }
            return (formatIndex(d.format), link == nil ? 1 : 2)
        }
        struct State: Hashable { var x: Int; var format: Int; var open: Int }
        struct Cost: Comparable {
            var entries: Int, sids: Int, adjacencies: Int
            static func < (a: Cost, b: Cost) -> Bool {
                (a.entries, a.sids, a.adjacencies) < (b.entries, b.sids, b.adjacencies)
            }
        }
        enum Move { case finish, node(Int), adjacency(Int) }
        /// Adds `c` C-SIDs of format `f` to an open container (format `g`, `k` C-SIDs):
        /// the new entries opened and the state after, packed as `Topology.compressed` packs.
        func pack(_ c: Int, _ f: Int, _ g: Int, _ k: Int) -> (added: Int, open: Int) {
            let cap = formats[f].csidsPerContainer
            var added = 0, open = g == f ? k : 0
            for _ in 0..<c {
                if open == 0 || open == cap { added += 1; open = 0 }
                open += 1
            }
            return (added, open)
        }
        var memo: [State: (Cost, Move)?] = [:]
        var failure: EncodingError? = nil
        func best(_ s: State) -> (Cost, Move)? {
            if let b = memo[s] { return b }
            var result: (Cost, Move)? = nil
            func consider(_ rest: (Cost, Move)?, entries: Int, adjacency: Bool, _ move: Move) {
                guard let r = rest?.0 else { return }
                let c = Cost(entries: r.entries + entries, sids: r.sids + 1, adjacencies: r.adjacencies + (adjacency ? 1 : 0))
                if result == nil || c < result!.0 { result = (c, move) }
            }
            let x = s.x
            // The first SID of the list (only the initial state has x = 0 and no container):
            // with a reduced SRH, the container it opens travels as the Destination Address.
            let discount = reduced && x == 0 && s.format == -1 ? 1 : 0
            let j = x == m ? m : reach(x)
            if j == m {
                // The final destination: a whole SID that closes any open container.
                result = (Cost(entries: 1, sids: 1, adjacencies: 0), .finish)
            } else {
                // Any stop up to J(x) is reached on a unique shortest path: unlike the fewest
                // SIDs, the fewest bytes may stop early at a router with C-SIDs. The farthest
                // stop first, so that ties keep the choice of `encode`.
                for stop in stride(from: j, through: x, by: -1) where topology.nodes[p[stop]].kind == .router {
                    if stop > x {
                        if let (f, c) = csids(node: p[stop], link: nil) {
                            let (added, open) = pack(c, f, s.format, s.open)
                            consider(best(State(x: stop, format: f, open: open)), entries: added - discount, adjacency: false, .node(stop))
                        } else {
                            consider(best(State(x: stop, format: -1, open: 0)), entries: 1, adjacency: false, .node(stop))
                        }
                    }
                    if let (f, c) = csids(node: p[stop], link: path.links[stop]) {
                        let (added, open) = pack(c, f, s.format, s.open)
                        consider(best(State(x: stop + 1, format: f, open: open)), entries: added - discount, adjacency: true, .adjacency(stop))
                    } else {
                        consider(best(State(x: stop + 1, format: -1, open: 0)), entries: 1, adjacency: true, .adjacency(stop))
                    }
                }
                if result == nil && failure == nil && topology.nodes[p[j]].kind == .host {
                    failure = EncodingError(message: "cannot force the hop \(topology.nodes[p[j]].name) → \(topology.nodes[p[j + 1]].name): \(topology.nodes[p[j]].name) is a host with equal-cost first hops and owns no End.X SID")
                }
            }
            memo[s] = result
            return result
        }
        var state = State(x: 0, format: -1, open: 0)
        guard best(state) != nil else { throw failure ?? EncodingError(message: "cannot encode the path") }
        var segments: [Segment] = []
        while true {
            let (_, move) = memo[state]!!
            switch move {
            case .finish:
                let d = p[m]
                let kind: Segment.Kind = topology.nodes[d].kind == .host ? .destination : .node
                segments.append(Segment(sid: topology.destinationAddress(ofNode: d), kind: kind, node: d))
            case .node(let j):
                segments.append(Segment(sid: topology.nodeSID(ofNode: p[j])!, kind: .node, node: p[j]))
                let next = csids(node: p[j], link: nil)
                state = State(x: j, format: next?.format ?? -1,
                              open: next.map { pack($0.count, $0.format, state.format, state.open).open } ?? 0)
            case .adjacency(let j):
                let l = path.links[j]
                segments.append(Segment(sid: topology.adjacencySID(link: l, from: p[j])!, kind: .adjacency,
                                        node: p[j], link: l, neighbor: p[j + 1]))
                let next = csids(node: p[j], link: l)
                state = State(x: j + 1, format: next?.format ?? -1,
                              open: next.map { pack($0.count, $0.format, state.format, state.open).open } ?? 0)
            }
            if case .finish = move { break }
        }
        let list = topology.compressed(segments.map(\.sid))
        if let msd, list.entries.count > msd {
            throw EncodingError(message: "path \(path.nodes.map { topology.nodes[$0].name }.joined(separator: " ")) needs \(list.entries.count) Segment List entries, more than the maximum SID depth \(msd)")
        }
        try verify(path, segments: segments)
        return CompressedEncoding(segments: segments, list: list)
    }
}
