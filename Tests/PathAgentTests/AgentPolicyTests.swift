import Foundation
import Testing
import SRv6Paths
import TestSupport
@testable import PathAgent

private func addr(_ s: String) -> IPv6Address { try! IPv6Address(parsing: s) }

@Suite struct AgentPolicyParsingTests {
    static let example = """
        rules:
          - match: { to: "fc00:2::/64", port: 5201 }
            paths: [[fc00:0:b::1], [fc00:0:c::1], direct]
          - match: { to: "fc00:0:1::/48", uid: 1000-1999, cgroup: /system.slice }
            plan: { topology: topologies/abilene.yaml, from: Sunnyvale, k: 3, disjoint: node }
            keep: true
        """

    @Test func readsTheDocumentedExample() throws {
        let p = try AgentPolicy(yaml: Self.example, file: "/etc/srte/policy.yaml")
        #expect(p.rules.count == 2)
        let r0 = p.rules[0]
        #expect(r0.match.to == (try IPv6Prefix(parsing: "fc00:2::/64")))
        #expect(r0.match.ports == 5201...5201)
        #expect(r0.paths == .explicit([.segments([addr("fc00:0:b::1")]), .segments([addr("fc00:0:c::1")]), .direct]))
        #expect(r0.keep == false && r0.line == 2 && r0.column == 5)
        let r1 = p.rules[1]
        #expect(r1.match.uids == 1000...1999 && r1.match.cgroup == "/system.slice")
        #expect(r1.keep)
        guard case .plan(let plan) = r1.paths else { Issue.record("expected a planned rule"); return }
        #expect(plan.from == "Sunnyvale" && plan.k == 3 && plan.disjoint == .node && plan.metric == .igp)
        #expect(plan.topologyPath == "/etc/srte/topologies/abilene.yaml", "relative to the policy file's directory")
        #expect(r1.paths.subflowCount == 3)
    }

    @Test func firstMatchingRuleWinsAndOthersAreLeftAlone() throws {
        let p = try AgentPolicy(yaml: """
            rules:
              - match: { to: "fc00:2::2", port: 5201-5202 }
                paths: [direct, [fc00:0:b::1]]
              - match: { to: "fc00:2::/64" }
                paths: [direct]
            """)
        #expect(p.firstMatch(ConnectionFacts(remote: addr("fc00:2::2"), remotePort: 5202))?.index == 0)
        #expect(p.firstMatch(ConnectionFacts(remote: addr("fc00:2::2"), remotePort: 80))?.index == 1)
        #expect(p.firstMatch(ConnectionFacts(remote: addr("fc00:2::3"), remotePort: 5201))?.index == 1)
        #expect(p.firstMatch(ConnectionFacts(remote: addr("fc00:3::1"), remotePort: 5201)) == nil)
    }

    @Test func ownerConditionsNeedAKnownOwner() {
        let m = Match(uids: 1000...1000, cgroup: "/user.slice")
        let c = ConnectionFacts(remote: addr("fc00::1"), remotePort: 1, uid: 1000, cgroup: "/user.slice/user-1000.slice/session-2.scope")
        #expect(m.matches(c))
        #expect(!m.matches(ConnectionFacts(remote: addr("fc00::1"), remotePort: 1)), "unknown owner")
        #expect(!m.matches(ConnectionFacts(remote: addr("fc00::1"), remotePort: 1, uid: 1000, cgroup: "/user.slicer")), "a sibling, not a child")
        #expect(Match(cgroup: "/").matches(c))
    }

    @Test func commandLinePathsParse() throws {
        #expect(try PathSpec(parsing: "direct") == .direct)
        #expect(try PathSpec(parsing: "fc00:0:b::1,fc00:0:c::1") == .segments([addr("fc00:0:b::1"), addr("fc00:0:c::1")]))
        #expect(throws: IPv6AddressError.self) { try PathSpec(parsing: "fc00:0:b::1,") }
        let p = AgentPolicy.oneRule(to: try IPv6Prefix(parsing: "fc00:2::/64"), paths: [.direct, try PathSpec(parsing: "fc00:0:b::1")])
        #expect(p.firstMatch(ConnectionFacts(remote: addr("fc00:2::9"), remotePort: 9))?.rule.paths.subflowCount == 2)
    }

    /// Grants: the first one covering a uid applies; an SRH's waypoints must lie in its SIDs.
    @Test func grantsCoverUidsAndSIDs() throws {
        let p = try AgentPolicy(yaml: """
            rules:
              - match: {}
                paths: [direct]
            grants:
              - { uid: 1000-1999, sids: ["fc00:0:b::/48", "fc00:0:c::1"], subflows: 4 }
              - { uid: 1500 }
              - { uid: 65534, marks: 40-49 }
            """, file: "p.yaml")
        #expect(p.grants.count == 3)
        let g = try #require(p.grant(for: 1500))
        #expect(g.line == 5 && g.subflows == 4 && g.uids == 1000...1999)
        #expect(g.allows(waypoints: [addr("fc00:0:b::1"), addr("fc00:0:c::1")]))
        #expect(!g.allows(waypoints: [addr("fc00:0:c::2")]))
        #expect(g.allows(waypoints: []))
        #expect(p.grant(for: 65534)?.sids == [] && p.grant(for: 65534)?.subflows == AgentPolicy.maxSubflows)
        #expect(p.grant(for: 65534)?.allows(waypoints: [addr("fc00:0:b::1")]) == false)
        #expect(p.grant(for: 2000) == nil && p.grant(for: 0) == nil)
        #expect(g.description == "uids 1000-1999: sids fc00:0:b::/48, fc00:0:c::1/128, up to 4 subflows per connection")
        // marks: the SO_MARK values a grant's users may give their subflows; none without it.
        #expect(g.marks == nil && p.grant(for: 65534)?.marks == 40...49)
        #expect(p.grant(for: 65534)?.description == "uid 65534: no SRH, up to 8 subflows per connection, marks 40-49")
        #expect(try AgentPolicy(yaml: "rules:\n  - match: {}\n    paths: [direct]\n").grants.isEmpty)
    }

    /// Each bad policy is refused at the right place, saying what was expected.
    @Test(arguments: [
        ("", "1:1", "empty file"),
        ("rules: {}\n", "1:8", "expected 'rules' to be a list"),
        ("rule:\n  - {}\n", "1:1", "did you mean 'rules'"),
        ("rules:\n  - match: {}\n", "2:5", "needs 'paths'"),
        ("rules:\n  - paths: [direct]\n", "2:5", "needs 'match'"),
        ("rules:\n  - match: {}\n    paths: [direct]\n    plan: { topology: t.yaml, from: a }\n", "4:11", "not both"),
        ("rules:\n  - match: { too: \"fc00::/8\" }\n    paths: [direct]\n", "2:14", "did you mean 'to'"),
        ("rules:\n  - match: { to: \"fc00::1/8\" }\n    paths: [direct]\n", "2:18", "host bits"),
        ("rules:\n  - match: { port: 70000 }\n    paths: [direct]\n", "2:20", "out of range"),
        ("rules:\n  - match: { port: 9-3 }\n    paths: [direct]\n", "2:20", "low end first"),
        ("rules:\n  - match: { cgroup: user.slice }\n    paths: [direct]\n", "2:22", "absolute"),
        ("rules:\n  - match: {}\n    paths: [drect]\n", "3:13", "expected a path"),
        ("rules:\n  - match: {}\n    paths: [[fc00::zz]]\n", "3:14", "expected a SID"),
        ("rules:\n  - match: {}\n    paths: [direct, direct, direct, direct, direct, direct, direct, direct, direct]\n", "3:12", "at most 8 subflows"),
        ("rules:\n  - match: {}\n    paths: [direct]\n    keep: maybe\n", "4:11", "true or false"),
        ("rules:\n  - match: {}\n    plan: { topology: t.yaml, from: a, k: 9 }\n", "3:43", "at most 8"),
        ("rules:\n  - match: {}\n    plan: { topology: t.yaml, from: a, disjoint: edge }\n", "3:50", "link, node or srlg"),
        ("rules:\n  - match: {}\n    plan: { from: a }\n", "3:11", "needs 'topology'"),
        ("rules:\n  - match: { to: [1] }\n    paths: [direct]\n", "2:18", "IPv6 prefix"),
        ("rules:\n  - match: {}\n    paths: [direct\n", "4:1", "YAML syntax error"),
        ("rules:\n  - match: {}\n    paths: [direct]\ngrants: { uid: 5 }\n", "4:9", "expected 'grants' to be a list"),
        ("rules:\n  - match: {}\n    paths: [direct]\ngrants:\n  - { sids: [] }\n", "5:5", "needs 'uid'"),
        ("rules:\n  - match: {}\n    paths: [direct]\ngrants:\n  - { uid: 1000, sidz: [] }\n", "5:18", "did you mean 'sids'"),
        ("rules:\n  - match: {}\n    paths: [direct]\ngrants:\n  - { uid: 9-3 }\n", "5:12", "low end first"),
        ("rules:\n  - match: {}\n    paths: [direct]\ngrants:\n  - { uid: 1000, sids: fc00::/16 }\n", "5:24", "list of SID prefixes"),
        ("rules:\n  - match: {}\n    paths: [direct]\ngrants:\n  - { uid: 1000, sids: [\"fc00::zz\"] }\n", "5:25", "IPv6 prefix or address"),
        ("rules:\n  - match: {}\n    paths: [direct]\ngrants:\n  - { uid: 1000, subflows: 9 }\n", "5:28", "at most 8 subflows"),
        ("rules:\n  - match: {}\n    paths: [direct]\ngrants:\n  - { uid: 1000, subflows: 0 }\n", "5:28", "subflows"),
        ("rules:\n  - match: {}\n    paths: [direct]\ngrants:\n  - { uid: 1000, marks: 9-3 }\n", "5:25", "'marks': 9-3 is out of range"),
        ("rules:\n  - match: {}\n    paths: [direct]\ngrants:\n  - { uid: 1000, marks: red }\n", "5:25", "'marks': expected a number or a range"),
    ])
    func badPoliciesAreRefusedWithPositions(yaml: String, position: String, message: String) {
        do {
            _ = try AgentPolicy(yaml: yaml, file: "p.yaml")
            Issue.record("accepted: \(yaml)")
        } catch {
            #expect("\(error)".hasPrefix("p.yaml:\(position): "), "\(error)")
            #expect(error.message.contains(message), "\(error)")
        }
    }
}

@Suite struct AgentPolicyCheckTests {
    func write(_ text: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("srte-policy-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let file = dir.appendingPathComponent("policy.yaml").path
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    @Test func plannedRulesNeedTheirTopologyNodeAndDestination() throws {
        let diamond = packageRoot + "/topologies/diamond.yaml"
        let good = try write("""
            rules:
              - match: { to: "fc00:2::/64" }
                plan: { topology: \(diamond), from: h1, k: 3 }
              - match: { to: "fc00:2::2", port: 5201 }
                paths: [direct]
            """)
        let p = try AgentPolicy(contentsOf: good)
        let notes = try p.check(file: good)
        #expect(notes.count == 1 && notes[0].contains("rule 2 (line 4) never matches"), "\(notes)")

        let noNode = try write("rules:\n  - match: { to: \"fc00:2::/64\" }\n    plan: { topology: \(diamond), from: h9 }\n")
        #expect(throws: PolicyError.self) { try AgentPolicy(contentsOf: noNode).check(file: noNode) }
        do { _ = try AgentPolicy(contentsOf: noNode).check(file: noNode) } catch {
            #expect("\(error)".hasPrefix("\(noNode):2:5: rule 1: no node 'h9'"), "\(error)")
        }

        let elsewhere = try write("rules:\n  - match: { to: \"fc00:77::/64\" }\n    plan: { topology: \(diamond), from: h1 }\n")
        do { _ = try AgentPolicy(contentsOf: elsewhere).check(file: elsewhere); Issue.record("accepted") } catch {
            #expect(error.message.contains("no node of topology"), "\(error)")
        }

        let relative = try write("rules:\n  - match: {}\n    plan: { topology: missing.yaml, from: h1 }\n")
        do { _ = try AgentPolicy(contentsOf: relative).check(file: relative); Issue.record("accepted") } catch {
            #expect(error.message.contains("cannot read topology missing.yaml"), "\(error)")
            #expect(error.message.contains(URL(fileURLWithPath: relative).deletingLastPathComponent().path), "looked beside the policy: \(error)")
        }
    }

    @Test func aMissingFileIsNamed() {
        do { _ = try AgentPolicy(contentsOf: "/nonexistent/policy.yaml"); Issue.record("accepted") } catch {
            #expect("\(error)" == "/nonexistent/policy.yaml: cannot read the policy file (missing or not readable)")
        }
    }
}

/// Planned rules: every node of the topology that owns part of the rule's prefix gets the paths
/// planned to it (waypoints only; the connection's destination is appended per connection).
@Suite struct AgentPlanningTests {
    @Test func plansPerDestinationNode() throws {
        let spec = PlanSpec(topology: "diamond.yaml", topologyPath: packageRoot + "/topologies/diamond.yaml", from: "h1", k: 3, disjoint: .node)
        let owners = try Agent.plan(spec, covering: try IPv6Prefix(parsing: "fc00:2::/64"), rule: 0, line: 2)
        #expect(owners.map(\.node) == ["h2"])
        #expect(owners[0].owner == IPv6Prefix(address: addr("fc00:2::2"), length: 128))
        #expect(owners[0].paths == [.direct, .segments([addr("fc00:0:b::1")]), .segments([addr("fc00:0:c::1")])])

        // A wide prefix: every node but the source, each with its own plan.
        let all = try Agent.plan(spec, covering: try IPv6Prefix(parsing: "fc00::/16"), rule: 0, line: 2)
        #expect(Set(all.map(\.node)) == ["r1", "a", "b", "c", "r2", "h2"])

        #expect(throws: AgentError.self) { try Agent.plan(spec, covering: try IPv6Prefix(parsing: "fc00:77::/64"), rule: 0, line: 2) }
    }
}

@Suite struct AgentTokenTextTests {
    /// The agent's token text is what `%08x` gives (status, logs and the C API's callers compare them).
    @Test func tokenTextIsEightLowercaseHexDigits() {
        var rng = SeededRNG(seed: 7)
        for t in [UInt32(0), 1, 0xf, 0x1234abcd, 0xdeadbeef, .max] + (0..<200).map({ _ in UInt32.random(in: 0...UInt32.max, using: &rng) }) {
            #expect(Agent.tokenText(t) == String(format: "%08x", t))
        }
    }
}
