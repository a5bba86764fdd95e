import Foundation
import Testing
import SRv6Paths
import TestSupport
@testable import PathAgent
@testable import SubflowSteering

private func addr(_ s: String) -> IPv6Address { try! IPv6Address(parsing: s) }


/// The agent's compressed lists (RFC 9800): the policy key, the planning, the connect-time
/// rules' wire form, the refusal with --reflect and compressed replacements.
@Suite struct AgentCompressionTests {
    let diamond = packageRoot + "/topologies/diamond.yaml"

    func tempFile(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("srte-agent-csid-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func thePolicyKeyIsReadAndCheckedWithItsPosition() throws {
        let p = try AgentPolicy(yaml: """
            rules:
              - match: { to: "fc00:2::/64" }
                plan: { topology: t.yaml, from: h1, k: 2, compress: reduced }
              - match: { to: "fc00:3::/64" }
                plan: { topology: t.yaml, from: h1, compress: off }
            """)
        guard case .plan(let a) = p.rules[0].paths, case .plan(let b) = p.rules[1].paths else { Issue.record("planned rules expected"); return }
        #expect(a.compress == .reduced && b.compress == .off)
        do {
            _ = try AgentPolicy(yaml: "rules:\n  - match: {}\n    plan: { topology: t.yaml, from: h1, compress: zip }\n", file: "p.yaml")
            Issue.record("accepted compress: zip")
        } catch {
            #expect("\(error)".hasPrefix("p.yaml:3:51: expected 'compress' to be off (whole SIDs), full"), "\(error)")
        }
    }

    @Test func plannedPathsArePackedAsSrteOpenPacksThem() throws {
        let prefix = try IPv6Prefix(parsing: "fc00:2::/64")
        func plan(_ c: SRHCompression?, file: String? = nil, reflect: Bool = false) throws -> Agent.PlannedDestination {
            let spec = PlanSpec(topology: "t.yaml", topologyPath: file ?? diamond, from: "h1", k: 3, disjoint: .node, compress: c)
            return try Agent.plan(spec, covering: prefix, rule: 0, line: 2, reflect: reflect)[0]
        }
        // A topology without csid: whole SIDs unless asked; asked, it gets F3216 (srte testbed up --csid).
        let off = try plan(nil)
        #expect(off.compression == .off && off.paths == [.direct, .segments([addr("fc00:0:b::1")]), .segments([addr("fc00:0:c::1")])])
        #expect(off.srhBytes == [0, 40, 40] && off.reduced == [false, false, false])
        let reduced = try plan(.reduced)
        #expect(reduced.paths == [.direct, .segments([addr("fc00:0:b::")]), .segments([addr("fc00:0:c::")])], "\(reduced.paths)")
        #expect(reduced.reduced == [false, true, true] && reduced.srhBytes == [0, 24, 24])
        let full = try plan(.full)
        #expect(full.paths == reduced.paths && full.reduced == [false, false, false] && full.srhBytes == [0, 40, 40])

        // A topology that declares csid: reduced by default.
        let file = try tempFile(try String(contentsOfFile: diamond, encoding: .utf8)
            .replacingOccurrences(of: "defaults:", with: "csid: { block: \"fc00:0::/32\", length: 16 }\ndefaults:"))
        defer { unlink(file) }
        #expect(try plan(nil, file: file).compression == .reduced)

        // An agent that reflects: whole SIDs by default, compression refused with the reason.
        #expect(try plan(nil, file: file, reflect: true).compression == .off)
        do { _ = try plan(.reduced, file: file, reflect: true); Issue.record("accepted compress reduced with --reflect") } catch {
            #expect("\(error)".contains("compress reduced with --reflect") && "\(error)".contains("reduced SRH"), "\(error)")
        }
        #expect(throws: AgentError.self) { _ = try plan(.full, reflect: true) }
    }

    /// The initial subflow's connect-time rule carries the first path's wire form: the
    /// container as Destination Address, the SRH template with `::` as Segment List[0].
    @Test func theConnectTimeRuleCarriesTheWireForm() throws {
        let file = try tempFile(trapCSIDYAML)
        defer { unlink(file) }
        let policy = AgentPolicy(rules: [Rule(match: Match(to: try IPv6Prefix(parsing: "fc00:2::/64")),
                                              paths: .plan(PlanSpec(topology: "trap.yaml", topologyPath: file, from: "h1", k: 2)))])
        let (rules, resolved) = try Agent.compile(policy)
        let first = try #require(rules.first { $0.destination == IPv6Prefix(address: addr("fc00:2::2"), length: 128) })
        #expect(first.reduced && first.waypoints.count == 1, "\(first)")
        let wire = try #require(try first.wire())
        // End C-SID of a, then its End.X C-SID toward t (a's third link): one container.
        #expect(wire.destination == addr("fc00:0:a:e003::"))
        #expect(wire.srh.count == 24)
        #expect(Array(wire.srh[0..<5]) == [6, 2, 4, 1, 0], "next header TCP, 24 bytes, type 4, SL 1 = LE + 1, LE 0")
        #expect(wire.srh[8...].allSatisfy { $0 == 0 }, "Segment List[0] is left for the program")
        // The join's path too, and the same rule in a full SRH.
        guard case .planned(let owners) = resolved[0] else { Issue.record("planned"); return }
        #expect(owners[0].paths == [.segments([addr("fc00:0:a:e003::")]), .segments([addr("fc00:0:1:e003::")])], "\(owners[0].paths)")
        #expect(owners[0].reduced == [true, true] && owners[0].srhBytes == [24, 24])
        var fullRule = first
        fullRule.reduced = false
        let f = try #require(try fullRule.wire())
        #expect(f.destination == addr("fc00:0:a:e003::") && f.srh.count == 40 && f.srh[3] == 1 && f.srh[4] == 1)
        #expect(Array(f.srh[24..<40]) == addr("fc00:0:a:e003::").bytes)
        // No waypoints: no SRH.
        #expect(try ConnectSteering.Rule(destination: try IPv6Prefix(parsing: "fc00::/16"), waypoints: []).wire() == nil)
    }

    /// `keep`: a replacement is re-planned for the fewest bytes and packed like the rule's paths.
    @Test func replacementsAreCompressedToo() throws {
        let topology = try Topology(yaml: try String(contentsOfFile: diamond, encoding: .utf8)).compressible()
        let report = try PlanReport(topology: topology, from: "h1", to: "h2", k: 2, disjoint: .node, encoding: .fewestBytes)
        #expect(report.paths.map { $0.path.nodes.map { topology.nodes[$0].name } } == [["h1", "r1", "a", "r2", "h2"], ["h1", "r1", "b", "r2", "h2"]])
        let reduced = PathKeeper(plan: report, compression: .reduced).replacement(forFailed: 1, active: [0], newIndex: 2)
        #expect(reduced == .init(waypoints: [addr("fc00:0:c::")], label: "h1 r1 c r2 h2", reduced: true), "\(String(describing: reduced))")
        let full = PathKeeper(plan: report, compression: .full).replacement(forFailed: 1, active: [0], newIndex: 2)
        #expect(full?.waypoints == [addr("fc00:0:c::")] && full?.reduced == false)
        let whole = PathKeeper(plan: report).replacement(forFailed: 1, active: [0], newIndex: 2)
        #expect(whole?.waypoints == [addr("fc00:0:c::1")] && whole?.reduced == false)
    }
}
