import Foundation
import SRv6Paths
import Yams

extension AgentPolicy {
    /// Reads a policy (YAML, the format in ``AgentPolicy``).
    /// - Parameters:
    ///   - yaml: The file's text.
    ///   - file: The name used in error messages; relative topology paths of planned rules are
    ///     taken from its directory.
    /// - Throws: ``PolicyError`` at the first problem: YAML syntax, unknown keys (with the
    ///   nearest known one), a rule with both or neither of `paths` and `plan`, bad prefixes,
    ///   ports, uids or SIDs, more than ``maxSubflows`` subflows.
    public init(yaml: String, file: String = "<input>") throws(PolicyError) {
        do {
            self = try PolicyReader(yaml: YAMLFileReader(file: file, text: yaml)).read()
        } catch {
            throw PolicyError(error)
        }
    }

    /// Reads the policy file at `path`.
    /// - Throws: ``PolicyError`` when it cannot be read or is not a valid policy.
    public init(contentsOf path: String) throws(PolicyError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PolicyError(file: path, "cannot read the policy file (missing or not readable)")
        }
        try self.init(yaml: String(decoding: data, as: UTF8.self), file: path)
    }
}

/// Walks a policy's YAML tree.
struct PolicyReader {
    let yaml: YAMLFileReader

    static let topKeys = ["rules", "grants"]
    static let grantKeys = ["uid", "sids", "subflows", "marks"]
    static let ruleKeys = ["match", "paths", "plan", "keep"]
    static let matchKeys = ["to", "from", "port", "uid", "cgroup"]
    static let planKeys = ["topology", "from", "k", "disjoint", "metric", "compress"]

    func read() throws(TopologyError) -> AgentPolicy {
        let root = try yaml.compose(empty: "a mapping with 'rules', a list of rules")
        let top = try yaml.mapping(root, "a mapping with 'rules', a list of rules")
        try yaml.checkKeys(top, Self.topKeys, in: "the policy")
        guard let rulesNode = top["rules"] else { throw yaml.error(root, "missing key 'rules' (expected a list of rules)") }
        guard case .sequence(let items) = rulesNode else { throw yaml.error(rulesNode, "expected 'rules' to be a list of rules") }
        var rules: [Rule] = []
        for item in items { rules.append(try rule(item)) }
        var grants: [Grant] = []
        if let g = top["grants"] {
            guard case .sequence(let list) = g else {
                throw yaml.error(g, "expected 'grants' to be a list like [{ uid: 1000-1999, sids: [\"fc00:0:b::/48\"], subflows: 4 }]")
            }
            for item in list { grants.append(try grant(item)) }
        }
        return AgentPolicy(rules: rules, grants: grants)
    }

    func grant(_ node: Node) throws(TopologyError) -> Grant {
        let m = try yaml.mapping(node, "a grant (a mapping with uid, and optionally sids, subflows and marks)")
        try yaml.checkKeys(m, Self.grantKeys, in: "a grant")
        guard let u = m["uid"] else { throw yaml.error(node, "a grant needs 'uid' (a user id or a range like 1000-1999)") }
        let r = try range(u, "uid", max: Int(UInt32.max - 1), min: 0)
        var sids: [IPv6Prefix] = []
        if let v = m["sids"] {
            guard case .sequence(let items) = v else {
                throw yaml.error(v, "expected 'sids' to be a list of SID prefixes or addresses like [\"fc00:0:b::/48\"]")
            }
            for i in items { sids.append(try prefix(i, "sids")) }
        }
        var subflows = AgentPolicy.maxSubflows
        if let v = m["subflows"] {
            subflows = try yaml.positiveInt(v, "subflows")
            guard subflows <= AgentPolicy.maxSubflows else {
                throw yaml.error(v, "subflows = \(subflows): a connection has at most \(AgentPolicy.maxSubflows) subflows (the kernel's limit)")
            }
        }
        var marks: ClosedRange<UInt32>? = nil
        if let v = m["marks"] {
            let r = try range(v, "marks", max: Int(UInt32.max), min: 0)
            marks = UInt32(r.lowerBound)...UInt32(r.upperBound)
        }
        return Grant(uids: UInt32(r.lowerBound)...UInt32(r.upperBound), sids: sids, subflows: subflows, marks: marks,
                     line: node.mark?.line ?? 0, column: node.mark?.column ?? 0)
    }

    func rule(_ node: Node) throws(TopologyError) -> Rule {
        let m = try yaml.mapping(node, "a rule (a mapping with match, and paths or plan)")
        try yaml.checkKeys(m, Self.ruleKeys, in: "a rule")
        guard let matchNode = m["match"] else {
            throw yaml.error(node, "a rule needs 'match' (e.g. match: { to: \"fc00:2::/64\" }; an empty mapping matches every connection)")
        }
        let match = try self.match(matchNode)
        let paths: Rule.Paths
        switch (m["paths"], m["plan"]) {
        case (let p?, nil): paths = .explicit(try pathList(p))
        case (nil, let p?): paths = .plan(try plan(p))
        case (_?, _?): throw yaml.error(m["plan"], "a rule has either 'paths' or 'plan', not both")
        case (nil, nil): throw yaml.error(node, "a rule needs 'paths' (a list of SID lists or direct) or 'plan' (a topology to plan from)")
        }
        var keep = false
        if let k = m["keep"] {
            guard let b = k.bool else { throw yaml.error(k, "expected 'keep' to be true or false, got '\(k.scalar?.string ?? "a collection")'") }
            keep = b
        }
        return Rule(match: match, paths: paths, keep: keep, line: node.mark?.line ?? 0, column: node.mark?.column ?? 0)
    }

    func match(_ node: Node) throws(TopologyError) -> Match {
        let m = try yaml.mapping(node, "'match' to be a mapping (to, from, port, uid, cgroup)")
        try yaml.checkKeys(m, Self.matchKeys, in: "'match'")
        var out = Match()
        if let v = m["to"] { out.to = try prefix(v, "to") }
        if let v = m["from"] { out.from = try prefix(v, "from") }
        if let v = m["port"] {
            let r = try range(v, "port", max: 65535, min: 1)
            out.ports = UInt16(r.lowerBound)...UInt16(r.upperBound)
        }
        if let v = m["uid"] {
            let r = try range(v, "uid", max: Int(UInt32.max - 1), min: 0)
            out.uids = UInt32(r.lowerBound)...UInt32(r.upperBound)
        }
        if let v = m["cgroup"] {
            let c = try yaml.string(v, "'cgroup' to be a cgroup v2 path such as /system.slice/iperf3.service")
            guard c.hasPrefix("/") else { throw yaml.error(v, "expected 'cgroup' to be an absolute cgroup v2 path (starting with /), got '\(c)'") }
            out.cgroup = c
        }
        return out
    }

    /// An address (a /128) or a prefix.
    func prefix(_ node: Node, _ key: String) throws(TopologyError) -> IPv6Prefix {
        let text = try yaml.string(node, "'\(key)' to be an IPv6 prefix such as \"fc00:2::/64\"")
        do { return try Match.parsePrefix(text) } catch {
            throw yaml.error(node, "expected '\(key)' to be an IPv6 prefix or address: \(error)")
        }
    }

    /// `N` or `A-B`.
    func range(_ node: Node, _ key: String, max: Int, min: Int) throws(TopologyError) -> ClosedRange<Int> {
        guard case .scalar(let s) = node else {
            throw yaml.error(node, "expected '\(key)' to be a number or a range like 5201-5210, got 'a collection'")
        }
        do { return try Match.parseRange(s.string, within: min...max) } catch {
            throw yaml.error(node, "'\(key)': \(error.message)")
        }
    }

    func pathList(_ node: Node) throws(TopologyError) -> [PathSpec] {
        guard case .sequence(let items) = node, !items.isEmpty else {
            throw yaml.error(node, "expected 'paths' to be a non-empty list, each a list of SIDs or direct, like [[fc00:0:b::1], direct]")
        }
        guard items.count <= AgentPolicy.maxSubflows else {
            throw yaml.error(node, "\(items.count) paths: a connection has at most \(AgentPolicy.maxSubflows) subflows (the kernel's limit)")
        }
        var out: [PathSpec] = []
        for item in items {
            switch item {
            case .scalar(let s) where s.string == "direct": out.append(.direct)
            case .sequence(let sids) where !sids.isEmpty:
                var list: [IPv6Address] = []
                for sid in sids {
                    let text = try yaml.string(sid, "a SID (an IPv6 address)")
                    do { list.append(try IPv6Address(parsing: text)) } catch {
                        throw yaml.error(sid, "expected a SID (an IPv6 address): \(error)")
                    }
                }
                out.append(.segments(list))
            default:
                throw yaml.error(item, "expected a path: a list of SIDs in path order like [fc00:0:b::1], or direct (the IGP path)")
            }
        }
        return out
    }

    func plan(_ node: Node) throws(TopologyError) -> PlanSpec {
        let m = try yaml.mapping(node, "'plan' to be a mapping (topology, from, k, disjoint, metric, compress)")
        try yaml.checkKeys(m, Self.planKeys, in: "'plan'")
        guard let t = m["topology"] else { throw yaml.error(node, "'plan' needs 'topology' (a topology file)") }
        guard let f = m["from"] else { throw yaml.error(node, "'plan' needs 'from' (this host's node in the topology)") }
        let topology = try yaml.string(t, "'topology' to be a file name")
        let from = try yaml.string(f, "'from' to be a node name")
        var k = 2
        if let v = m["k"] {
            k = try yaml.positiveInt(v, "k")
            guard k <= AgentPolicy.maxSubflows else {
                throw yaml.error(v, "k = \(k): a connection has at most \(AgentPolicy.maxSubflows) subflows (the kernel's limit)")
            }
        }
        var disjoint = Disjointness.link
        if let v = m["disjoint"] {
            let s = try yaml.string(v, "'disjoint' to be link, node or srlg")
            guard let d = Disjointness(rawValue: s) else { throw yaml.error(v, "expected 'disjoint' to be link, node or srlg, got '\(s)'") }
            disjoint = d
        }
        var metric = PathMetric.igp
        if let v = m["metric"] {
            let s = try yaml.string(v, "'metric' to be igp, te or delay")
            guard let x = PathMetric(rawValue: s) else { throw yaml.error(v, "expected 'metric' to be igp, te or delay, got '\(s)'") }
            metric = x
        }
        var compress: SRHCompression? = nil
        if let v = m["compress"] {
            let s = try yaml.string(v, "'compress' to be off, full or reduced")
            guard let c = SRHCompression(rawValue: s) else {
                throw yaml.error(v, "expected 'compress' to be off (whole SIDs), full (RFC 9800 containers) or reduced (containers, the first only as Destination Address), got '\(s)'")
            }
            compress = c
        }
        let resolved: String
        if topology.hasPrefix("/") || yaml.file == "<input>" {
            resolved = topology
        } else {
            resolved = URL(fileURLWithPath: yaml.file).deletingLastPathComponent().appendingPathComponent(topology).path
        }
        return PlanSpec(topology: topology, topologyPath: resolved, from: from, k: k, disjoint: disjoint, metric: metric, compress: compress)
    }
}
