import ArgumentParser
import PathAgent
import SRv6Paths

/// `srte agent`: the path manager for any program's MPTCP connections.
struct AgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Path-manager agent: policies that give matching MPTCP connections of any program their engineered paths.",
        discussion: """
        A policy is a YAML file of rules; the first rule that matches a connection (destination \
        prefix, port or port range, source prefix, owner uid or cgroup) decides its subflows: \
        listed paths (SID lists in path order, or direct for the IGP path) or k disjoint paths \
        planned from a topology. Connections no rule matches are left alone.

          rules:
            - match: { to: "fc00:2::/64", port: 5201 }
              paths: [[fc00:0:b::1], [fc00:0:c::1], direct]
            - match: { to: "fc00:0:1::/48" }
              plan: { topology: topologies/abilene.yaml, from: Sunnyvale, k: 3, disjoint: node }
              keep: true

        Available now: `srte agent check FILE` validates a policy (no root needed). The daemon \
        that applies policies is not built yet.
        """,
        subcommands: [Check.self]
    )

    /// `srte agent check FILE`: validate a policy without root.
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a policy file and print its rules (errors name file:line:column).",
            discussion: """
            Checks the YAML, every key and value, and for planned rules the topology file (read \
            relative to the policy's directory), its `from` node, and that some node of it owns an \
            address in the rule's `to` prefix. Notes rules that can never match because an earlier \
            rule takes all their connections. Exit status: 0 valid, 2 not.
            """)

        @Argument(help: "The policy file.")
        var file: String

        @OptionGroup var output: FormatOptions

        func run() throws {
            let policy = try AgentPolicy(contentsOf: file)
            let notes = try policy.check(file: file)
            let out = StdoutBuffer()
            if output.isJSON {
                out.line(JSON.object([
                    ("file", .string(file)),
                    ("rules", .array(policy.rules.map(Self.json))),
                    ("notes", .array(notes.map { .string($0) })),
                ]).pretty)
            } else {
                out.line("\(file): \(policy.rules.count) rule\(policy.rules.count == 1 ? "" : "s"), valid")
                for (i, r) in policy.rules.enumerated() {
                    out.line("  \(i + 1). line \(r.line): \(Self.describe(r.match)) → \(Self.describe(r.paths))\(r.keep ? ", keep" : "")")
                }
                for n in notes { out.line("note: \(n)") }
            }
            out.flush()
        }

        static func describe(_ m: Match) -> String {
            var parts: [String] = []
            if let to = m.to { parts.append("to \(to)") }
            if let p = m.ports { parts.append(p.count == 1 ? "port \(p.lowerBound)" : "ports \(p.lowerBound)-\(p.upperBound)") }
            if let f = m.from { parts.append("from \(f)") }
            if let u = m.uids { parts.append(u.count == 1 ? "uid \(u.lowerBound)" : "uids \(u.lowerBound)-\(u.upperBound)") }
            if let c = m.cgroup { parts.append("cgroup \(c)") }
            return parts.isEmpty ? "every connection" : parts.joined(separator: ", ")
        }

        static func describe(_ p: Rule.Paths) -> String {
            switch p {
            case .explicit(let paths):
                return "\(paths.count) subflow\(paths.count == 1 ? "" : "s"): " + paths.map { "[\($0)]" }.joined(separator: " ")
            case .plan(let s):
                return "\(s.k) \(s.disjoint.rawValue)-disjoint paths planned from \(s.topology) (node \(s.from), metric \(s.metric.rawValue))"
            }
        }

        static func json(_ r: Rule) -> JSON {
            var match: [(String, JSON)] = []
            if let to = r.match.to { match.append(("to", .string(to.description))) }
            if let p = r.match.ports { match.append(("ports", .array([.int(Int(p.lowerBound)), .int(Int(p.upperBound))]))) }
            if let f = r.match.from { match.append(("from", .string(f.description))) }
            if let u = r.match.uids { match.append(("uids", .array([.int(Int(u.lowerBound)), .int(Int(u.upperBound))]))) }
            if let c = r.match.cgroup { match.append(("cgroup", .string(c))) }
            var fields: [(String, JSON)] = [("line", .int(r.line)), ("match", .object(match))]
            switch r.paths {
            case .explicit(let paths):
                fields.append(("paths", .array(paths.map { p in
                    switch p {
                    case .direct: .string("direct")
                    case .segments(let s): .array(s.map { .string($0.description) })
                    }
                })))
            case .plan(let s):
                fields.append(("plan", .object([("topology", .string(s.topology)), ("from", .string(s.from)), ("k", .int(s.k)),
                                                 ("disjoint", .string(s.disjoint.rawValue)), ("metric", .string(s.metric.rawValue))])))
            }
            fields.append(("subflows", .int(r.paths.subflowCount)))
            fields.append(("keep", .bool(r.keep)))
            return .object(fields)
        }
    }
}
