import Testing
@testable import SRv6Paths
import TestSupport

@Suite struct FewestBytesEncodingTests {
    let domain = try! CSIDDomain(format: try! CSIDFormat.f3216(block: IPv6Prefix(parsing: "fc00::/32")))

    /// A random topology whose routers compress, except every third one (only the kernel's End).
    func compressing(seed: UInt64, n: Int, m: Int) throws -> Topology {
        let t = randomTopology(seed: seed, n: n, m: m, hosts: 2)
        var nodes = t.nodes
        for i in nodes.indices where nodes[i].kind == .router && i % 3 == 0 { nodes[i].csid = .none }
        return try Topology(name: t.name, nodes: nodes, links: t.links, csid: domain)
    }

    /// Every list the encoder may choose from (SIDs stopping anywhere along a unique shortest
    /// stretch), with its compressed entry count: the brute force the DP must match.
    /// With `reduced`, a list whose first entry is a container counts one entry less.
    func fewestEntriesByEnumeration(_ enc: SegmentEncoder, _ path: PlannedPath, reduced: Bool = false) -> Int? {
        let t = enc.topology
        let p = path.nodes, m = p.count - 1
        let reach = enc.reachFunction(path)
        var best: Int? = nil
        var visited = 0
        func walk(_ x: Int, _ sids: [IPv6Address]) {
            visited += 1
            if visited > 200_000 { return }
            let j = x == m ? m : reach(x)
            if j == m {
                let list = t.compressed(sids + [t.destinationAddress(ofNode: p[m])])
                let n = list.entries.count - (reduced && list.reducible ? 1 : 0)
                if best == nil || n < best! { best = n }
                return
            }
            for stop in x...j where t.nodes[p[stop]].kind == .router {
                if stop > x { walk(stop, sids + [t.nodeSID(ofNode: p[stop])!]) }
                walk(stop + 1, sids + [t.adjacencySID(link: path.links[stop], from: p[stop])!])
            }
        }
        walk(0, [])
        return visited > 200_000 ? nil : best
    }

    @Test(arguments: [UInt64(1), 2, 3, 4, 5, 6])
    func fewestBytesIsOptimalAndNeverWorse(seed: UInt64) throws {
        let t = try compressing(seed: seed, n: 14, m: 26)
        let planner = DisjointPathPlanner(topology: t, metric: .igp)
        let enc = SegmentEncoder(planner: planner)
        var rng = SeededRNG(seed: seed)
        var checked = 0, enumerated = 0
        for _ in 0..<30 {
            let a = Int.random(in: 0..<t.nodes.count, using: &rng), b = Int.random(in: 0..<t.nodes.count, using: &rng)
            guard a != b, let plan = try? planner.plan(from: t.nodes[a].name, to: t.nodes[b].name, k: 3, disjoint: .link) else { continue }
            for path in plan.paths {
                guard let fewestSIDs = try? enc.encode(path) else { continue }
                let fb = try enc.encodeFewestBytes(path)
                let plain = t.compressed(fewestSIDs.map(\.sid))
                // Never more bytes than compressing the fewest-SIDs list; the list is the one compressed.
                #expect(fb.list.entries.count <= plain.entries.count)
                #expect(fb.list == t.compressed(fb.segments.map(\.sid)))
                #expect(fb.srhBytes == 8 + 16 * fb.list.entries.count)
                // And the fewest of all the lists it chooses from.
                if let brute = fewestEntriesByEnumeration(enc, path) {
                    #expect(fb.list.entries.count == brute, "seed \(seed): \(path.nodes)")
                    enumerated += 1
                }
                checked += 1
            }
        }
        #expect(checked > 20, "seed \(seed): only \(checked) paths")
        #expect(enumerated > checked / 2, "seed \(seed): only \(enumerated) of \(checked) paths enumerated")
    }

    /// Without C-SIDs, the fewest bytes are the fewest SIDs.
    @Test(arguments: [UInt64(7), 8, 9])
    func withoutCSIDsItIsTheFewestSIDs(seed: UInt64) throws {
        let t = randomTopology(seed: seed, n: 12, m: 22, hosts: 2)
        let planner = DisjointPathPlanner(topology: t, metric: .igp)
        let enc = SegmentEncoder(planner: planner)
        for a in 0..<4 {
            for b in 6..<10 {
                guard let plan = try? planner.plan(from: t.nodes[a].name, to: t.nodes[b].name, k: 2, disjoint: .link) else { continue }
                for path in plan.paths {
                    guard let s = try? enc.encode(path) else { continue }
                    let fb = try enc.encodeFewestBytes(path)
                    #expect(fb.segments == s)
                    #expect(fb.list.entries.count == s.count)
                }
            }
        }
    }

    /// Somewhere in random topologies where a third of the routers lack C-SIDs, the fewest
    /// bytes are strictly fewer than the fewest SIDs give, compressed: the option is not idle.
    @Test func beatsCompressingTheFewestSIDs() throws {
        var better = 0, total = 0
        try forEachPlannedPath { t, enc, path in
            guard let s = try? enc.encode(path) else { return }
            let fb = try enc.encodeFewestBytes(path)
            total += 1
            if fb.list.entries.count < t.compressed(s.map(\.sid)).entries.count { better += 1 }
        }
        #expect(better > 0, "no path of \(total) got fewer bytes than its fewest SIDs compressed")
    }

    /// Every path of k = 3 link-disjoint plans between three first and three last nodes of 20
    /// random topologies (seeds 21-40, 16 routers, 28 links, a third without C-SIDs): 441 paths.
    func forEachPlannedPath(_ body: (Topology, SegmentEncoder, PlannedPath) throws -> Void) throws {
        for seed in UInt64(21)...40 {
            let t = try compressing(seed: seed, n: 16, m: 28)
            let planner = DisjointPathPlanner(topology: t, metric: .igp)
            let enc = SegmentEncoder(planner: planner)
            for a in 0..<3 {
                for b in (t.nodes.count - 3)..<t.nodes.count {
                    guard let plan = try? planner.plan(from: t.nodes[a].name, to: t.nodes[b].name, k: 3, disjoint: .link) else { continue }
                    for path in plan.paths { try body(t, enc, path) }
                }
            }
        }
    }

    /// Planned for a reduced SRH, the list is the one with the fewest entries once its first
    /// container travels as the Destination Address: as the brute force finds, and never more
    /// than reducing the list planned for a full SRH.
    @Test(arguments: [UInt64(1), 2, 3, 4, 5, 6])
    func fewestReducedBytesIsOptimal(seed: UInt64) throws {
        let t = try compressing(seed: seed, n: 14, m: 26)
        let planner = DisjointPathPlanner(topology: t, metric: .igp)
        let enc = SegmentEncoder(planner: planner)
        var rng = SeededRNG(seed: seed)
        var checked = 0, enumerated = 0
        func sent(_ e: CompressedEncoding) -> Int { e.reducedSRHBytes ?? e.srhBytes }
        for _ in 0..<30 {
            let a = Int.random(in: 0..<t.nodes.count, using: &rng), b = Int.random(in: 0..<t.nodes.count, using: &rng)
            guard a != b, let plan = try? planner.plan(from: t.nodes[a].name, to: t.nodes[b].name, k: 3, disjoint: .link) else { continue }
            for path in plan.paths {
                guard let full = try? enc.encodeFewestBytes(path) else { continue }
                let red = try enc.encodeFewestBytes(path, reduced: true)
                #expect(sent(red) <= sent(full), "seed \(seed): \(path.nodes)")
                #expect(red.list == t.compressed(red.segments.map(\.sid)))
                if let brute = fewestEntriesByEnumeration(enc, path, reduced: true) {
                    #expect(red.list.entries.count - (red.list.reducible ? 1 : 0) == brute, "seed \(seed): \(path.nodes)")
                    enumerated += 1
                }
                checked += 1
            }
        }
        #expect(checked > 20, "seed \(seed): only \(checked) paths")
        #expect(enumerated > checked / 2, "seed \(seed): only \(enumerated) of \(checked) paths enumerated")
    }

    /// Somewhere in the random topologies of ``beatsCompressingTheFewestSIDs()``, planning for a
    /// reduced SRH sends fewer bytes than reducing the list planned for a full one.
    @Test func reducedPlanningBeatsReducingTheFullPlan() throws {
        var better = 0, total = 0
        try forEachPlannedPath { _, enc, path in
            guard let full = try? enc.encodeFewestBytes(path) else { return }
            let red = try enc.encodeFewestBytes(path, reduced: true)
            total += 1
            if (red.reducedSRHBytes ?? red.srhBytes) < (full.reducedSRHBytes ?? full.srhBytes) { better += 1 }
        }
        #expect(better > 0, "no path of \(total) got fewer bytes planned for a reduced SRH")
    }

    /// `diamondCSIDYAML`, whose b has only the kernel's End: for a full SRH the path via b is b's whole
    /// SID (40 bytes either way); for a reduced SRH, r1's End.X C-SID toward b starts a container
    /// that travels as the Destination Address (24 bytes).
    @Test func reducedPlanningStartsWithAContainerWhereThatSaves() throws {
        let t = try Topology(yaml: diamondCSIDYAML)
        let full = try PlanReport(topology: t, from: "h1", to: "h2", k: 2, disjoint: .node, encoding: .fewestBytes)
        let red = try PlanReport(topology: t, from: "h1", to: "h2", k: 2, disjoint: .node, encoding: .fewestReducedBytes)
        let viaB = { (r: PlanReport) in r.paths.first { $0.path.nodes.contains(t.index(of: "b")!) }! }
        #expect(viaB(full).segments.map(\.sid) == [IPv6Address("fc00:0:b::1")!, IPv6Address("fc00:2::2")!])
        #expect(viaB(full).wire(.reduced, topology: t).srhBytes == 40)
        let w = viaB(red).wire(red.compression, topology: t)
        #expect(w.reduced && w.srhBytes == 24, "\(w)")
        #expect(viaB(red).segments.first?.kind == .adjacency && viaB(red).segments.first?.node == t.index(of: "r1"))
        // The SRH as sent: Segments Left = Last Entry + 1 = 1, only h2 in the list.
        let h = try #require(try w.header())
        #expect(h.count == 24 && h[3] == 1 && h[4] == 0)
    }
}
