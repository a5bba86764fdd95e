import Yams

extension Topology {
    /// Reads a topology file (YAML, format in `Docs/Planner.md`).
    ///
    /// ```swift
    /// let t = try Topology(yaml: text, file: "topologies/diamond.yaml")
    /// t.nodes.count   // 7
    /// ```
    ///
    /// - Parameters:
    ///   - yaml: The file's text.
    ///   - file: The name used in error messages.
    /// - Throws: ``TopologyError`` with the line and column of the first problem and what was
    ///   expected there: YAML syntax, unknown keys, duplicate nodes, links to unknown nodes,
    ///   self-loops, bad prefixes or addresses, metrics ≤ 0, unknown units, SID clashes.
    /// - Complexity: O(size of the file).
    public init(yaml: String, file: String = "<input>") throws(TopologyError) {
        self = try YAMLFileReader(file: file, text: yaml).read()
    }

    /// Parses a delay such as `2ms`, `1.5ms`, `300us` or `0.01s` into microseconds.
    ///
    /// ```swift
    /// try Topology.parseDelay("1.5ms")   // 1500
    /// ```
    /// - Throws: a message naming the accepted units when the text is not a positive delay.
    public static func parseDelay(_ text: String) throws(UnitError) -> Int {
        let (value, unit) = try splitNumber(text, what: "delay", units: "us, ms or s")
        let scale: Double
        switch unit {
        case "us", "µs": scale = 1
        case "ms": scale = 1_000
        case "s": scale = 1_000_000
        default: throw UnitError(message: "unknown delay unit '\(unit)' in '\(text)' (expected us, ms or s)")
        }
        let us = (value * scale).rounded()
        guard us >= 1, us <= Double(Topology.maxDelay) else {
            throw UnitError(message: "delay '\(text)' must be between 1us and \(Topology.maxDelay)us")
        }
        return Int(us)
    }

    /// Parses a bandwidth such as `50Mbit`, `10Gbit`, `100kbit` or `1Gbps` into bit/s.
    ///
    /// ```swift
    /// try Topology.parseBandwidth("50Mbit")   // 50_000_000
    /// ```
    /// - Throws: a message naming the accepted units when the text is not a positive bandwidth.
    public static func parseBandwidth(_ text: String) throws(UnitError) -> Int {
        let (value, unit) = try splitNumber(text, what: "bandwidth", units: "bit, kbit, Mbit, Gbit or Tbit")
        let scale: Double
        switch unit.lowercased() {
        case "bit", "bps": scale = 1
        case "kbit", "kbps": scale = 1e3
        case "mbit", "mbps": scale = 1e6
        case "gbit", "gbps": scale = 1e9
        case "tbit", "tbps": scale = 1e12
        default:
            throw UnitError(message: "unknown bandwidth unit '\(unit)' in '\(text)' (expected bit, kbit, Mbit, Gbit or Tbit)")
        }
        let bits = (value * scale).rounded()
        guard bits >= 1, bits < 1e17 else { throw UnitError(message: "bandwidth '\(text)' must be positive") }
        return Int(bits)
    }

    private static func splitNumber(_ text: String, what: String, units: String) throws(UnitError) -> (Double, String) {
        let t = text.trimmingSpaces
        var end = t.startIndex
        while end < t.endIndex, t[end].isASCII, t[end].isNumber || t[end] == "." || t[end] == "-" { end = t.index(after: end) }
        let num = t[..<end]
        let unit = String(t[end...]).trimmingSpaces
        guard !num.isEmpty, let v = Double(num) else {
            throw UnitError(message: "expected a \(what) such as \(what == "delay" ? "2ms" : "50Mbit"), got '\(text)'")
        }
        if v <= 0 { throw UnitError(message: "\(what) '\(text)' must be positive") }
        if unit.isEmpty { throw UnitError(message: "\(what) '\(text)' needs a unit (\(units))") }
        return (v, unit)
    }

    /// A bad delay or bandwidth text.
    public struct UnitError: Error, Hashable, Sendable, CustomStringConvertible {
        /// What is wrong and which units are accepted.
        public var message: String
        public var description: String { message }
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}

/// Walks the Yams node tree of a YAML file — a topology file, or another of srte's files such
/// as the agent's policy — keeping marks so that every error names file:line:column.
package struct YAMLFileReader {
    package let file: String
    package let text: String

    package init(file: String, text: String) {
        self.file = file
        self.text = text
    }

    static let topKeys = ["name", "description", "defaults", "csid", "nodes", "links"]
    static let csidKeys = ["block", "length", "local"]
    static let defaultKeys = ["metric", "te-metric", "delay", "bandwidth", "mtu", "msd"]
    static let nodeKeys = ["kind", "locator", "address", "msd", "sid", "csid"]
    static let linkKeys = ["endpoints", "metric", "te-metric", "delay", "bandwidth", "mtu", "srlg", "sids", "csids"]

    package func error(_ node: Node?, _ message: String) -> TopologyError {
        let m = node?.mark
        return TopologyError(file: file, line: m?.line ?? 1, column: m?.column ?? 1, message)
    }

    /// The document's root node; `empty` says what was expected when the file is empty.
    package func compose(empty: String) throws(TopologyError) -> Node {
        do {
            guard let r = try Yams.compose(yaml: text) else {
                throw TopologyError(file: file, line: 1, column: 1, "empty file: expected \(empty)")
            }
            return r
        } catch let e as TopologyError {
            throw e
        } catch let e as YamlError {
            throw translate(e)
        } catch {
            throw TopologyError(file: file, line: 1, column: 1, "cannot read YAML: \(error)")
        }
    }

    func read() throws(TopologyError) -> Topology {
        let root = try compose(empty: "a mapping with name, nodes and links")
        let top = try mapping(root, "the topology (a mapping with name, nodes and links)")
        try checkKeys(top, Self.topKeys, in: "the topology")

        guard let nameNode = top["name"] else { throw error(root, "missing key 'name' (expected the topology's name)") }
        let name = try string(nameNode, "the topology's name (a string)")

        // Defaults.
        var dMetric = 10, dTE: Int? = nil, dDelay = 1000, dBandwidth: Int? = nil, dMSD: Int? = nil, dMTU: Int? = nil
        if let d = top["defaults"] {
            let dm = try mapping(d, "defaults (a mapping)")
            try checkKeys(dm, Self.defaultKeys, in: "defaults")
            if let v = dm["metric"] { dMetric = try positiveInt(v, "metric") }
            if let v = dm["te-metric"] { dTE = try positiveInt(v, "te-metric") }
            if let v = dm["delay"] { dDelay = try delay(v) }
            if let v = dm["bandwidth"] { dBandwidth = try bandwidth(v) }
            if let v = dm["mtu"] { dMTU = try mtu(v) }
            if let v = dm["msd"] { dMSD = try msd(v) }
        }

        // C-SIDs (RFC 9800 NEXT-C-SID).
        var domain: CSIDDomain? = nil
        if let c = top["csid"] { domain = try csidDomain(c, inheriting: nil) }

        // Nodes.
        guard let nodesNode = top["nodes"] else { throw error(root, "missing key 'nodes' (expected a mapping from node name to its attributes)") }
        let nm = try mapping(nodesNode, "nodes (a mapping from node name to its attributes)")
        var nodes: [Topology.Node] = []
        var nodeMarks: [Node] = []
        var index: [String: Int] = [:]
        nodes.reserveCapacity(nm.count)
        for (k, v) in nm {
            let nodeName = try string(k, "a node name")
            if nodeName.isEmpty { throw error(k, "a node name must not be empty") }
            if index[nodeName] != nil { throw error(k, "duplicate node '\(nodeName)'") }
            index[nodeName] = nodes.count
            nodes.append(try readNode(nodeName, k, v, csid: domain))
            nodeMarks.append(k)
        }

        // Links.
        guard let linksNode = top["links"] else { throw error(root, "missing key 'links' (expected a list of links)") }
        var links: [Topology.Link] = []
        var linkMarks: [Node] = []
        var items: [Node] = []
        switch linksNode {
        case .sequence(let s): items = Array(s)
        case .scalar(let s) where s.string.isEmpty || s.string == "~" || s.string == "null": items = []
        default: throw error(linksNode, "expected 'links' to be a list of links")
        }
        var degree = [Int](repeating: 0, count: nodes.count)
        for item in items {
            let lm = try mapping(item, "a link (a mapping with endpoints)")
            try checkKeys(lm, Self.linkKeys, in: "a link")
            guard let ep = lm["endpoints"] else { throw error(item, "a link needs 'endpoints: [A, B]'") }
            guard case .sequence(let eps) = ep, eps.count == 2 else {
                throw error(ep, "expected 'endpoints' to be a list of two node names, like [r1, r2]")
            }
            var ends: [Int] = []
            for e in eps {
                let en = try string(e, "a node name")
                guard let i = index[en] else { throw error(e, "link to unknown node '\(en)' (not declared under 'nodes')") }
                ends.append(i)
            }
            if ends[0] == ends[1] { throw error(ep, "self-loop: a link needs two different endpoints, got '\(nodes[ends[0]].name)' twice") }
            let metric = try lm["metric"].map { v throws(TopologyError) in try positiveInt(v, "metric") } ?? dMetric
            let te = try lm["te-metric"].map { v throws(TopologyError) in try positiveInt(v, "te-metric") } ?? dTE ?? metric
            let dl = try lm["delay"].map { v throws(TopologyError) in try delay(v) } ?? dDelay
            let bw = try lm["bandwidth"].map { v throws(TopologyError) in try bandwidth(v) } ?? dBandwidth
            let linkMTU = try lm["mtu"].map { v throws(TopologyError) in try mtu(v) } ?? dMTU
            var srlgs: [String] = []
            if let s = lm["srlg"] {
                guard case .sequence(let seq) = s else { throw error(s, "expected 'srlg' to be a list of group names, like [duct-1]") }
                for g in seq { srlgs.append(try string(g, "an SRLG name")) }
            }
            var csidA: UInt64? = nil, csidB: UInt64? = nil
            if let s = lm["csids"] {
                let sm = try mapping(s, "'csids' (a mapping from endpoint name to its End.X C-SID, like { r1: 0xe005 })")
                for (sk, sv) in sm {
                    let owner = try string(sk, "an endpoint name")
                    guard let oi = index[owner], oi == ends[0] || oi == ends[1] else {
                        throw error(sk, "'\(owner)' is not an endpoint of this link (expected \(nodes[ends[0]].name) or \(nodes[ends[1]].name))")
                    }
                    if nodes[oi].kind == .host { throw error(sk, "host '\(owner)' cannot own an End.X C-SID") }
                    let c = try csidValue(sv, "an End.X C-SID such as 0xe005")
                    if oi == ends[0] { csidA = c } else { csidB = c }
                }
            }
            var sidA: IPv6Address? = nil, sidB: IPv6Address? = nil
            if let s = lm["sids"] {
                let sm = try mapping(s, "'sids' (a mapping from endpoint name to its End.X SID)")
                for (sk, sv) in sm {
                    let owner = try string(sk, "an endpoint name")
                    let sid = try address(sv, "an End.X SID (an IPv6 address)")
                    guard let oi = index[owner], oi == ends[0] || oi == ends[1] else {
                        throw error(sk, "'\(owner)' is not an endpoint of this link (expected \(nodes[ends[0]].name) or \(nodes[ends[1]].name))")
                    }
                    if nodes[oi].kind == .host { throw error(sk, "host '\(owner)' cannot own an End.X SID") }
                    if oi == ends[0] { sidA = sid } else { sidB = sid }
                }
            }
            degree[ends[0]] += 1
            degree[ends[1]] += 1
            for e in ends where nodes[e].kind == .router && degree[e] > Topology.maxAdjacencies {
                throw error(item, "router '\(nodes[e].name)' has more than \(Topology.maxAdjacencies) links")
            }
            links.append(Topology.Link(a: ends[0], b: ends[1], metric: metric, teMetric: te, delay: dl, bandwidth: bw,
                                       mtu: linkMTU, srlgs: srlgs, sidFromA: sidA, sidFromB: sidB,
                                       csidFromA: csidA, csidFromB: csidB))
            linkMarks.append(item)
        }
        let t: Topology
        do {
            t = try Topology(name: name, nodes: nodes, links: links, defaultMSD: dMSD, csid: domain, checkSIDs: false)
        } catch {
            throw TopologyError(file: file, line: 1, column: 1, error.message)
        }
        if let clash = t.firstSIDClash() {
            let where_ = clash.link.map { linkMarks[$0] } ?? nodeMarks[clash.node]
            throw self.error(where_, clash.message)
        }
        if let p = t.firstCSIDProblem() {
            let where_ = p.link.map { linkMarks[$0] } ?? nodeMarks[p.node]
            throw self.error(where_, p.message)
        }
        return t
    }

    /// `csid: { block: PREFIX, length: BITS, local: "0xe000-0xffff" }`; keys left out come
    /// from `inheriting` (a node's csid inherits the topology's).
    func csidDomain(_ n: Node, inheriting: CSIDDomain?) throws(TopologyError) -> CSIDDomain {
        let m = try mapping(n, "a C-SID configuration, like { block: \"fc00:0::/32\", length: 16 }")
        try checkKeys(m, Self.csidKeys, in: "csid")
        var block = inheriting?.format.block
        if let b = m["block"] {
            let bs = try string(b, "a Locator-Block (an IPv6 prefix such as fc00:0::/32)")
            do { block = try IPv6Prefix(parsing: bs) } catch {
                throw self.error(b, "bad C-SID block: \(error.description) (expected an IPv6 prefix such as fc00:0::/32)")
            }
        }
        guard let block else { throw error(n, "a csid configuration needs 'block' (the Locator-Block, e.g. \"fc00:0::/32\")") }
        let length = try m["length"].map { v throws(TopologyError) in try positiveInt(v, "length") } ?? inheriting?.format.csidLength ?? 16
        let format: CSIDFormat
        do { format = try CSIDFormat(block: block, csidLength: length) } catch { throw self.error(m["length"] ?? m["block"] ?? n, error.message) }
        var range: ClosedRange<UInt64>? = nil
        if let r = m["local"] {
            let rs = try string(r, "a local C-SID range such as 0xe000-0xffff")
            let parts = rs.split(separator: "-", maxSplits: 1).map { String($0).trimmingSpaces }
            guard parts.count == 2, let lo = Self.parseCSID(parts[0]), let hi = Self.parseCSID(parts[1]), lo <= hi else {
                throw error(r, "expected a local C-SID range such as 0xe000-0xffff (two C-SIDs, the first not above the second), got '\(rs)'")
            }
            range = lo...hi
        } else if let inh = inheriting, inh.format == format {
            range = inh.localRange
        }
        do { return try CSIDDomain(format: format, localRange: range) } catch { throw self.error(m["local"] ?? n, error.message) }
    }

    /// A C-SID: an integer, `0x`-prefixed hex, or hex digits (YAML reads 0xe005 as an integer).
    func csidValue(_ n: Node, _ expected: String) throws(TopologyError) -> UInt64 {
        let s = try string(n, expected)
        guard let v = Self.parseCSID(s), v > 0 else { throw error(n, "expected \(expected), got '\(s)' (C-SIDs are positive; 0 ends a container)") }
        return v
    }

    static func parseCSID(_ s: String) -> UInt64? {
        let t = s.lowercased()
        return t.hasPrefix("0x") ? UInt64(t.dropFirst(2), radix: 16) : UInt64(t)
    }

    func readNode(_ name: String, _ key: Node, _ v: Node, csid domain: CSIDDomain? = nil) throws(TopologyError) -> Topology.Node {
        var attrs: Node.Mapping
        switch v {
        case .mapping(let m): attrs = m
        case .scalar(let s) where s.string.isEmpty || s.string == "~" || s.string == "null": attrs = Node.Mapping([])
        default: throw error(v, "expected the attributes of node '\(name)' as a mapping, like { locator: \"fc00:0:1::/48\" }")
        }
        try checkKeys(attrs, Self.nodeKeys, in: "node '\(name)'")
        var kind = Topology.NodeKind.router
        if let k = attrs["kind"] {
            let s = try string(k, "a node kind (router or host)")
            guard let kk = Topology.NodeKind(rawValue: s) else {
                throw error(k, "unknown node kind '\(s)' (expected router or host)")
            }
            kind = kk
        }
        let nodeMSD = try attrs["msd"].map { v throws(TopologyError) in try self.msd(v) }
        switch kind {
        case .router:
            if let a = attrs["address"] { throw error(a, "router '\(name)' takes a 'locator' (an IPv6 prefix), not an 'address' (hosts only)") }
            guard let l = attrs["locator"] else {
                throw error(key, "router '\(name)' needs a 'locator' (an IPv6 prefix such as fc00:0:1::/48)")
            }
            let ls = try string(l, "a locator (an IPv6 prefix such as fc00:0:1::/48)")
            let loc: IPv6Prefix
            do { loc = try IPv6Prefix(parsing: ls) } catch {
                throw self.error(l, "bad locator: \(error.description) (expected an IPv6 prefix such as fc00:0:1::/48)")
            }
            if loc.length > Topology.maxLocatorLength {
                throw error(l, "locator \(loc) is too long: at most /\(Topology.maxLocatorLength), to leave room for SID functions")
            }
            let sid = try attrs["sid"].map { v throws(TopologyError) in try address(v, "a node SID (an IPv6 address)") }
            var node = Topology.Node.router(name, locator: loc, msd: nodeMSD, sid: sid)
            if let c = attrs["csid"] {
                if case .scalar(let s) = c, s.string == "none" {
                    node.csid = .none
                } else if case .mapping = c {
                    node.csid = .own(try csidDomain(c, inheriting: domain))
                } else {
                    throw error(c, "expected 'csid' to be none (only the kernel's End, no NEXT-C-SID) or a C-SID configuration like { block: \"fc01::/32\" }")
                }
            }
            return node
        case .host:
            if let l = attrs["locator"] { throw error(l, "host '\(name)' takes an 'address', not a 'locator' (routers only)") }
            if let s = attrs["sid"] { throw error(s, "host '\(name)' cannot own a SID (only routers do)") }
            if let c = attrs["csid"] { throw error(c, "host '\(name)' has no C-SID: the final destination is never compressed (only routers take csid)") }
            guard let a = attrs["address"] else {
                throw error(key, "host '\(name)' needs an 'address' (an IPv6 address such as fc00:1::1)")
            }
            return .host(name, address: try address(a, "an IPv6 address such as fc00:1::1"), msd: nodeMSD)
        }
    }

    // MARK: - Typed accessors

    package func mapping(_ n: Node, _ expected: String) throws(TopologyError) -> Node.Mapping {
        guard case .mapping(let m) = n else { throw error(n, "expected \(expected)") }
        return m
    }

    package func checkKeys(_ m: Node.Mapping, _ allowed: [String], in what: String) throws(TopologyError) {
        for k in m.keys {
            guard let s = k.scalar?.string else { throw error(k, "expected a key (a string) in \(what)") }
            if !allowed.contains(s) {
                // The nearest known key within two edits (the first of equally near ones).
                let nearest = allowed.map { ($0, editDistance($0, s)) }.filter { $0.1 <= 2 }.min { $0.1 < $1.1 }
                let hint = nearest.map { " — did you mean '\($0.0)'?" } ?? ""
                throw error(k, "unknown key '\(s)' in \(what) (expected one of: \(allowed.joined(separator: ", ")))\(hint)")
            }
        }
    }

    package func string(_ n: Node, _ expected: String) throws(TopologyError) -> String {
        guard case .scalar(let s) = n else { throw error(n, "expected \(expected)") }
        return s.string
    }

    package func positiveInt(_ n: Node, _ what: String) throws(TopologyError) -> Int {
        guard case .scalar(let s) = n, let v = n.int else {
            let got = n.scalar?.string ?? "a collection"
            throw error(n, "expected '\(what)' to be a positive integer, got '\(got)'")
        }
        _ = s
        if v <= 0 { throw error(n, "'\(what)' must be a positive integer, got \(v)") }
        if what.hasSuffix("metric") && v > Topology.maxMetric {
            throw error(n, "'\(what)' must be at most \(Topology.maxMetric) (the IS-IS wide-metric maximum), got \(v)")
        }
        return v
    }

    func msd(_ n: Node) throws(TopologyError) -> Int {
        let v = try positiveInt(n, "msd")
        if v > 127 { throw error(n, "'msd' must be at most 127 (an SRH holds at most 127 segments), got \(v)") }
        return v
    }

    func mtu(_ n: Node) throws(TopologyError) -> Int {
        let v = try positiveInt(n, "mtu")
        if !Topology.mtuRange.contains(v) {
            throw error(n, "'mtu' must be between \(Topology.mtuRange.lowerBound) (the IPv6 minimum) and \(Topology.mtuRange.upperBound) bytes, got \(v)")
        }
        return v
    }

    func delay(_ n: Node) throws(TopologyError) -> Int {
        let s = try string(n, "a delay such as 2ms")
        do { return try Topology.parseDelay(s) } catch { throw self.error(n, error.message) }
    }

    func bandwidth(_ n: Node) throws(TopologyError) -> Int {
        let s = try string(n, "a bandwidth such as 50Mbit")
        do { return try Topology.parseBandwidth(s) } catch { throw self.error(n, error.message) }
    }

    package func address(_ n: Node, _ expected: String) throws(TopologyError) -> IPv6Address {
        let s = try string(n, expected)
        do { return try IPv6Address(parsing: s) } catch {
            throw self.error(n, "bad address: \(error.description) (expected \(expected))")
        }
    }

    // MARK: - Yams errors

    package func translate(_ e: YamlError) -> TopologyError {
        switch e {
        case .scanner(let ctx, let problem, let mark, _), .parser(let ctx, let problem, let mark, _),
             .composer(let ctx, let problem, let mark, _):
            let c = ctx.map { " (\($0.text) at \($0.mark.line):\($0.mark.column))" } ?? ""
            return TopologyError(file: file, line: mark.line, column: mark.column, "YAML syntax error: \(problem)\(c)")
        case .reader(let problem, _, _, _):
            return TopologyError(file: file, line: 1, column: 1, "cannot read the file: \(problem)")
        case .duplicatedKeysInMapping(let dups, let ctx):
            let key = dups.first ?? ""
            let first = ctx.mark
            if let (l, c) = Self.findRepeat(of: key, after: first, in: text) {
                return TopologyError(file: file, line: l, column: c,
                                     "duplicate key '\(key)' (first at \(first.line):\(first.column)); node names and keys must be unique")
            }
            return TopologyError(file: file, line: first.line, column: first.column,
                                 "duplicate key '\(key)'; node names and keys must be unique")
        default:
            return TopologyError(file: file, line: 1, column: 1, "cannot read YAML: \(e)")
        }
    }

    /// The position of the next occurrence of `key` used as a mapping key after `mark`.
    static func findRepeat(of key: String, after mark: Mark, in text: String) -> (Int, Int)? {
        guard !key.isEmpty else { return nil }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let k = Array(key.unicodeScalars)
        for li in max(0, mark.line - 1)..<lines.count {
            let u = Array(lines[li].unicodeScalars)
            var start = 0
            if li == mark.line - 1 { start = mark.column } // skip the first occurrence itself
            var i = start
            while i + k.count <= u.count {
                let before: Unicode.Scalar? = i > 0 ? u[i - 1] : nil
                let boundaryBefore = before == nil || " \t{,\"'".unicodeScalars.contains(before!)
                if boundaryBefore && u[i..<(i + k.count)].elementsEqual(k) {
                    var j = i + k.count
                    if j < u.count, u[j] == "\"" || u[j] == "'" { j += 1 }
                    while j < u.count, u[j] == " " { j += 1 }
                    if j < u.count, u[j] == ":" {
                        let col = (before == "\"" || before == "'") ? i : i + 1
                        return (li + 1, col)
                    }
                }
                i += 1
            }
        }
        return nil
    }
}

/// Levenshtein distance, for "did you mean" hints on short keys.
func editDistance(_ a: String, _ b: String) -> Int {
    // Optimal string alignment: insertions, deletions, substitutions and swaps of two
    // neighbouring letters each cost 1 ("prot" is one step from "port").
    let x = Array(a.lowercased()), y = Array(b.lowercased())
    if x.isEmpty { return y.count }
    if y.isEmpty { return x.count }
    var d = [[Int]](repeating: [Int](repeating: 0, count: y.count + 1), count: x.count + 1)
    for i in 0...x.count { d[i][0] = i }
    for j in 0...y.count { d[0][j] = j }
    for i in 1...x.count {
        for j in 1...y.count {
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
            if i > 1, j > 1, x[i - 1] == y[j - 2], x[i - 2] == y[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
        }
    }
    return d[x.count][y.count]
}
