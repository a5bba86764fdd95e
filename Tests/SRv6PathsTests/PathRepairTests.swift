import Testing
@testable import SRv6Paths
import TestSupport

/// Re-planning around a failed path (`srte open --keep`).
struct PathRepairTests {
    func diamond() throws -> (Topology, DisjointPathPlanner) {
        let t = try loadBundled("diamond.yaml")
        return (t, DisjointPathPlanner(topology: t, metric: .igp))
    }

    func middle(_ t: Topology, _ p: PlannedPath) -> String { t.nodes[p.nodes[2]].name }

    @Test func aFreeDisjointPathReplacesTheFailedOne() throws {
        let (t, pl) = try diamond()
        let plan = try pl.plan(from: "h1", to: "h2", k: 2)
        #expect(plan.paths.map { middle(t, $0) } == ["a", "b"])
        let r = try #require(pl.replacement(from: t.index(of: "h1")!, to: t.index(of: "h2")!,
                                            surviving: [plan.paths[0]], avoiding: Set(plan.paths[1].links.dropFirst().dropLast())))
        #expect(middle(t, r.path) == "c")
        #expect(r.disjoint)
        #expect(r.path.cost == 60)
        #expect(r.path.nodes.first == t.index(of: "h1") && r.path.nodes.last == t.index(of: "h2"))
    }

    @Test func withNoDisjointPathLeftTheCheapestWorkingOneIsShared() throws {
        let (t, pl) = try diamond()
        let plan = try pl.plan(from: "h1", to: "h2", k: 3)
        let failed = Set(plan.paths[1].links.dropFirst().dropLast())   // via b
        let r = try #require(pl.replacement(from: t.index(of: "h1")!, to: t.index(of: "h2")!,
                                            surviving: [plan.paths[0], plan.paths[2]], avoiding: failed))
        #expect(!r.disjoint)
        #expect(middle(t, r.path) == "a")          // the cheapest that avoids b's links
        #expect(r.path.links.allSatisfy { !failed.contains($0) })
    }

    @Test func aFailedAccessLinkLeavesNothing() throws {
        let (t, pl) = try diamond()
        let plan = try pl.plan(from: "h1", to: "h2", k: 2)
        let access = plan.paths[0].links[0]
        #expect(pl.replacement(from: t.index(of: "h1")!, to: t.index(of: "h2")!, surviving: [], avoiding: [access]) == nil)
    }

    @Test func nodeModeAvoidsTheSurvivingPathsRouters() throws {
        // r1 - x - r2 and r1 - y - r2, plus a cheap link x - y: after the path via y fails at
        // y - r2, the link-mode replacement may go r1 - y - x ... no: it must avoid x in node mode.
        let yaml = """
        name: ladder
        nodes:
          s: { kind: host, address: "fc00:1::1" }
          r1: { locator: "fc00:0:1::/48" }
          x: { locator: "fc00:0:2::/48" }
          y: { locator: "fc00:0:3::/48" }
          z: { locator: "fc00:0:4::/48" }
          r2: { locator: "fc00:0:5::/48" }
          d: { kind: host, address: "fc00:2::2" }
        links:
          - { endpoints: [s, r1] }
          - { endpoints: [r1, x] }
          - { endpoints: [x, r2] }
          - { endpoints: [r1, y] }
          - { endpoints: [y, r2] }
          - { endpoints: [y, x], metric: 1 }
          - { endpoints: [r1, z], metric: 50 }
          - { endpoints: [z, r2], metric: 50 }
          - { endpoints: [r2, d] }
        """
        let t = try Topology(yaml: yaml, file: "ladder.yaml")
        let pl = DisjointPathPlanner(topology: t, metric: .igp)
        let plan = try pl.plan(from: "s", to: "d", k: 2, disjoint: .node)
        let names = { (p: PlannedPath) in p.nodes.map { t.nodes[$0].name } }
        let viaX = try #require(plan.paths.first { names($0).contains("x") })
        let viaY = try #require(plan.paths.first { names($0).contains("y") })
        let yr2 = try #require(t.links.firstIndex { Set([t.nodes[$0.a].name, t.nodes[$0.b].name]) == ["y", "r2"] })
        let s = t.index(of: "s")!, d = t.index(of: "d")!
        let link = try #require(pl.replacement(from: s, to: d, surviving: [viaX], avoiding: [yr2], disjoint: .link))
        #expect(names(link.path) == ["s", "r1", "y", "x", "r2", "d"] || names(link.path) == ["s", "r1", "z", "r2", "d"])
        let node = try #require(pl.replacement(from: s, to: d, surviving: [viaX], avoiding: [yr2], disjoint: .node))
        #expect(names(node.path) == ["s", "r1", "z", "r2", "d"])
        #expect(node.disjoint)
        _ = viaY
    }

    /// Against brute force on random graphs: the replacement is the cheapest simple path that
    /// avoids the failed links and the surviving paths' links (or, when none exists, the failed links only).
    @Test(arguments: 0..<40)
    func matchesBruteForce(seed: Int) throws {
        let t = randomTopology(seed: UInt64(seed) &+ 900, n: 8, m: 14)
        let pl = DisjointPathPlanner(topology: t, metric: .igp)
        let plan = try pl.plan(from: 0, to: 7, k: 3)
        guard plan.paths.count >= 2 else { return }
        let surviving = [plan.paths[0]]
        let failed = Set(plan.paths[1].links.prefix(1))
        let all = allSimplePaths(t, from: 0, to: 7)
        let blocked = failed.union(surviving[0].links)
        let disjointBest = all.filter { $0.links.allSatisfy { !blocked.contains($0) } }.map(\.cost).min()
        let anyBest = all.filter { $0.links.allSatisfy { !failed.contains($0) } }.map(\.cost).min()
        let r = pl.replacement(from: 0, to: 7, surviving: surviving, avoiding: failed)
        if let best = disjointBest {
            #expect(r?.disjoint == true && r?.path.cost == best, "seed \(seed)")
        } else if let best = anyBest {
            #expect(r?.disjoint == false && r?.path.cost == best, "seed \(seed)")
        } else {
            #expect(r == nil)
        }
        if let p = r?.path { #expect(p.links.allSatisfy { !failed.contains($0) }) }
    }
}
