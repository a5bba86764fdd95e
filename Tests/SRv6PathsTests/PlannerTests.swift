import Testing
@testable import SRv6Paths
import TestSupport

@Suite struct PlannerTests {
    @Test func diamondThreeNodeDisjointPaths() throws {
        let t = try loadBundled("diamond.yaml")
        let p = DisjointPathPlanner(topology: t, metric: .igp)
        let plan = try p.plan(from: "h1", to: "h2", k: 3, disjoint: .node)
        #expect(plan.paths.count == 3)
        #expect(plan.totalCost == 150)   // 40 via a, 50 via b, 60 via c
        let mids = Set(plan.paths.map { t.nodes[$0.nodes[2]].name })
        #expect(mids == ["a", "b", "c"])
        // Access links are shared (host-gateway rule); beyond the gateways the paths are node-disjoint.
        let core = plan.paths.map { PlannedPath(nodes: Array($0.nodes.dropFirst().dropLast()), links: Array($0.links.dropFirst().dropLast()), cost: $0.cost - 20) }
        #expect(checkPaths(t, core, from: t.index(of: "r1")!, to: t.index(of: "r2")!, disjoint: .node) == nil)
        #expect(plan.paths.allSatisfy { t.nodes[$0.nodes.first!].name == "h1" && t.nodes[$0.nodes.last!].name == "h2" })
        #expect(plan.notes.contains { $0.contains("single-homed") })
        // Four requested: three exist, with a note saying so.
        let four = try p.plan(from: "h1", to: "h2", k: 4, disjoint: .node)
        #expect(four.paths.count == 3)
        #expect(four.notes.contains { $0.contains("only 3 node-disjoint paths") })
    }

    @Test func strictAppliesTheLiteralRule() throws {
        let t = try loadBundled("diamond.yaml")
        let p = DisjointPathPlanner(topology: t, metric: .igp)
        for mode in [Disjointness.link, .node] {
            let plan = try p.plan(from: "h1", to: "h2", k: 3, disjoint: mode, strict: true)
            #expect(plan.paths.count == 1, "\(mode)")
        }
        // Between routers the rule does not apply: r1 → r2 has three paths either way.
        #expect(try p.plan(from: "r1", to: "r2", k: 3, disjoint: .node, strict: true).paths.count == 3)
    }

    @Test func hostToItsOwnGateway() throws {
        let t = try loadBundled("diamond.yaml")
        let p = DisjointPathPlanner(topology: t, metric: .igp)
        let plan = try p.plan(from: "h1", to: "r1", k: 2, disjoint: .node)
        #expect(plan.paths.map { $0.nodes.map { t.nodes[$0].name } } == [["h1", "r1"]])
        #expect(plan.notes.contains { $0.contains("only one path exists") })
        let back = try p.plan(from: "r2", to: "h2", k: 1, disjoint: .link)
        #expect(back.paths.count == 1 && back.totalCost == 10)
        let enc = SegmentEncoder(planner: p)
        #expect(try enc.encode(back.paths[0]).map(\.kind) == [.destination])
    }

    @Test func delayMetricPrefersFastPaths() throws {
        let t = try loadBundled("diamond.yaml")
        let p = DisjointPathPlanner(topology: t, metric: .delay)
        let plan = try p.plan(from: "h1", to: "h2", k: 2, disjoint: .node)
        // Delays: via a 1+2+2+1 = 6 ms, via b 8 ms, via c 10 ms.
        #expect(plan.paths.map(\.cost) == [6000, 8000])
    }

    @Test func srlgNeverShares() throws {
        let t = try loadBundled("diamond.yaml")
        // Put b and c in one risk group with a: then only one SRLG-disjoint path exists.
        var links = t.links
        for i in links.indices where [1, 2, 3].contains(i) { links[i].srlgs = ["trench"] }
        let t2 = try Topology(name: "d", nodes: t.nodes, links: links)
        let plan = try DisjointPathPlanner(topology: t2, metric: .igp).plan(from: "r1", to: "r2", k: 3, disjoint: .srlg)
        #expect(plan.paths.count == 1)
        #expect(checkPaths(t2, plan.paths, from: 1, to: 5, disjoint: .srlg) == nil)
    }

    /// The classic trap: the single shortest path blocks a second disjoint path; removing it
    /// and repeating finds one path, min-cost flow finds two.
    @Test func trapTopologyNeedsResidualPaths() throws {
        // s-a-b-t is shortest (3); s-b and a-t exist with cost 2... the 2 disjoint paths are s-a-t and s-b-t.
        let names = ["s", "a", "b", "t"]
        let nodes = names.enumerated().map { Topology.Node.router($1, locator: IPv6Prefix(address: IPv6Address(high: 0xfc00_0000_0000_0000 | UInt64($0 + 1) << 16, low: 0), length: 48)) }
        let links: [Topology.Link] = [.init(a: 0, b: 1, metric: 1), .init(a: 1, b: 2, metric: 1), .init(a: 2, b: 3, metric: 1),
                                      .init(a: 0, b: 2, metric: 3), .init(a: 1, b: 3, metric: 3)]
        let t = try Topology(name: "trap", nodes: nodes, links: links)
        for mode in [Disjointness.link, .node] {
            let plan = try DisjointPathPlanner(topology: t, metric: .igp).plan(from: 0, to: 3, k: 2, disjoint: mode)
            #expect(plan.paths.count == 2)
            #expect(plan.totalCost == 8)
            #expect(checkPaths(t, plan.paths, from: 0, to: 3, disjoint: mode) == nil)
        }
    }

    @Test func unreachableAndBadRequests() throws {
        let nodes = (0..<4).map { Topology.Node.router("n\($0)", locator: IPv6Prefix(address: IPv6Address(high: 0xfc00_0000_0000_0000 | UInt64($0 + 1) << 16, low: 0), length: 48)) }
        let t = try Topology(name: "split", nodes: nodes, links: [.init(a: 0, b: 1), .init(a: 2, b: 3)])
        let p = DisjointPathPlanner(topology: t, metric: .igp)
        let plan = try p.plan(from: 0, to: 3, k: 2, disjoint: .link)
        #expect(plan.paths.isEmpty)
        #expect(plan.notes.contains { $0.contains("no path") })
        #expect(throws: DisjointPathPlanner.PlanError.self) { try p.plan(from: 0, to: 0, k: 1) }
        #expect(throws: DisjointPathPlanner.PlanError.self) { try p.plan(from: 0, to: 1, k: 0) }
        #expect(throws: DisjointPathPlanner.PlanError.self) { try p.plan(from: "n0", to: "zz", k: 1) }
    }

    @Test func hostsAreNeverTransit() throws {
        // r0 - h - r1 is the only route; the host must not carry it.
        let nodes: [Topology.Node] = [
            .router("r0", locator: try IPv6Prefix(parsing: "fc00:0:1::/48")),
            .host("h", address: try IPv6Address(parsing: "fc00:9::1")),
            .router("r1", locator: try IPv6Prefix(parsing: "fc00:0:2::/48")),
        ]
        let t = try Topology(name: "h", nodes: nodes, links: [.init(a: 0, b: 1), .init(a: 1, b: 2)])
        for mode in Disjointness.allCases {
            #expect(try DisjointPathPlanner(topology: t, metric: .igp).plan(from: 0, to: 2, k: 1, disjoint: mode).paths.isEmpty)
        }
    }

    /// Optimality against brute-force enumeration on small seeded random graphs.
    @Test(arguments: Array(UInt64(1)...UInt64(60)))
    func matchesBruteForce(seed: UInt64) throws {
        var rng = SeededRNG(seed: seed &* 7919)
        let n = Int.random(in: 4...8, using: &rng)
        let m = Int.random(in: n...min(n * (n - 1) / 2, 2 * n + 2), using: &rng)
        let t = randomTopology(seed: seed, n: n, m: m, maxMetric: seed % 3 == 0 ? 2 : 9, srlgs: 3)
        let planner = DisjointPathPlanner(topology: t, metric: .igp)
        for _ in 0..<3 {
            let s = Int.random(in: 0..<n, using: &rng)
            var d = Int.random(in: 0..<n, using: &rng)
            if d == s { d = (s + 1) % n }
            for k in [1, 2, 3, 4] {
                for mode in [Disjointness.link, .node] {
                    let plan = try planner.plan(from: s, to: d, k: k, disjoint: mode)
                    let bf = bruteForce(t, from: s, to: d, k: k, disjoint: mode)
                    #expect(plan.paths.count == bf.count, "seed \(seed) \(s)->\(d) k=\(k) \(mode)")
                    #expect(plan.totalCost == bf.cost, "seed \(seed) \(s)->\(d) k=\(k) \(mode)")
                    #expect(checkPaths(t, plan.paths, from: s, to: d, disjoint: mode) == nil)
                }
                // SRLG: never shares, never more than possible, optimal when it says so.
                let sp = try planner.plan(from: s, to: d, k: k, disjoint: .srlg)
                let bf = bruteForce(t, from: s, to: d, k: k, disjoint: .srlg)
                #expect(checkPaths(t, sp.paths, from: s, to: d, disjoint: .srlg) == nil, "seed \(seed)")
                #expect(sp.paths.count <= bf.count)
                if sp.optimal { #expect(sp.paths.count == bf.count && sp.totalCost == bf.cost, "seed \(seed) k=\(k)") }
            }
        }
    }

    /// With hosts (never transit), literal rule (`strict`), against brute force; and the
    /// host-gateway rule against brute force between the gateways.
    @Test(arguments: Array(UInt64(200)...UInt64(240)))
    func hostsMatchBruteForce(seed: UInt64) throws {
        var rng = SeededRNG(seed: seed)
        let n = Int.random(in: 5...8, using: &rng)
        let t = randomTopology(seed: seed, n: n, m: Int.random(in: n...(2 * n), using: &rng), maxMetric: 4, hosts: 2)
        let planner = DisjointPathPlanner(topology: t, metric: .igp)
        let enc = SegmentEncoder(planner: planner)
        for (s, d) in [(0, 1), (0, n - 1), (n - 2, 1)] {
            for k in [1, 2, 3] {
                for mode in [Disjointness.link, .node] {
                    let plan = try planner.plan(from: s, to: d, k: k, disjoint: mode, strict: true)
                    let bf = bruteForce(t, from: s, to: d, k: k, disjoint: mode)
                    #expect(plan.paths.count == bf.count && plan.totalCost == bf.cost, "seed \(seed) \(s)->\(d) k=\(k) \(mode)")
                    #expect(checkPaths(t, plan.paths, from: s, to: d, disjoint: mode) == nil)
                    for p in plan.paths {
                        // A host ingress with equal-cost first hops cannot be encoded (no End.X); anything else must be.
                        do { _ = try enc.encode(p) } catch {
                            #expect(error.message.contains("owns no End.X SID"), "seed \(seed): \(error)")
                        }
                    }
                    let relaxed = try planner.plan(from: s, to: d, k: k, disjoint: mode)
                    #expect(relaxed.paths.count >= plan.paths.count)
                    #expect(checkPaths(t, relaxed.paths.map { p in
                        // Strip single-homed hosts' access links: beyond them the paths are disjoint.
                        var q = p
                        if planner.singleHomedGateway(s) != nil { q.nodes.removeFirst(); q.links.removeFirst() }
                        if planner.singleHomedGateway(d) != nil, q.nodes.count > 1 { q.nodes.removeLast(); q.links.removeLast() }
                        q.cost = q.links.reduce(0) { $0 + t.links[$1].metric }
                        return q
                    }, from: planner.singleHomedGateway(s)?.node ?? s, to: planner.singleHomedGateway(d)?.node ?? d, disjoint: mode) == nil
                            || relaxed.paths.count == 1, "seed \(seed)")
                }
            }
        }
    }

    /// Larger random graphs: properties only (disjoint, valid, non-decreasing marginal cost).
    @Test(arguments: [(UInt64(101), 300, 700), (102, 1000, 2000), (103, 2000, 6000)])
    func propertiesOnLargerGraphs(seed: UInt64, n: Int, m: Int) throws {
        let t = randomTopology(seed: seed, n: n, m: m, maxMetric: 20)
        let planner = DisjointPathPlanner(topology: t, metric: .igp)
        var rng = SeededRNG(seed: seed)
        for _ in 0..<5 {
            let s = Int.random(in: 0..<n, using: &rng), d = (s + 1 + Int.random(in: 0..<(n - 1), using: &rng)) % n
            for mode in [Disjointness.link, .node] {
                var previous = 0, previousCount = 0
                for k in 1...4 {
                    let plan = try planner.plan(from: s, to: d, k: k, disjoint: mode)
                    #expect(checkPaths(t, plan.paths, from: s, to: d, disjoint: mode) == nil)
                    #expect(plan.paths.count >= previousCount)
                    // Min-cost flow cost is convex in k: the k-th path costs at least as much as the (k-1)-th did.
                    if plan.paths.count == k && k >= 2 && previousCount == k - 1 {
                        #expect(plan.totalCost >= previous)
                    }
                    previous = plan.totalCost; previousCount = plan.paths.count
                }
                // Node-disjoint never beats link-disjoint.
            }
            let l = try planner.plan(from: s, to: d, k: 3, disjoint: .link)
            let nd = try planner.plan(from: s, to: d, k: 3, disjoint: .node)
            #expect(l.paths.count >= nd.paths.count)
            if l.paths.count == nd.paths.count { #expect(l.totalCost <= nd.totalCost) }
        }
    }
}
