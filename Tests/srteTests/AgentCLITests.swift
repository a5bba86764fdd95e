import Foundation
import Testing
import TestSupport

/// `srte agent check`: a policy validated without root, errors at file:line:column, exit 2.
@Suite struct AgentCLITests {
    func policyFile(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("srte-agent-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func checkPrintsTheRulesAndNotesShadowedOnes() throws {
        let file = try policyFile("""
            rules:
              - match: { to: "fc00:2::/64", port: 5201 }
                paths: [[fc00:0:b::1], [fc00:0:c::1], direct]
              - match: { to: "fc00:2::/64" }
                plan: { topology: \(packageRoot)/topologies/diamond.yaml, from: h1, k: 3, disjoint: node }
                keep: true
              - match: { to: "fc00:2::2", port: 5201 }
                paths: [direct]
            """)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let r = try runSrte(["agent", "check", file])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("3 rules, valid"))
        #expect(r.out.contains("1. line 2: to fc00:2::/64, port 5201 → 3 subflows: [fc00:0:b::1] [fc00:0:c::1] [direct]"), "\(r.out)")
        #expect(r.out.contains("3 node-disjoint paths planned from"), "\(r.out)")
        #expect(r.out.contains("note: rule 3 (line 7) never matches: rule 1 (line 2)"), "\(r.out)")

        let j = try runSrte(["agent", "check", file, "--format", "json"])
        #expect(j.status == 0)
        let json = try JSONSerialization.jsonObject(with: Data(j.out.utf8)) as? [String: Any]
        let rules = json?["rules"] as? [[String: Any]]
        #expect(rules?.count == 3)
        #expect(rules?[1]["subflows"] as? Int == 3 && rules?[1]["keep"] as? Bool == true)
        #expect((json?["notes"] as? [String])?.count == 1)
    }

    @Test func aBadPolicyIsExitTwoWithItsPosition() throws {
        let file = try policyFile("rules:\n  - match: { to: \"fc00:2::/64\", prot: 5201 }\n    paths: [direct]\n")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let r = try runSrte(["agent", "check", file])
        #expect(r.status == 2)
        #expect(r.err.contains("\(file):2:33: unknown key 'prot' in 'match'") && r.err.contains("did you mean 'port'?"), "\(r.err)")
        #expect(r.out.isEmpty)

        let missing = try runSrte(["agent", "check", "/nonexistent/policy.yaml"])
        #expect(missing.status == 2 && missing.err.contains("/nonexistent/policy.yaml: cannot read the policy file"), "\(missing.err)")
    }
}
