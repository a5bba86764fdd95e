@testable import SRv6Paths
import TestSupport


/// A random connected-ish router topology: `n` routers, `m` distinct links, metrics 1...maxMetric.
func randomTopology(seed: UInt64, n: Int, m: Int, maxMetric: Int = 5, srlgs: Int = 0, hosts: Int = 0) -> Topology {
    var rng = SeededRNG(seed: seed)
    var nodes: [Topology.Node] = []
    for i in 0..<n {
        if i < hosts {
            nodes.append(.host("h\(i)", address: IPv6Address(high: 0xfc00_1000_0000_0000 | UInt64(i + 1) << 16, low: 1)))
        } else {
            nodes.append(.router("n\(i)", locator: IPv6Prefix(address: IPv6Address(high: 0xfc00_0000_0000_0000 | UInt64(i + 1) << 16, low: 0), length: 48)))
        }
    }
    var seen = Set<Int>()
    var links: [Topology.Link] = []
    // A random spanning path first, so most pairs are connected.
    var perm = Array(0..<n); perm.shuffle(using: &rng)
    for i in 1..<n where links.count < m {
        let a = perm[i - 1], b = perm[i]
        seen.insert(min(a, b) * n + max(a, b))
        links.append(.init(a: a, b: b, metric: Int.random(in: 1...maxMetric, using: &rng)))
    }
    var tries = 0
    while links.count < m && tries < 10 * m {
        tries += 1
        let a = Int.random(in: 0..<n, using: &rng), b = Int.random(in: 0..<n, using: &rng)
        if a == b || !seen.insert(min(a, b) * n + max(a, b)).inserted { continue }
        links.append(.init(a: a, b: b, metric: Int.random(in: 1...maxMetric, using: &rng)))
    }
    if srlgs > 0 {
        for i in links.indices where Int.random(in: 0..<3, using: &rng) == 0 {
            links[i].srlgs = ["g\(Int.random(in: 0..<srlgs, using: &rng))"]
        }
    }
    return try! Topology(name: "random-\(seed)", nodes: nodes, links: links)
}

/// Every simple path from s to t (node and link lists), hosts never transit.
func allSimplePaths(_ t: Topology, from s: Int, to d: Int) -> [PlannedPath] {
    var adj = [[(Int, Int)]](repeating: [], count: t.nodes.count)
    for (i, l) in t.links.enumerated() { adj[l.a].append((l.b, i)); adj[l.b].append((l.a, i)) }
    var out: [PlannedPath] = []
    var nodes = [s], links: [Int] = [], on = Set([s])
    func go(_ u: Int) {
        if u == d {
            out.append(PlannedPath(nodes: nodes, links: links, cost: links.reduce(0) { $0 + t.links[$1].metric }))
            return
        }
        if u != s && t.nodes[u].kind == .host { return }
        for (v, l) in adj[u] where !on.contains(v) {
            nodes.append(v); links.append(l); on.insert(v)
            go(v)
            nodes.removeLast(); links.removeLast(); on.remove(v)
        }
    }
    go(s)
    return out
}

/// Brute force: the largest number (≤ k) of pairwise-disjoint paths, and their least total cost.
func bruteForce(_ t: Topology, from s: Int, to d: Int, k: Int, disjoint: Disjointness) -> (count: Int, cost: Int) {
    let paths = allSimplePaths(t, from: s, to: d)
    var best = (count: 0, cost: 0)
    var usedLinks = Set<Int>(), usedNodes = Set<Int>(), usedGroups = Set<String>()
    func compatible(_ p: PlannedPath) -> Bool {
        if p.links.contains(where: usedLinks.contains) { return false }
        if disjoint == .node, p.nodes.dropFirst().dropLast().contains(where: usedNodes.contains) { return false }
        if disjoint == .srlg, p.links.contains(where: { !usedGroups.isDisjoint(with: t.links[$0].srlgs) }) { return false }
        return true
    }
    func search(_ from: Int, _ count: Int, _ cost: Int) {
        if count > best.count || (count == best.count && cost < best.cost) { best = (count, cost) }
        if count == k { return }
        for i in from..<paths.count where compatible(paths[i]) {
            let p = paths[i]
            let inner = Set(p.nodes.dropFirst().dropLast())
            let groups = Set(p.links.flatMap { t.links[$0].srlgs })
            let newGroups = groups.subtracting(usedGroups)
            usedLinks.formUnion(p.links); usedNodes.formUnion(inner); usedGroups.formUnion(newGroups)
            search(i + 1, count + 1, cost + p.cost)
            usedLinks.subtract(p.links); usedNodes.subtract(inner); usedGroups.subtract(newGroups)
        }
    }
    search(0, 0, 0)
    return best
}

/// Checks that the paths are simple s→t walks over real links and pairwise disjoint.
func checkPaths(_ t: Topology, _ paths: [PlannedPath], from s: Int, to d: Int, disjoint: Disjointness,
                metric: PathMetric = .igp) -> String? {
    var usedLinks = Set<Int>(), usedNodes = Set<Int>(), usedGroups = Set<String>()
    for p in paths {
        guard p.nodes.first == s, p.nodes.last == d, p.links.count == p.nodes.count - 1 else { return "bad ends \(p.nodes)" }
        guard Set(p.nodes).count == p.nodes.count else { return "not simple \(p.nodes)" }
        for (i, l) in p.links.enumerated() {
            let link = t.links[l]
            guard Set([link.a, link.b]) == Set([p.nodes[i], p.nodes[i + 1]]) else { return "link \(l) does not join hop \(i)" }
        }
        for v in p.nodes.dropFirst().dropLast() where t.nodes[v].kind == .host { return "host \(v) used as transit" }
        let cost = p.links.reduce(0) { $0 + metric.weight(of: t.links[$1]) }
        guard cost == p.cost else { return "cost \(p.cost) != \(cost)" }
        if p.links.contains(where: usedLinks.contains) { return "shared link" }
        usedLinks.formUnion(p.links)
        let inner = Set(p.nodes.dropFirst().dropLast())
        if disjoint == .node, !inner.isDisjoint(with: usedNodes) { return "shared node" }
        usedNodes.formUnion(inner)
        let groups = Set(p.links.flatMap { t.links[$0].srlgs })
        if disjoint == .srlg, !groups.isDisjoint(with: usedGroups) { return "shared SRLG" }
        usedGroups.formUnion(groups)
    }
    return nil
}

/// The bundled diamond with every middle link at metric 10: three equal-cost
/// paths, the fixture for ECMP ties (the bundled file gives a, b and c different costs).
func equalCostDiamond() throws -> Topology {
    let t = try loadBundled("diamond.yaml")
    let links = t.links.map { l -> Topology.Link in var l = l; l.metric = 10; l.teMetric = 10; return l }
    return try Topology(name: "diamond-ecmp", nodes: t.nodes, links: links)
}

func loadBundled(_ name: String) throws -> Topology {
    let path = packageRoot + "/topologies/" + name
    let text = try String(contentsOfFile: path, encoding: .utf8)
    return try Topology(yaml: text, file: "topologies/" + name)
}

import Foundation
