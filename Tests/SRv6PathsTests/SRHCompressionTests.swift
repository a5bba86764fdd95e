import Testing
@testable import SRv6Paths
import TestSupport

/// `Topology.compressible()` and `PlanReport.Path.wire(_:topology:)`: what srte open and srte
/// experiment put in their packets for each `SRHCompression`.
@Suite struct SRHCompressionTests {
    @Test func compressibleDerivesF3216FromTheLocators() throws {
        let plain = try bundledTopology("diamond.yaml")
        #expect(!plain.hasCSIDs)
        let t = try plain.compressible()
        #expect(t.hasCSIDs)
        let block = try IPv6Prefix(parsing: "fc00:0::/32")
        #expect(t.csid?.format.block == block && t.csid?.format.csidLength == 16)
        #expect(t.endCSID(ofNode: t.index(of: "b")!) == 0xb)
        // A topology with C-SIDs stays as it is.
        let again = try t.compressible()
        #expect(again.csid == t.csid)
    }

    @Test func compressibleRefusesLocatorsOutsideTheBlock() throws {
        let text = """
        name: two-blocks
        nodes:
          r1: { locator: "fc00:0:1::/48" }
          r2: { locator: "fc00:1:2::/48" }
        links:
          - { endpoints: [r1, r2] }
        """
        let t = try Topology(yaml: text)
        #expect(throws: CSIDError.self) { try t.compressible() }
        do { _ = try t.compressible() } catch { #expect(error.message.contains("r2"), "\(error.message)") }
    }

    @Test func wireListsForEachCompression() throws {
        let t = try bundledTopology("diamond.yaml").compressible()
        let r = try PlanReport(topology: t, from: "h1", to: "h2", k: 3, disjoint: .node, encoding: .fewestBytes)
        #expect(r.paths.count == 3)
        let h2 = try IPv6Address(parsing: "fc00:2::2")
        // The IGP path: no SRH in any form.
        for c in SRHCompression.allCases {
            let w = r.paths[0].wire(c, topology: t)
            #expect(w.entries == [h2] && w.srhBytes == 0 && w.waypoints.isEmpty && !w.reduced)
        }
        let via = r.paths[1]
        let off = via.wire(.off, topology: t), full = via.wire(.full, topology: t), reduced = via.wire(.reduced, topology: t)
        let bSID = try IPv6Address(parsing: "fc00:0:b::1"), bCSID = try IPv6Address(parsing: "fc00:0:b::")
        #expect(off.entries == [bSID, h2] && off.srhBytes == 40 && !off.reduced)
        #expect(full.entries == [bCSID, h2] && full.srhBytes == 40 && !full.reduced)
        #expect(reduced.entries == full.entries && reduced.reduced && reduced.srhBytes == 24)
        #expect(reduced.destination == full.entries[0] && reduced.waypoints == [full.entries[0]])
        // Its reduced SRH on the wire: the container only as Destination Address.
        let srh = try ReducedSegmentRoutingHeader(path: reduced.entries, nextHeader: 6)
        let wire = try srh.encoded()
        #expect(wire.count == reduced.srhBytes && srh.destination == reduced.destination)
    }

    @Test func aListStartingWithAWholeSIDIsNotReduced() throws {
        // b keeps plain End (csid: none): its node SID stays whole, so the list is not reducible.
        let text = try String(contentsOfFile: packageRoot + "/topologies/diamond.yaml", encoding: .utf8)
            .replacingOccurrences(of: "name: diamond\n", with: "name: diamond\ncsid: { block: \"fc00:0::/32\", length: 16 }\n")
            .replacingOccurrences(of: "b:  { locator: \"fc00:0:b::/48\" }", with: "b:  { locator: \"fc00:0:b::/48\", csid: none }")
        let t = try Topology(yaml: text)
        let r = try PlanReport(topology: t, from: "h1", to: "h2", k: 3, disjoint: .node, encoding: .fewestBytes)
        let w = try #require(r.paths.first { $0.path.nodes.contains(t.index(of: "b")!) }).wire(.reduced, topology: t)
        let bSID = try IPv6Address(parsing: "fc00:0:b::1")
        #expect(!w.reduced && w.srhBytes == 40 && w.entries[0] == bSID)
    }
}
