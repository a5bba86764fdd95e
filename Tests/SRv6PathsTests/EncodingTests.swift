import Testing
@testable import SRv6Paths
import TestSupport

@Suite struct EncodingTests {
    func sids(_ t: Topology, _ segs: [Segment]) -> [String] {
        segs.map { s in
            switch s.kind {
            case .node: return "node:\(t.nodes[s.node].name)"
            case .destination: return "dest:\(t.nodes[s.node].name)"
            case .adjacency: return "adj:\(t.nodes[s.node].name)>\(t.nodes[s.neighbor!].name)"
            }
        }
    }

    @Test func diamondHostToHost() throws {
        let t = try loadBundled("diamond.yaml")
        let planner = DisjointPathPlanner(topology: t, metric: .igp)
        let enc = SegmentEncoder(planner: planner)
        let plan = try planner.plan(from: "h1", to: "h2", k: 3, disjoint: .node)
        let lists = try plan.paths.map { p throws(EncodingError) in try enc.encode(p) }
        // The path via a is the IGP's own (cost 40): the destination alone forces it.
        #expect(Set(lists.map { sids(t, $0) }) == [["dest:h2"], ["node:b", "dest:h2"], ["node:c", "dest:h2"]])
        let b = lists.first { $0[0].node == t.index(of: "b") }!
        #expect(b.map(\.sid.description) == ["fc00:0:b::1", "fc00:2::2"])
    }

    @Test func ecmpTieNeedsASteeringSID() throws {
        let t = try equalCostDiamond()
        let enc = SegmentEncoder(topology: t, metric: .igp)
        let r1 = t.index(of: "r1")!, r2 = t.index(of: "r2")!
        // r2's node SID alone splits over a, b and c.
        let sim = enc.simulate(from: r1, segments: [Segment(sid: t.nodeSID(ofNode: r2)!, kind: .node, node: r2)])
        #expect(sim.branches.count == 3)
        #expect(Set(sim.branches.map { t.nodes[$0.nodes[1]].name }) == ["a", "b", "c"])
        let path = PlannedPath(nodes: [r1, t.index(of: "b")!, r2], links: [2, 5], cost: 20)
        #expect(sids(t, try enc.encode(path)) == ["node:b", "node:r2"])
        // The same list without the steering SID fails the check.
        #expect(throws: EncodingError.self) { try enc.verify(path, segments: [Segment(sid: t.nodeSID(ofNode: r2)!, kind: .node, node: r2)]) }
    }

    @Test func uniqueShortestPathNeedsOnlyTheDestination() throws {
        let t = try equalCostDiamond()
        // Make a cheaper than b and c: the shortest path is unique.
        var links = t.links
        links[1].metric = 5
        let t2 = try Topology(name: "d", nodes: t.nodes, links: links)
        let planner = DisjointPathPlanner(topology: t2, metric: .igp)
        let plan = try planner.plan(from: "h1", to: "h2", k: 1)
        #expect(sids(t2, try SegmentEncoder(planner: planner).encode(plan.paths[0])) == ["dest:h2"])
        // With the TE metric (unchanged) the tie is back.
        let te = DisjointPathPlanner(topology: t2, metric: .te)
        let p2 = try te.plan(from: "h1", to: "h2", k: 1)
        #expect(try SegmentEncoder(planner: te).encode(p2.paths[0]).count == 2)
    }

    @Test func parallelLinksNeedAdjacencySIDs() throws {
        let nodes: [Topology.Node] = [
            .router("x", locator: try IPv6Prefix(parsing: "fc00:0:1::/48")),
            .router("y", locator: try IPv6Prefix(parsing: "fc00:0:2::/48")),
        ]
        let t = try Topology(name: "par", nodes: nodes, links: [.init(a: 0, b: 1, metric: 5), .init(a: 0, b: 1, metric: 5)])
        let enc = SegmentEncoder(topology: t, metric: .igp)
        let segs = try enc.encode(PlannedPath(nodes: [0, 1], links: [1], cost: 5))
        #expect(sids(t, segs) == ["adj:x>y", "node:y"])
        #expect(segs[0].sid.description == "fc00:0:1::e002")
    }

    @Test func msdIsEnforced() throws {
        let nodes: [Topology.Node] = [
            .router("x", locator: try IPv6Prefix(parsing: "fc00:0:1::/48")),
            .router("y", locator: try IPv6Prefix(parsing: "fc00:0:2::/48")),
        ]
        let t = try Topology(name: "par", nodes: nodes, links: [.init(a: 0, b: 1, metric: 5), .init(a: 0, b: 1, metric: 5)])
        let enc = SegmentEncoder(topology: t, metric: .igp)
        #expect(throws: EncodingError.self) { try enc.encode(PlannedPath(nodes: [0, 1], links: [1], cost: 5), msd: 1) }
        #expect(try enc.encode(PlannedPath(nodes: [0, 1], links: [1], cost: 5), msd: 2).count == 2)
    }

    /// The fewest SIDs, against brute force over every ordered subset of the path's own SIDs.
    @Test(arguments: Array(UInt64(1)...UInt64(150)))
    func minimalAgainstBruteForce(seed: UInt64) throws {
        var rng = SeededRNG(seed: seed &* 31)
        let n = Int.random(in: 5...9, using: &rng)
        let t = randomTopology(seed: seed + 1000, n: n, m: 2 * n, maxMetric: seed % 2 == 0 ? 2 : 6)
        let planner = DisjointPathPlanner(topology: t, metric: .igp)
        let enc = SegmentEncoder(planner: planner)
        let s = Int.random(in: 0..<n, using: &rng)
        let d = (s + 1 + Int.random(in: 0..<(n - 1), using: &rng)) % n
        let plan = try planner.plan(from: s, to: d, k: 3, disjoint: .link)
        for path in plan.paths where path.nodes.count <= 7 {
            let segs = try enc.encode(path)
            #expect(segs.last?.node == d)
            let sim = enc.simulate(from: s, segments: segs)
            #expect(sim.branches == [ForwardingBranch(nodes: path.nodes, links: path.links)])
            // Candidates in path order: node SID of p[j] (j ≥ 1), End.X of p[j] over link j.
            var cands: [Segment] = []
            for j in 0..<path.links.count {
                cands.append(Segment(sid: t.adjacencySID(link: path.links[j], from: path.nodes[j])!, kind: .adjacency,
                                     node: path.nodes[j], link: path.links[j], neighbor: path.nodes[j + 1]))
                if j + 1 < path.nodes.count - 1 {
                    cands.append(Segment(sid: t.nodeSID(ofNode: path.nodes[j + 1])!, kind: .node, node: path.nodes[j + 1]))
                }
            }
            let dest = Segment(sid: t.nodeSID(ofNode: d)!, kind: .node, node: d)
            var bestCount = Int.max
            for mask in 0..<(1 << cands.count) where mask.nonzeroBitCount + 1 < bestCount {
                let list = cands.indices.filter { mask >> $0 & 1 == 1 }.map { cands[$0] } + [dest]
                let r = enc.simulate(from: s, segments: list, limit: 2)
                if r.branches == [ForwardingBranch(nodes: path.nodes, links: path.links)] { bestCount = list.count }
            }
            #expect(segs.count == bestCount, "seed \(seed): \(sids(t, segs)) vs brute force \(bestCount)")
        }
    }
}
