import Foundation
import Testing
@testable import SubflowSteering
import NetworkLab
import LinuxSystem
import SRv6Paths
import TestSupport

@Suite struct PlanCLITests {
    let diamond = packageRoot + "/topologies/diamond.yaml"

    @Test func diamondJSON() throws {
        let r = try runSrte(["plan", diamond, "--from", "h1", "--to", "h2", "-k", "3", "--disjoint", "node", "--format", "json"])
        #expect(r.status == 0, "\(r.err)")
        let obj = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [String: Any]
        #expect(obj["from"] as? String == "h1" && obj["to"] as? String == "h2")
        #expect(obj["requested"] as? Int == 3 && obj["found"] as? Int == 3 && obj["totalCost"] as? Int == 150)
        let paths = obj["paths"] as! [[String: Any]]
        #expect(paths.map { ($0["hops"] as! [String])[2] } == ["a", "b", "c"])
        #expect(paths.map { $0["delay"] as! Double } == [6, 8, 10])
        // Via a is the IGP path: the destination alone; via b it takes b's node SID.
        #expect(paths[0]["segments"] as! [[String: String]] == [["sid": "fc00:2::2", "kind": "destination", "node": "h2"]])
        #expect(paths[1]["segments"] as! [[String: String]] == [["sid": "fc00:0:b::1", "kind": "node", "node": "b"], ["sid": "fc00:2::2", "kind": "destination", "node": "h2"]])
        #expect(r.err.contains("single-homed"))
    }

    /// `--compress reduced`: the path via b (plain End) starts with r1's End.X C-SID, sent as the
    /// Destination Address; `wire` carries what leaves h1, and the SRH hex decodes as a reduced SRH.
    @Test func compressedWireInJSON() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("srte-plan-csid-\(getpid()).yaml").path
        try diamondCSIDYAML.write(toFile: file, atomically: true, encoding: .utf8)
        defer { unlink(file) }
        func wires(_ mode: String) throws -> [[String: Any]] {
            let r = try runSrte(["plan", file, "--from", "h1", "--to", "h2", "-k", "2", "--disjoint", "node", "--compress", mode, "--format", "json"])
            #expect(r.status == 0, "\(r.err)")
            let obj = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [String: Any]
            return (obj["paths"] as! [[String: Any]]).map { $0["wire"] as! [String: Any] }
        }
        let reduced = try wires("reduced"), full = try wires("full")
        #expect(reduced[0]["destination"] as? String == "fc00:2::2" && reduced[0]["srh"] is NSNull && reduced[0]["srhBytes"] as? Int == 0)
        #expect(reduced[1]["destination"] as? String == "fc00:0:1:e003::" && reduced[1]["reduced"] as? Bool == true)
        #expect(reduced[1]["srhBytes"] as? Int == 24 && reduced[1]["bytesSaved"] as? Int == 16)
        let hex = try #require(reduced[1]["srh"] as? String)
        let srh = try ReducedSegmentRoutingHeader(decoding: try Hex.decode(hex), destination: IPv6Address("fc00:0:1:e003::")!)
        #expect(srh.header.segments == [IPv6Address("fc00:2::2")!])
        // Planned for a full SRH, the path via b keeps b's whole SID: 40 bytes, nothing saved.
        #expect(full[1]["destination"] as? String == "fc00:0:b::1" && full[1]["reduced"] as? Bool == false)
        #expect(full[1]["srhBytes"] as? Int == 40 && full[1]["bytesSaved"] as? Int == 0)
        // --fewest-bytes is --compress full; asking both ways differently is refused.
        let both = try runSrte(["plan", file, "--from", "h1", "--to", "h2", "--fewest-bytes", "--compress", "reduced"])
        #expect(both.status == 2 && both.err.contains("--fewest-bytes is --compress full"), "\(both.err)")
    }

    @Test func textTableAndFewerPathsNote() throws {
        let r = try runSrte(["plan", diamond, "--from", "h1", "--to", "h2", "-k", "5", "--disjoint", "node"])
        #expect(r.status == 0)
        #expect(r.out.contains("3 of 5 node-disjoint paths"))
        #expect(r.out.contains("h1 r1 a r2 h2"))
        #expect(r.out.contains("note: only 3 node-disjoint paths"))
    }

    @Test func strictGivesOnePath() throws {
        let r = try runSrte(["plan", diamond, "--from", "h1", "--to", "h2", "-k", "3", "--strict", "--format", "json"])
        #expect(r.status == 0)
        #expect(r.out.contains("\"found\": 1"))
    }

    @Test func iproute2AndDot() throws {
        let r = try runSrte(["plan", "--topology", diamond, "--from", "r1", "--to", "r2", "-k", "2", "--format", "iproute2"])
        #expect(r.status == 0)
        #expect(r.out.contains("ip -6 route add fc00:0:2::1/128 table 101 encap seg6 mode encap segs fc00:0:2::1 dev IFACE_a"))
        #expect(r.out.contains("ip -6 route add fc00:0:2::1/128 table 102 encap seg6 mode encap segs fc00:0:b::1,fc00:0:2::1 dev IFACE_b"))
        let d = try runSrte(["plan", diamond, "--from", "h1", "--to", "h2", "-k", "3", "--disjoint", "node", "--format", "dot"])
        #expect(d.status == 0)
        #expect(d.out.hasPrefix("graph \"diamond\" {"))
        #expect(d.out.contains("\"r1\" -- \"a\" [color=\"#d62728\""))
    }

    @Test func errorsAndExitCodes() throws {
        let unknown = try runSrte(["plan", diamond, "--from", "h1", "--to", "nowhere"])
        #expect(unknown.status == 2 && unknown.err.contains("unknown node 'nowhere'"))
        let missing = try runSrte(["plan", "/nonexistent.yaml", "--from", "a", "--to", "b"])
        #expect(missing.status == 2)
        // A topology error names file:line:column.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("srte-plan-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let bad = dir.appendingPathComponent("bad.yaml").path
        try "name: x\nnodes:\n  r1: { locator: \"fc00:0:1::/48\" }\nlinks:\n  - { endpoints: [r1, r2] }\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let e = try runSrte(["plan", bad, "--from", "r1", "--to", "r2"])
        #expect(e.status == 2)
        #expect(e.err.contains("bad.yaml:5:23: link to unknown node 'r2'"), "\(e.err)")
        // No path at all: exit 1.
        let split = dir.appendingPathComponent("split.yaml").path
        try "name: s\nnodes:\n  a: { locator: \"fc00:0:1::/48\" }\n  b: { locator: \"fc00:0:2::/48\" }\nlinks: []\n".write(toFile: split, atomically: true, encoding: .utf8)
        let none = try runSrte(["plan", split, "--from", "a", "--to", "b", "--format", "json"])
        #expect(none.status == 1)
        #expect(none.out.contains("\"found\": 0"))
        // MSD too small for a path that needs two SIDs (the second path, via b).
        let msd = try runSrte(["plan", diamond, "--from", "r1", "--to", "r2", "-k", "2", "--msd", "1"])
        #expect(msd.status == 1 && msd.err.contains("maximum SID depth 1"))
    }

    @Test func topologyImport() throws {
        let r = try runSrte(["topology", "import", packageRoot + "/Tests/Fixtures/abilene.gml", "--metric", "hops"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("name: Abilene"))
        #expect(r.out.contains("- { endpoints: [New_York, Chicago], metric: 10, delay: 5.728ms }"))
        let c = try runSrte(["topology", "check", diamond])
        #expect(c.out == "diamond: 5 routers, 2 hosts, 8 links\n")
    }
}


@Suite struct PlanSVGTests {
    @Test func svgNeedsGraphvizOrWritesTheFile() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("srte-\(getpid()).svg").path
        let r = try runSrte(["plan", packageRoot + "/topologies/diamond.yaml", "--from", "h1", "--to", "h2", "-k", "3",
                             "--disjoint", "node", "--format", "json", "--svg", out])
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/dot") {
            #expect(r.status == 0, "\(r.err)")
            #expect(try String(contentsOfFile: out, encoding: .utf8).contains("<svg"))
        } else {
            #expect(r.status == 3)
            #expect(r.err.contains("needs Graphviz 'dot'"))
            #expect(r.out.contains("\"found\": 3"))   // the plan itself is still printed
        }
    }
}
