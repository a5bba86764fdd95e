import Testing
@testable import SRv6Paths
import TestSupport

/// A small valid file; each error case edits one spot of it.
let baseYAML = """
name: t
nodes:
  r1: { locator: "fc00:0:1::/48" }
  r2: { locator: "fc00:0:2::/48" }
  h1: { kind: host, address: "fc00:1::1" }
links:
  - { endpoints: [r1, r2], metric: 10 }
  - { endpoints: [h1, r1] }
"""

func edited(_ old: String, _ new: String) -> String {
    precondition(baseYAML.contains(old))
    return baseYAML.replacingOccurrences(of: old, with: new)
}

struct ParserErrorCase: CustomTestStringConvertible, Sendable {
    var name: String
    var yaml: String
    var line: Int
    var column: Int
    var says: String
    var testDescription: String { name }
}

@Suite struct TopologyYAMLTests {
    @Test func parsesBase() throws {
        let t = try Topology(yaml: baseYAML)
        #expect(t.name == "t")
        #expect(t.nodes.map(\.name) == ["r1", "r2", "h1"])
        #expect(t.links.count == 2)
        #expect(t.links[0].metric == 10 && t.links[0].teMetric == 10 && t.links[0].delay == 1000)
        #expect(t.nodeSID(of: "r1")?.description == "fc00:0:1::1")
        #expect(t.nodeSID(of: "h1") == nil)
        #expect(t.adjacencySID(from: "r1", to: "r2")?.description == "fc00:0:1::e001")
        #expect(t.adjacencySID(from: "r1", to: "h1")?.description == "fc00:0:1::e002")
        #expect(t.adjacencySID(from: "r2", to: "r1")?.description == "fc00:0:2::e001")
        #expect(t.adjacencySID(from: "h1", to: "r1") == nil)
        #expect(t.adjacencySID(from: "r2", to: "h1") == nil)
    }

    @Test func attributesDefaultsAndExplicitSIDs() throws {
        let y = """
        name: attrs
        defaults: { metric: 7, delay: 2ms, bandwidth: 1Gbit, msd: 5, mtu: 9000 }
        nodes:
          r1: { locator: "fc00:0:1::/48", sid: "fc00:0:1::100", msd: 3 }
          r2: { locator: "fc00:0:2::/48" }
        links:
          - endpoints: [r1, r2]
            te-metric: 30
            delay: 1.5ms
            bandwidth: 50Mbit
            mtu: 1500
            srlg: [duct-1, duct-2]
            sids: { r2: "fc00:0:2::abc" }
          - { endpoints: [r2, r1], metric: 3, delay: 250us }
        """
        let t = try Topology(yaml: y)
        #expect(t.defaultMSD == 5)
        #expect(t["r1"]?.msd == 3)
        #expect(t.nodeSID(of: "r1")?.description == "fc00:0:1::100")
        let l0 = t.links[0], l1 = t.links[1]
        #expect(l0.metric == 7 && l0.teMetric == 30 && l0.delay == 1500 && l0.bandwidth == 50_000_000)
        #expect(l0.srlgs == ["duct-1", "duct-2"])
        #expect(l0.mtu == 1500 && l1.mtu == 9000, "a link's mtu, else the default's")
        #expect(try Topology(yaml: baseYAML).links.allSatisfy { $0.mtu == nil })
        #expect(try t.settingMTU(1280).links.allSatisfy { $0.mtu == 1280 })
        #expect(throws: TopologyError.self) { try t.settingMTU(1279) }
        #expect(l1.metric == 3 && l1.teMetric == 3 && l1.delay == 250 && l1.bandwidth == 1_000_000_000)
        #expect(t.adjacencySID(link: 0, from: 1)?.description == "fc00:0:2::abc")
        #expect(t.adjacencySID(link: 0, from: 0)?.description == "fc00:0:1::e001")
        #expect(t.adjacencySID(link: 1, from: 0)?.description == "fc00:0:1::e002")
        #expect(t.adjacencySID(link: 1, from: 1)?.description == "fc00:0:2::e002")
        let table = t.sidTable()
        #expect(table[try IPv6Address(parsing: "fc00:0:2::abc")] == Topology.SIDOwner(node: 1, link: 0))
    }

    static let errorCases: [ParserErrorCase] = [
        .init(name: "unknown top-level key", yaml: baseYAML + "\nlinkz: []", line: 9, column: 1, says: "unknown key 'linkz' in the topology"),
        .init(name: "unknown node key (typo)", yaml: edited("r2: { locator", "r2: { locater"), line: 4, column: 9, says: "did you mean 'locator'"),
        .init(name: "unknown link key", yaml: edited("metric: 10", "weight: 10"), line: 7, column: 28, says: "unknown key 'weight' in a link"),
        .init(name: "duplicate node", yaml: edited("  h1: {", "  r1: { locator: \"fc00:0:9::/48\" }\n  h1: {"), line: 5, column: 3, says: "duplicate key 'r1' (first at 3:3)"),
        .init(name: "link to unknown node", yaml: edited("[h1, r1]", "[h1, r9]"), line: 8, column: 23, says: "link to unknown node 'r9'"),
        .init(name: "bad prefix length", yaml: edited("fc00:0:2::/48", "fc00:0:2::/200"), line: 4, column: 18, says: "bad locator"),
        .init(name: "prefix without length", yaml: edited("fc00:0:2::/48", "fc00:0:2::"), line: 4, column: 18, says: "missing '/LENGTH'"),
        .init(name: "host bits in prefix", yaml: edited("fc00:0:2::/48", "fc00:0:2::1/48"), line: 4, column: 18, says: "host bits"),
        .init(name: "locator too long", yaml: edited("fc00:0:2::/48", "fc00:0:2::/120"), line: 4, column: 18, says: "at most /112"),
        .init(name: "bad address", yaml: edited("fc00:1::1", "fc00:1::g"), line: 5, column: 30, says: "bad address"),
        .init(name: "zero metric", yaml: edited("metric: 10", "metric: 0"), line: 7, column: 36, says: "'metric' must be a positive integer, got 0"),
        .init(name: "negative metric", yaml: edited("metric: 10", "metric: -5"), line: 7, column: 36, says: "got -5"),
        .init(name: "metric too large", yaml: edited("metric: 10", "metric: 16777216"), line: 7, column: 36, says: "at most 16777215"),
        .init(name: "delay too large", yaml: edited("metric: 10", "delay: 20s"), line: 7, column: 35, says: "between 1us and"),
        .init(name: "fractional metric", yaml: edited("metric: 10", "metric: 2.5"), line: 7, column: 36, says: "positive integer, got '2.5'"),
        .init(name: "self-loop", yaml: edited("[h1, r1]", "[r1, r1]"), line: 8, column: 18, says: "self-loop"),
        .init(name: "one endpoint", yaml: edited("[h1, r1]", "[h1]"), line: 8, column: 18, says: "list of two node names"),
        .init(name: "missing endpoints", yaml: edited("{ endpoints: [h1, r1] }", "{ metric: 3 }"), line: 8, column: 5, says: "needs 'endpoints"),
        .init(name: "bandwidth unit typo", yaml: edited("metric: 10", "bandwidth: 50Mbt"), line: 7, column: 39, says: "unknown bandwidth unit 'Mbt'"),
        .init(name: "mtu below the IPv6 minimum", yaml: edited("metric: 10", "mtu: 1000"), line: 7, column: 33, says: "'mtu' must be between 1280 (the IPv6 minimum) and 65535 bytes, got 1000"),
        .init(name: "mtu not a number", yaml: edited("metric: 10", "mtu: jumbo"), line: 7, column: 33, says: "expected 'mtu' to be a positive integer, got 'jumbo'"),
        .init(name: "delay unit typo", yaml: edited("metric: 10", "delay: 2mss"), line: 7, column: 35, says: "unknown delay unit 'mss'"),
        .init(name: "delay without unit", yaml: edited("metric: 10", "delay: 2"), line: 7, column: 35, says: "needs a unit"),
        .init(name: "zero delay", yaml: edited("metric: 10", "delay: 0ms"), line: 7, column: 35, says: "must be positive"),
        .init(name: "YAML syntax", yaml: edited("metric: 10 }", "metric: 10"), line: 8, column: 5, says: "YAML syntax error"),
        .init(name: "router without locator", yaml: edited("r2: { locator: \"fc00:0:2::/48\" }", "r2: {}"), line: 4, column: 3, says: "router 'r2' needs a 'locator'"),
        .init(name: "host with locator", yaml: edited("kind: host, address", "kind: host, locator"), line: 5, column: 30, says: "host 'h1' takes an 'address'"),
        .init(name: "unknown kind", yaml: edited("kind: host", "kind: hots"), line: 5, column: 15, says: "unknown node kind 'hots'"),
        .init(name: "node SID clash", yaml: edited("fc00:0:2::/48", "fc00:0:1::/48"), line: 4, column: 3, says: "already the locator of 'r1'"),
        .init(name: "host address clashes with a node SID", yaml: edited("fc00:1::1", "fc00:0:2::1"), line: 5, column: 3, says: "already the node SID of 'r2'"),
        .init(name: "missing nodes", yaml: "name: x\nlinks: []\n", line: 1, column: 1, says: "missing key 'nodes'"),
        .init(name: "nodes not a mapping", yaml: "name: x\nnodes: [a, b]\nlinks: []\n", line: 2, column: 8, says: "expected nodes (a mapping"),
        .init(name: "empty file", yaml: "", line: 1, column: 1, says: "empty file"),
        .init(name: "srlg not a list", yaml: edited("metric: 10", "srlg: duct"), line: 7, column: 34, says: "expected 'srlg' to be a list"),
        .init(name: "End.X SID for a non-endpoint", yaml: edited("metric: 10", "sids: { h1: \"fc00::5\" }"), line: 7, column: 36, says: "'h1' is not an endpoint"),
        .init(name: "msd too large", yaml: edited("r2: { locator: \"fc00:0:2::/48\" }", "r2: { locator: \"fc00:0:2::/48\", msd: 500 }"), line: 4, column: 40, says: "'msd' must be at most 127"),
    ]

    @Test(arguments: errorCases)
    func rejectsWithPosition(_ c: ParserErrorCase) {
        do {
            _ = try Topology(yaml: c.yaml, file: "t.yaml")
            Issue.record("\(c.name): parsed without error")
        } catch {
            #expect(error.file == "t.yaml")
            #expect((error.line, error.column) == (c.line, c.column), "\(c.name): \(error)")
            #expect(error.message.contains(c.says), "\(c.name): \(error)")
            #expect(error.description.hasPrefix("t.yaml:\(error.line):\(error.column): "))
        }
    }

    @Test func unitParsers() throws {
        #expect(try Topology.parseDelay("2ms") == 2000)
        #expect(try Topology.parseDelay("1.5ms") == 1500)
        #expect(try Topology.parseDelay("300us") == 300)
        #expect(try Topology.parseDelay("0.01s") == 10_000)
        #expect(try Topology.parseBandwidth("50Mbit") == 50_000_000)
        #expect(try Topology.parseBandwidth("10Gbit") == 10_000_000_000)
        #expect(try Topology.parseBandwidth("100kbit") == 100_000)
        #expect(throws: Topology.UnitError.self) { try Topology.parseBandwidth("50 Mbyte") }
        #expect(throws: Topology.UnitError.self) { try Topology.parseDelay("-2ms") }
        #expect(throws: Topology.UnitError.self) { try Topology.parseDelay("ms") }
    }
}

/// Mangled files never crash the reader: each either parses or fails with a positioned error.
@Suite struct TopologyYAMLRobustnessTests {
    @Test(arguments: Array(UInt64(1)...UInt64(8)))
    func mangledFilesFailCleanly(seed: UInt64) throws {
        let original = Array(try String(contentsOfFile: packageRoot + "/topologies/diamond.yaml", encoding: .utf8).utf8)
        var rng = SeededRNG(seed: seed)
        let alphabet = Array("{}[]:,-# \n\"'abc019./&*!|>%@`".utf8)
        for _ in 0..<60 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                let i = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: bytes.remove(at: i)
                case 1: bytes.insert(alphabet.randomElement(using: &rng)!, at: i)
                default: bytes[i] = alphabet.randomElement(using: &rng)!
                }
            }
            let text = String(decoding: bytes, as: UTF8.self)
            do {
                let t = try Topology(yaml: text, file: "m.yaml")
                #expect(t.nodes.count > 0 || t.links.isEmpty)
            } catch {
                #expect(error.line >= 1 && error.column >= 1, "\(error)")
                #expect(error.description.hasPrefix("m.yaml:"))
            }
        }
    }
}
