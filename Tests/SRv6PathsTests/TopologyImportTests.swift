import Testing
@testable import SRv6Paths
import TestSupport

@Suite struct TopologyImportTests {
    @Test func abileneGMLImport() throws {
        let text = try String(contentsOfFile: packageRoot + "/Tests/Fixtures/abilene.gml", encoding: .utf8)
        let t = try Topology(gml: text, file: "abilene.gml", metric: .distance)
        #expect(t.name == "Abilene")
        #expect(t.nodes.count == 11 && t.links.count == 14)
        let ny = t.index(of: "New_York")!, chi = t.index(of: "Chicago")!
        let l = t.links.first { Set([$0.a, $0.b]) == [ny, chi] }!
        // topohub gives 1146.16 km for this link.
        #expect(abs(l.metric - 1146) <= 1)
        #expect(abs(l.delay - 5731) <= 10)
        #expect(t.nodeSID(of: "New_York")?.description == "fc00:0:1::1")
        let hops = try Topology(gml: text, metric: .hops)
        #expect(hops.links.allSatisfy { $0.metric == 10 })
        // The bundled YAML is what the importer makes.
        let bundled = try loadBundled("abilene.yaml")
        #expect(bundled.nodes == t.nodes && bundled.links == t.links)
    }

    @Test(arguments: [
        ("graph [ node [ id 0 label \"a\" ] edge [ source 0 target 7 ] ]", 1, 49, "unknown node id 7"),
        ("graph [\n  node [ id 0 ]\n  node [ id 0 ]\n]", 3, 10, "duplicate node id 0"),
        ("graph [\n  node [ id 0 label \"a ]\n]", 2, 15, "unterminated string"),
        ("graph [\n  node [ id 0\n", 3, 1, "expected ']'"),
        ("graph [ node [ id = 0 ] ]", 1, 19, "expected a number"),
        ("nodes [ ]", 1, 1, "expected 'graph"),
    ])
    func gmlErrors(text: String, line: Int, column: Int, says: String) {
        do {
            _ = try Topology(gml: text, file: "x.gml")
            Issue.record("no error for \(text)")
        } catch {
            #expect((error.line, error.column) == (line, column), "\(error)")
            #expect(error.message.contains(says), "\(error)")
        }
    }

    @Test func gmlDropsSelfLoopsAndParallelEdges() throws {
        let t = try Topology(gml: "graph [ node [ id 1 label \"x y\" ] node [ id 2 label \"x y\" ] edge [ source 1 target 2 ] edge [ source 2 target 1 ] edge [ source 1 target 1 ] ]", metric: .distance)
        #expect(t.nodes.map(\.name) == ["x_y-1", "x_y-2"])
        #expect(t.links.count == 1 && t.links[0].metric == 10 && t.links[0].delay == 1000)
    }

    @Test(arguments: ["diamond.yaml", "abilene.yaml", "level3.yaml", "fattree.yaml"])
    func yamlRoundTrip(file: String) throws {
        let t = try loadBundled(file)
        let again = try Topology(yaml: t.yaml(comment: ["round trip"]), file: "again.yaml")
        #expect(again.name == t.name)
        #expect(again.nodes == t.nodes)
        #expect(again.links == t.links)
        #expect(again.defaultMSD == t.defaultMSD)
    }

    @Test func srteTopologyJSONImport() throws {
        let json = """
        {"format": "srte-topology/1", "name": "tiny", "generator": {"model": "x"},
         "nodes": [{"name": "n1", "locator": "fc00:0:1::/48"}, {"name": "n2", "locator": "fc00:0:2::/48"}, {"name": "n3", "locator": "fc00:0:3::/48"}],
         "links": [{"a": "n1", "b": "n2", "igp": 3}, {"a": "n2", "b": "n3", "igp": 4}, {"a": "n1", "b": "n3", "igp": 9}],
         "pairs": [{"from": "n1", "to": "n3", "node_connectivity": 2, "link_connectivity": 2}]}
        """
        let r = try Topology.importSRTETopologyJSON(json)
        #expect(r.topology.nodes.count == 3 && r.topology.links.map(\.metric) == [3, 4, 9])
        #expect(r.pairs.count == 1 && r.pairs[0].from == "n1" && r.pairs[0].to == "n3")
        let plan = try DisjointPathPlanner(topology: r.topology, metric: .igp).plan(from: "n1", to: "n3", k: 2)
        #expect(plan.totalCost == 16)
        #expect(throws: TopologyError.self) { try Topology(srteTopologyJSON: "{\"format\": \"other\"}") }
        #expect(throws: TopologyError.self) { try Topology(srteTopologyJSON: "{\"format\": ") }
        let huge = json.replacingOccurrences(of: "\"igp\": 9", with: "\"igp\": 1e300")
        #expect(throws: TopologyError.self) { try Topology(srteTopologyJSON: huge) }
        // Infinite coordinates are treated as missing, not a crash.
        let t = try Topology(gml: "graph [ node [ id 1 Latitude 1e999 Longitude 0 ] node [ id 2 Latitude 0 Longitude 0 ] edge [ source 1 target 2 ] ]")
        #expect(t.links[0].metric == 10)
    }
}

/// Every bundled topology parses, plans and encodes.
@Suite struct BundledTopologyTests {
    /// The two best-connected nodes (ties by name): a pair with several disjoint paths.
    func hubs(_ t: Topology) -> (Int, Int) {
        var deg = [Int](repeating: 0, count: t.nodes.count)
        for l in t.links { deg[l.a] += 1; deg[l.b] += 1 }
        let order = t.nodes.indices.sorted { (deg[$0], t.nodes[$1].name) > (deg[$1], t.nodes[$0].name) }
        return (order[0], order[1])
    }

    @Test(arguments: ["diamond.yaml", "abilene.yaml", "level3.yaml", "fattree.yaml"])
    func parsesPlansAndEncodes(file: String) throws {
        let t = try loadBundled(file)
        #expect(t.nodes.allSatisfy { n in
            let a = n.kind == .host ? n.address! : n.locator!.address
            return a.high >> 57 == 0xfc >> 1   // ULA fc00::/7
        })
        let (s, d) = hubs(t)
        for metric in PathMetric.allCases {
            let planner = DisjointPathPlanner(topology: t, metric: metric)
            for mode in Disjointness.allCases {
                let r = try PlanReport(topology: t, from: t.nodes[s].name, to: t.nodes[d].name, k: 3, disjoint: mode,
                                       metric: metric, planner: planner)
                #expect(r.paths.count >= 1, "\(file) \(metric) \(mode)")
                #expect(checkPaths(t, r.paths.map(\.path), from: s, to: d, disjoint: mode, metric: metric) == nil)
                for p in r.paths { #expect(p.segments.last?.node == d) }
            }
        }
    }

    @Test func fattreeHostsGetTwoPathsBeyondTheirToR() throws {
        let t = try loadBundled("fattree.yaml")
        let r = try PlanReport(topology: t, from: "h0-0-0", to: "h3-1-1", k: 4, disjoint: .node)
        #expect(r.paths.count == 2)
        #expect(r.totalCost == 12)
        let strict = try PlanReport(topology: t, from: "h0-0-0", to: "h3-1-1", k: 4, disjoint: .node, strict: true)
        #expect(strict.paths.count == 1)
    }
}
