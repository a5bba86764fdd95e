import Testing
@testable import SRv6Paths
import TestSupport

private func a(_ s: String) -> IPv6Address { try! IPv6Address(parsing: s) }

/// A diamond whose routers compress, except `old` (only the kernel's End) and `x` (another block).
private let csidYAML = """
name: c
csid: { block: "fc00:0::/32", length: 16 }
nodes:
  h1: { kind: host, address: "fc00:1::1" }
  r1: { locator: "fc00:0:1::/48" }
  a:  { locator: "fc00:0:a::/48" }
  old: { locator: "fc00:0:b::/48", csid: none }
  x:  { locator: "fc01:0:5::/48", csid: { block: "fc01::/32" } }
  r2: { locator: "fc00:0:2::/48" }
  h2: { kind: host, address: "fc00:2::2" }
links:
  - { endpoints: [h1, r1] }
  - { endpoints: [r1, a], csids: { r1: 0xe00a } }
  - { endpoints: [r1, old] }
  - { endpoints: [a, x] }
  - { endpoints: [old, r2] }
  - { endpoints: [x, r2] }
  - { endpoints: [r2, h2] }
"""

@Suite struct TopologyCSIDTests {
    @Test func readsTheConfiguration() throws {
        let t = try Topology(yaml: csidYAML, file: "c.yaml")
        #expect(t.csid?.format == (try CSIDFormat.f3216(block: IPv6Prefix(parsing: "fc00:0::/32"))))
        #expect(t.csid?.localRange == 0xe000...0xffff)
        let i = { (n: String) in t.index(of: n)! }
        #expect(t.endCSID(ofNode: i("r1")) == 1)
        #expect(t.endCSID(ofNode: i("a")) == 0xa)
        #expect(t.endCSID(ofNode: i("old")) == nil)                 // csid: none
        #expect(t.endCSID(ofNode: i("x")) == 5)                     // its own block
        #expect(t.csidDomain(ofNode: i("x"))?.format.block.description == "fc01::/32")
        #expect(t.endCSID(ofNode: i("h1")) == nil)
        #expect(t.adjacencyCSID(link: 1, from: i("r1")) == 0xe00a)  // explicit
        #expect(t.adjacencyCSID(link: 1, from: i("a")) == 0xe001)   // a's first link
        #expect(t.adjacencyCSID(link: 2, from: i("r1")) == 0xe003)  // r1's third link
        #expect(t.adjacencyCSID(link: 2, from: i("old")) == nil)
    }

    @Test func compressesPlannerSegments() throws {
        let t = try Topology(yaml: csidYAML)
        let r1 = t.nodeSID(of: "r1")!, aSID = t.nodeSID(of: "a")!, r2 = t.nodeSID(of: "r2")!
        let h2 = a("fc00:2::2")
        // Node SIDs of one block share a container; the host stays whole.
        let c = t.compressed([r1, aSID, r2, h2])
        #expect(c.segments == [a("fc00:0:1:a:2::"), h2])
        #expect(c.reducible)
        // An adjacency SID becomes the router's End C-SID followed by its End.X C-SID.
        let adj = t.adjacencySID(from: "r1", to: "a")!
        #expect(t.compressed([adj, r2, h2]).segments == [a("fc00:0:1:e00a:2::"), h2])
        // A csid: none router keeps its full SID and is never the head of a reduced SRH.
        let old = t.nodeSID(of: "old")!
        let o = t.compressed([old, r2, h2])
        #expect(o.segments == [old, a("fc00:0:2::"), h2])
        #expect(!o.reducible)
        // Another block closes the container.
        let x = t.nodeSID(of: "x")!
        #expect(t.compressed([aSID, x, r2, h2]).segments == [a("fc00:0:a::"), a("fc01:0:5::"), a("fc00:0:2::"), h2])
        // One entry only: nothing to reduce.
        #expect(!t.compressed([h2]).reducible)
    }

    /// The YAML writer keeps every C-SID setting.
    @Test func yamlWriterRoundTrips() throws {
        let t = try Topology(yaml: csidYAML)
        let again = try Topology(yaml: t.yaml(), file: "again.yaml")
        #expect(again.csid == t.csid)
        #expect(again.nodes.map(\.csid) == t.nodes.map(\.csid))
        #expect(again.links.map(\.csidFromA) == t.links.map(\.csidFromA))
        #expect(again.links.map(\.csidFromB) == t.links.map(\.csidFromB))
        for i in t.nodes.indices { #expect(again.endCSID(ofNode: i) == t.endCSID(ofNode: i)) }
    }

    @Test func topologiesWithoutCSIDsAreUnchanged() throws {
        let t = try Topology(yaml: baseYAML)
        #expect(t.csid == nil)
        #expect(t.endCSID(ofNode: 0) == nil)
        let segs = [t.nodeSID(of: "r2")!, a("fc00:1::1")]
        #expect(t.compressed(segs).segments == segs)
    }

    static let errorCases: [ParserErrorCase] = [
        ParserErrorCase(name: "locator outside the block",
                        yaml: csidYAML.replacingOccurrences(of: "a:  { locator: \"fc00:0:a::/48\" }", with: "a:  { locator: \"fc09:0:a::/48\" }"),
                        line: 6, column: 3, says: "not inside the C-SID block fc00::/32"),
        ParserErrorCase(name: "C-SID does not fit",
                        yaml: csidYAML.replacingOccurrences(of: "r1: { locator: \"fc00:0:1::/48\" }", with: "r1: { locator: \"fc00:0:1:1::/64\" }"),
                        line: 5, column: 3, says: "more than a 16-bit C-SID holds"),
        ParserErrorCase(name: "End C-SID 0",
                        yaml: csidYAML.replacingOccurrences(of: "r1: { locator: \"fc00:0:1::/48\" }", with: "r1: { locator: \"fc00:0:0::/48\" }"),
                        line: 5, column: 3, says: "End C-SID 0"),
        ParserErrorCase(name: "End C-SID in the local range",
                        yaml: csidYAML.replacingOccurrences(of: "r1: { locator: \"fc00:0:1::/48\" }", with: "r1: { locator: \"fc00:0:e001::/48\" }"),
                        line: 5, column: 3, says: "inside the local C-SID range 0xe000-0xffff"),
        ParserErrorCase(name: "duplicate End C-SID",
                        yaml: csidYAML.replacingOccurrences(of: "r2: { locator: \"fc00:0:2::/48\" }", with: "r2: { locator: \"fc00:0:1::/48\", sid: \"fc00:0:1::2\" }"),
                        line: 9, column: 3, says: "already the locator of 'r1'"),
        ParserErrorCase(name: "explicit End.X C-SID outside the local range",
                        yaml: csidYAML.replacingOccurrences(of: "csids: { r1: 0xe00a }", with: "csids: { r1: 0x10 }"),
                        line: 13, column: 5, says: "outside the local C-SID range"),
        ParserErrorCase(name: "duplicate End.X C-SID",
                        yaml: csidYAML.replacingOccurrences(of: "csids: { r1: 0xe00a }", with: "csids: { r1: 0xe003 }"),
                        line: 14, column: 5, says: "already its End.X C-SID toward 'a'"),
        ParserErrorCase(name: "End.X C-SID on a csid: none router",
                        yaml: csidYAML.replacingOccurrences(of: "- { endpoints: [r1, old] }", with: "- { endpoints: [r1, old], csids: { old: 0xe001 } }"),
                        line: 14, column: 5, says: "'old' has no C-SIDs"),
        ParserErrorCase(name: "bad C-SID length",
                        yaml: csidYAML.replacingOccurrences(of: "length: 16 }", with: "length: 12 }"),
                        line: 2, column: 39, says: "multiple of 8"),
        ParserErrorCase(name: "unknown csid key",
                        yaml: csidYAML.replacingOccurrences(of: "length: 16 }", with: "lenght: 16 }"),
                        line: 2, column: 31, says: "did you mean 'length'"),
        ParserErrorCase(name: "csid on a host",
                        yaml: csidYAML.replacingOccurrences(of: "h2: { kind: host, address: \"fc00:2::2\" }", with: "h2: { kind: host, address: \"fc00:2::2\", csid: none }"),
                        line: 10, column: 49, says: "never compressed"),
        ParserErrorCase(name: "csid neither none nor a mapping",
                        yaml: csidYAML.replacingOccurrences(of: "csid: none }", with: "csid: off }"),
                        line: 7, column: 42, says: "expected 'csid' to be none"),
        ParserErrorCase(name: "bad local range",
                        yaml: csidYAML.replacingOccurrences(of: "length: 16 }", with: "length: 16, local: \"0xffff-0xe000\" }"),
                        line: 2, column: 50, says: "local C-SID range"),
        ParserErrorCase(name: "C-SID 0 on a link",
                        yaml: csidYAML.replacingOccurrences(of: "csids: { r1: 0xe00a }", with: "csids: { r1: 0 }"),
                        line: 13, column: 40, says: "0 ends a container"),
    ]

    @Test(arguments: errorCases)
    func errorsNameTheirPosition(_ c: ParserErrorCase) {
        do {
            _ = try Topology(yaml: c.yaml, file: "c.yaml")
            Issue.record("\(c.name): accepted")
        } catch {
            #expect(error.message.contains(c.says), "\(c.name): \(error)")
            #expect((error.line, error.column) == (c.line, c.column), "\(c.name): \(error)")
        }
    }

    /// Topologies built in code are checked the same way, without a position.
    @Test func codeBuiltTopologiesAreChecked() throws {
        let domain = try CSIDDomain(format: try CSIDFormat.f3216(block: IPv6Prefix(parsing: "fc00::/32")))
        #expect(throws: TopologyError.self) {
            try Topology(name: "t", nodes: [.router("r", locator: try IPv6Prefix(parsing: "fc01:0:1::/48"))], links: [], csid: domain)
        }
        let ok = try Topology(name: "t", nodes: [.router("r", locator: try IPv6Prefix(parsing: "fc00:0:1::/48"))], links: [], csid: domain)
        #expect(ok.endCSID(ofNode: 0) == 1)
        #expect(throws: CSIDError.self) { try CSIDDomain(format: domain.format, localRange: 0...5) }
    }
}
