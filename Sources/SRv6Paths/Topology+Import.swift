// Importers (Topology Zoo GML, srte-topology/1 JSON) and the YAML writer.

extension Topology {
    /// How GML links get their IGP metric.
    public enum GMLMetric: String, Sendable, CaseIterable {
        /// The great-circle distance in km between the endpoints (≥ 1); links whose endpoints
        /// lack coordinates get metric 10.
        case distance
        /// Every link gets metric 10.
        case hops
    }

    /// The locator the importers give the node at 0-based `index`:
    /// `fc00:<(i+1) >> 16>:<(i+1) & 0xffff>::/48`.
    public static func importedLocator(index i: Int) -> IPv6Prefix {
        let n = UInt64(i + 1)
        return IPv6Prefix(address: IPv6Address(high: 0xfc00 << 48 | (n >> 16) << 32 | (n & 0xffff) << 16, low: 0), length: 48)
    }

    /// A node name made of `[A-Za-z0-9_.-]` (other runs become `_`).
    static func sanitizedName(_ raw: String) -> String {
        var out = ""
        var lastUnderscore = false
        for u in raw.unicodeScalars {
            let ok = (u >= "A" && u <= "Z") || (u >= "a" && u <= "z") || (u >= "0" && u <= "9") || u == "_" || u == "." || u == "-"
            if ok { out.unicodeScalars.append(u); lastUnderscore = false } else if !lastUnderscore { out += "_"; lastUnderscore = true }
        }
        while out.hasPrefix("_") { out.removeFirst() }
        while out.hasSuffix("_") { out.removeLast() }
        return out
    }

    /// Reads a Topology Zoo GML file: every node becomes a router (locators from
    /// ``importedLocator(index:)``), names from `label` (sanitised, made unique); links get
    /// their metric from `metric` and a delay of 5 µs per km of great-circle distance (1 ms
    /// when coordinates are missing). Self-loops and parallel edges are dropped.
    ///
    /// ```swift
    /// let t = try Topology(gml: text, file: "Abilene.gml", metric: .distance)
    /// ```
    /// - Throws: ``TopologyError`` with line and column for GML syntax errors and edges to
    ///   unknown node ids.
    /// - Complexity: O(size of the file).
    public init(gml: String, file: String = "<input>", metric: GMLMetric = .distance) throws(TopologyError) {
        var parser = GMLParser(text: gml, file: file)
        let root = try parser.parseDocument()
        guard let graphItem = root.first(where: { $0.key == "graph" }), case .list(let g) = graphItem.value else {
            throw TopologyError(file: file, line: 1, column: 1, "expected 'graph [ ... ]' in the GML file")
        }
        var name = "imported"
        for item in g where item.key == "label" || item.key == "Network" {
            if case .string(let s) = item.value, !Topology.sanitizedName(s).isEmpty { name = Topology.sanitizedName(s) }
        }
        var ids: [String: Int] = [:]
        var rawNames: [String] = []
        var coords: [(Double, Double)?] = []
        for item in g where item.key == "node" {
            guard case .list(let attrs) = item.value else { throw TopologyError(file: file, line: item.line, column: item.column, "expected 'node [ ... ]'") }
            guard let idItem = attrs.first(where: { $0.key == "id" }) else {
                throw TopologyError(file: file, line: item.line, column: item.column, "node without an 'id'")
            }
            let id = idItem.value.text
            if ids[id] != nil { throw TopologyError(file: file, line: idItem.line, column: idItem.column, "duplicate node id \(id)") }
            ids[id] = rawNames.count
            let label = attrs.first(where: { $0.key == "label" })?.value.text ?? "n\(rawNames.count + 1)"
            let s = Topology.sanitizedName(label)
            rawNames.append(s.isEmpty ? "n\(rawNames.count + 1)" : s)
            let lat = attrs.first(where: { $0.key == "Latitude" })?.value.number
            let lon = attrs.first(where: { $0.key == "Longitude" })?.value.number
            if let lat, let lon, lat.isFinite, lon.isFinite, abs(lat) <= 90, abs(lon) <= 180 {
                coords.append((lat, lon))
            } else {
                coords.append(nil)   // missing or impossible coordinates
            }
        }
        var count: [String: Int] = [:]
        for r in rawNames { count[r, default: 0] += 1 }
        var names: [String] = []
        for (i, r) in rawNames.enumerated() { names.append(count[r]! == 1 ? r : "\(r)-\(i + 1)") }
        var nodes: [Node] = []
        for (i, nm) in names.enumerated() { nodes.append(.router(nm, locator: Topology.importedLocator(index: i))) }
        var seen = Set<Int>()
        var links: [Link] = []
        for item in g where item.key == "edge" {
            guard case .list(let attrs) = item.value else { throw TopologyError(file: file, line: item.line, column: item.column, "expected 'edge [ ... ]'") }
            guard let s = attrs.first(where: { $0.key == "source" }), let t = attrs.first(where: { $0.key == "target" }) else {
                throw TopologyError(file: file, line: item.line, column: item.column, "edge without 'source' and 'target'")
            }
            guard let a = ids[s.value.text] else { throw TopologyError(file: file, line: s.line, column: s.column, "edge from unknown node id \(s.value.text)") }
            guard let b = ids[t.value.text] else { throw TopologyError(file: file, line: t.line, column: t.column, "edge to unknown node id \(t.value.text)") }
            if a == b || !seen.insert(min(a, b) * names.count + max(a, b)).inserted { continue }
            var km: Double? = nil
            if let p = coords[a], let q = coords[b] {
                let d = greatCircleKm(p, q)
                if d.isFinite && d < 100_000 { km = d }
            }
            let m: Int
            switch metric {
            case .distance: m = km.map { max(1, Int($0.rounded())) } ?? 10
            case .hops: m = 10
            }
            let delay = km.map { max(1, Int(($0 * 5).rounded())) } ?? 1000
            links.append(Link(a: a, b: b, metric: m, delay: delay))
        }
        try self.init(name: name, nodes: nodes, links: links)
    }

    /// Reads `srte-topology/1` JSON (`{"format", "name", "nodes": [{"name",
    /// "locator"}], "links": [{"a", "b", "igp"}], "pairs": [{"from", "to"}]}`).
    ///
    /// - Returns: The topology (all routers, delay 1 ms per link) and the file's benchmark pairs.
    /// - Throws: ``TopologyError`` for malformed JSON or content.
    /// - Complexity: O(size of the file).
    public init(srteTopologyJSON text: String, file: String = "<input>") throws(TopologyError) {
        self = try Topology.importSRTETopologyJSON(text, file: file).topology
    }

    /// Like ``init(srteTopologyJSON:file:)``, also returning the file's `pairs`.
    public static func importSRTETopologyJSON(_ text: String, file: String = "<input>") throws(TopologyError)
        -> (topology: Topology, pairs: [(from: String, to: String)]) {
        var p = MiniJSON(bytes: Array(text.utf8), file: file)
        let root = try p.parse()
        guard case .object(let top) = root else { throw TopologyError(file: file, "expected a JSON object") }
        func field(_ o: [(String, MiniJSON.Value)], _ k: String) -> MiniJSON.Value? { o.first { $0.0 == k }?.1 }
        guard case .string(let fmt)? = field(top, "format"), fmt == "srte-topology/1" else {
            throw TopologyError(file: file, "not an srte-topology/1 file (missing \"format\": \"srte-topology/1\")")
        }
        var name = "topology"
        if case .string(let s)? = field(top, "name") { name = s }
        guard case .array(let ns)? = field(top, "nodes"), case .array(let ls)? = field(top, "links") else {
            throw TopologyError(file: file, "expected \"nodes\" and \"links\" arrays")
        }
        var nodes: [Node] = []
        nodes.reserveCapacity(ns.count)
        var index: [String: Int] = [:]
        index.reserveCapacity(ns.count)
        for (i, n) in ns.enumerated() {
            guard case .object(let o) = n, case .string(let nm)? = field(o, "name") else {
                throw TopologyError(file: file, "node \(i + 1): expected {\"name\", \"locator\"}")
            }
            var loc = Topology.importedLocator(index: i)
            if case .string(let l)? = field(o, "locator") {
                do { loc = try IPv6Prefix(parsing: l) } catch { throw TopologyError(file: file, "node \(nm): \(error)") }
            }
            index[nm] = i
            nodes.append(.router(nm, locator: loc))
        }
        var links: [Link] = []
        links.reserveCapacity(ls.count)
        for (i, l) in ls.enumerated() {
            guard case .object(let o) = l, case .string(let a)? = field(o, "a"), case .string(let b)? = field(o, "b"),
                  case .number(let w)? = field(o, "igp") else {
                throw TopologyError(file: file, "link \(i + 1): expected {\"a\", \"b\", \"igp\"}")
            }
            guard let ia = index[a], let ib = index[b] else { throw TopologyError(file: file, "link \(i + 1): unknown node") }
            guard w.isFinite, w == w.rounded(), w >= 1, w <= Double(Topology.maxMetric) else {
                throw TopologyError(file: file, "link \(i + 1): igp must be an integer in 1...\(Topology.maxMetric)")
            }
            links.append(Link(a: ia, b: ib, metric: Int(w)))
        }
        var pairs: [(from: String, to: String)] = []
        if case .array(let ps)? = field(top, "pairs") {
            for p in ps {
                if case .object(let o) = p, case .string(let f)? = field(o, "from"), case .string(let t)? = field(o, "to") {
                    pairs.append((f, t))
                }
            }
        }
        return (try Topology(name: name, nodes: nodes, links: links), pairs)
    }

    /// The topology as a YAML topology file that ``init(yaml:file:)`` reads back unchanged.
    ///
    /// - Parameter comment: Lines written as `#` comments at the top.
    public func yaml(comment: [String] = []) -> String {
        var s = ""
        for c in comment { s += "# \(c)\n" }
        s += "name: \(yamlScalar(name))\n"
        if let d = defaultMSD { s += "defaults: { msd: \(d) }\n" }
        if let c = csid { s += "csid: \(Topology.csidText(c))\n" }
        s += "nodes:\n"
        for n in nodes {
            var attrs: [String] = []
            if n.kind == .host {
                attrs.append("kind: host")
                attrs.append("address: \"\(n.address!)\"")
            } else {
                attrs.append("locator: \"\(n.locator!)\"")
                if let sid = n.sid { attrs.append("sid: \"\(sid)\"") }
                switch n.csid {
                case .inherit: break
                case .none: attrs.append("csid: none")
                case .own(let d): attrs.append("csid: \(Topology.csidText(d))")
                }
            }
            if let m = n.msd { attrs.append("msd: \(m)") }
            s += "  \(yamlScalar(n.name)): { \(attrs.joined(separator: ", ")) }\n"
        }
        s += "links:\n"
        for l in links {
            var attrs = ["endpoints: [\(yamlScalar(nodes[l.a].name)), \(yamlScalar(nodes[l.b].name))]", "metric: \(l.metric)"]
            if l.teMetric != l.metric { attrs.append("te-metric: \(l.teMetric)") }
            attrs.append("delay: \(Topology.delayText(l.delay))")
            if let bw = l.bandwidth { attrs.append("bandwidth: \(Topology.bandwidthText(bw))") }
            if let m = l.mtu { attrs.append("mtu: \(m)") }
            if !l.srlgs.isEmpty { attrs.append("srlg: [\(l.srlgs.map(yamlScalar).joined(separator: ", "))]") }
            var sids: [String] = []
            if let x = l.sidFromA { sids.append("\(yamlScalar(nodes[l.a].name)): \"\(x)\"") }
            if let x = l.sidFromB { sids.append("\(yamlScalar(nodes[l.b].name)): \"\(x)\"") }
            if !sids.isEmpty { attrs.append("sids: { \(sids.joined(separator: ", ")) }") }
            var csids: [String] = []
            if let x = l.csidFromA { csids.append("\(yamlScalar(nodes[l.a].name)): 0x\(String(x, radix: 16))") }
            if let x = l.csidFromB { csids.append("\(yamlScalar(nodes[l.b].name)): 0x\(String(x, radix: 16))") }
            if !csids.isEmpty { attrs.append("csids: { \(csids.joined(separator: ", ")) }") }
            s += "  - { \(attrs.joined(separator: ", ")) }\n"
        }
        return s
    }

    /// `{ block: "fc00::/32", length: 16, local: "0xe000-0xffff" }` (as the file format writes it).
    static func csidText(_ d: CSIDDomain) -> String {
        "{ block: \"\(d.format.block)\", length: \(d.format.csidLength), local: \"\(CSIDDomain.text(d.localRange))\" }"
    }

    /// `1.5ms`, `12ms`, … for a delay in microseconds (as the file format writes it).
    public static func delayText(_ us: Int) -> String {
        if us % 1000 == 0 { return "\(us / 1000)ms" }
        var s = String(Double(us) / 1000)
        if s.hasSuffix(".0") { s.removeLast(2) }
        return s + "ms"
    }

    /// `50Mbit`, `10Gbit`, … for a bandwidth in bit/s.
    static func bandwidthText(_ b: Int) -> String {
        for (unit, scale) in [("Tbit", 1_000_000_000_000), ("Gbit", 1_000_000_000), ("Mbit", 1_000_000), ("kbit", 1000)] where b % scale == 0 {
            return "\(b / scale)\(unit)"
        }
        return "\(b)bit"
    }
}

/// A YAML plain scalar when safe, else a double-quoted one.
func yamlScalar(_ s: String) -> String {
    let reserved: Set<String> = ["true", "false", "yes", "no", "on", "off", "null", "~", "y", "n"]
    let safe = !s.isEmpty && !reserved.contains(s.lowercased()) && s.unicodeScalars.allSatisfy {
        ($0 >= "A" && $0 <= "Z") || ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") || $0 == "_" || $0 == "-" || $0 == "."
    } && !(s.first!.isNumber || s.first == "-" || s.first == ".")
    return safe ? s : jsonString(s)
}

/// Great-circle distance in km between two (latitude, longitude) points in degrees.
func greatCircleKm(_ p: (Double, Double), _ q: (Double, Double)) -> Double {
    let r = 6371.0
    let rad = Double.pi / 180
    let dLat = (q.0 - p.0) * rad, dLon = (q.1 - p.1) * rad
    let h = sinApprox(dLat / 2) * sinApprox(dLat / 2) + cosApprox(p.0 * rad) * cosApprox(q.0 * rad) * sinApprox(dLon / 2) * sinApprox(dLon / 2)
    return 2 * r * asinApprox(min(1, h.squareRoot()))
}

// Pure-Swift trig (SRv6Paths avoids Foundation); accurate to ~1e-12 on the ranges used.
func sinApprox(_ x: Double) -> Double {
    // Reduce to [-pi, pi].
    var y = x.truncatingRemainder(dividingBy: 2 * .pi)
    if y > .pi { y -= 2 * .pi } else if y < -.pi { y += 2 * .pi }
    var term = y, sum = y
    let y2 = y * y
    var n = 1.0
    while abs(term) > 1e-17 {
        term *= -y2 / ((2 * n) * (2 * n + 1))
        sum += term
        n += 1
    }
    return sum
}

func cosApprox(_ x: Double) -> Double { sinApprox(x + .pi / 2) }

func asinApprox(_ x: Double) -> Double {
    // Newton on sin(y) = x, starting from a good guess.
    if x >= 1 { return .pi / 2 }
    var y = x
    for _ in 0..<40 {
        let f = sinApprox(y) - x
        let d = cosApprox(y)
        if d == 0 { break }
        let step = f / d
        y -= step
        if abs(step) < 1e-15 { break }
    }
    return y
}

/// A GML tree: `key value` pairs whose values are numbers, strings or `[ ... ]` lists.
struct GMLParser {
    enum Value {
        case number(Double, String)
        case string(String)
        case list([Item])
        var text: String {
            switch self {
            case .number(_, let t): return t
            case .string(let s): return s
            case .list: return "[...]"
            }
        }
        var number: Double? { if case .number(let d, _) = self { return d }; return nil }
    }
    struct Item {
        var key: String
        var value: Value
        var line: Int
        var column: Int
    }

    let u: [UInt8]
    let file: String
    var i = 0
    var line = 1
    var lineStart = 0

    init(text: String, file: String) {
        u = Array(text.utf8)
        self.file = file
    }

    var column: Int { i - lineStart + 1 }

    func fail(_ m: String) -> TopologyError { TopologyError(file: file, line: line, column: column, m) }

    mutating func skipSpace() {
        while i < u.count {
            let c = u[i]
            if c == 0x0a { i += 1; line += 1; lineStart = i }
            else if c == 0x20 || c == 0x09 || c == 0x0d { i += 1 }
            else if c == UInt8(ascii: "#") { while i < u.count && u[i] != 0x0a { i += 1 } }
            else { break }
        }
    }

    mutating func parseDocument() throws(TopologyError) -> [Item] {
        let items = try parseItems(nested: false)
        return items
    }

    mutating func parseItems(nested: Bool) throws(TopologyError) -> [Item] {
        var items: [Item] = []
        while true {
            skipSpace()
            if i >= u.count {
                if nested { throw fail("unexpected end of file: expected ']'") }
                return items
            }
            if u[i] == UInt8(ascii: "]") {
                if !nested { throw fail("unexpected ']'") }
                i += 1
                return items
            }
            let (kl, kc) = (line, column)
            let start = i
            while i < u.count, isKeyChar(u[i]) { i += 1 }
            if i == start { throw fail("expected a key (letters and digits), found '\(Character(Unicode.Scalar(u[i])))'") }
            let key = String(decoding: u[start..<i], as: UTF8.self)
            skipSpace()
            guard i < u.count else { throw fail("expected a value after '\(key)'") }
            let value: Value
            let c = u[i]
            if c == UInt8(ascii: "[") {
                i += 1
                value = .list(try parseItems(nested: true))
            } else if c == UInt8(ascii: "\"") {
                i += 1
                let s = i
                while i < u.count && u[i] != UInt8(ascii: "\"") {
                    if u[i] == 0x0a { line += 1; lineStart = i + 1 }
                    i += 1
                }
                if i >= u.count { throw TopologyError(file: file, line: kl, column: kc, "unterminated string for '\(key)'") }
                value = .string(decodeEntities(String(decoding: u[s..<i], as: UTF8.self)))
                i += 1
            } else {
                let s = i
                while i < u.count, u[i] == UInt8(ascii: "-") || u[i] == UInt8(ascii: "+") || u[i] == UInt8(ascii: ".")
                        || u[i] == UInt8(ascii: "e") || u[i] == UInt8(ascii: "E") || (u[i] >= 0x30 && u[i] <= 0x39) { i += 1 }
                let t = String(decoding: u[s..<i], as: UTF8.self)
                guard let d = Double(t) else { throw fail("expected a number, a \"string\" or '[' after '\(key)'") }
                value = .number(d, t.hasSuffix(".0") ? String(t.dropLast(2)) : t)
            }
            items.append(Item(key: key, value: value, line: kl, column: kc))
        }
    }

    func isKeyChar(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == UInt8(ascii: "_")
    }

    func decodeEntities(_ s: String) -> String {
        guard s.contains("&") else { return s }
        var out = s
        for (e, r) in [("&amp;", "&"), ("&quot;", "\""), ("&lt;", "<"), ("&gt;", ">"), ("&apos;", "'")] {
            out = out.split(separator: e, omittingEmptySubsequences: false).joined(separator: r)
        }
        return out
    }
}

/// A small JSON reader (objects keep key order) for the srte-topology/1 importer.
struct MiniJSON {
    indirect enum Value {
        case null, bool(Bool), number(Double), string(String), array([Value]), object([(String, Value)])
    }

    let u: [UInt8]
    let file: String
    var i = 0

    init(bytes: [UInt8], file: String) {
        u = bytes
        self.file = file
    }

    func fail(_ m: String) -> TopologyError {
        var line = 1, col = 1
        for c in u[0..<min(i, u.count)] { if c == 0x0a { line += 1; col = 1 } else { col += 1 } }
        return TopologyError(file: file, line: line, column: col, "JSON: \(m)")
    }

    mutating func ws() { while i < u.count, u[i] == 0x20 || u[i] == 0x0a || u[i] == 0x0d || u[i] == 0x09 { i += 1 } }

    mutating func parse() throws(TopologyError) -> Value {
        let v = try value()
        ws()
        if i != u.count { throw fail("unexpected text after the value") }
        return v
    }

    mutating func value() throws(TopologyError) -> Value {
        ws()
        guard i < u.count else { throw fail("unexpected end") }
        switch u[i] {
        case UInt8(ascii: "{"):
            i += 1
            var o: [(String, Value)] = []
            ws()
            if i < u.count && u[i] == UInt8(ascii: "}") { i += 1; return .object(o) }
            while true {
                ws()
                guard i < u.count, u[i] == UInt8(ascii: "\"") else { throw fail("expected a key") }
                let k = try string()
                ws()
                guard i < u.count, u[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                i += 1
                o.append((k, try value()))
                ws()
                guard i < u.count else { throw fail("unexpected end") }
                if u[i] == UInt8(ascii: ",") { i += 1; continue }
                if u[i] == UInt8(ascii: "}") { i += 1; return .object(o) }
                throw fail("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            i += 1
            var a: [Value] = []
            ws()
            if i < u.count && u[i] == UInt8(ascii: "]") { i += 1; return .array(a) }
            while true {
                a.append(try value())
                ws()
                guard i < u.count else { throw fail("unexpected end") }
                if u[i] == UInt8(ascii: ",") { i += 1; continue }
                if u[i] == UInt8(ascii: "]") { i += 1; return .array(a) }
                throw fail("expected ',' or ']'")
            }
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            for (w, v) in [("true", Value.bool(true)), ("false", .bool(false)), ("null", .null)] {
                let b = Array(w.utf8)
                if i + b.count <= u.count && Array(u[i..<(i + b.count)]) == b { i += b.count; return v }
            }
            throw fail("unexpected word")
        default:
            let s = i
            while i < u.count, (u[i] >= 0x30 && u[i] <= 0x39) || u[i] == UInt8(ascii: "-") || u[i] == UInt8(ascii: "+")
                    || u[i] == UInt8(ascii: ".") || u[i] == UInt8(ascii: "e") || u[i] == UInt8(ascii: "E") { i += 1 }
            // Fast path for integers.
            var n = 0, neg = false, j = s, isInt = true
            if j < i && u[j] == UInt8(ascii: "-") { neg = true; j += 1 }
            if j == i { isInt = false }
            while j < i { if u[j] >= 0x30 && u[j] <= 0x39 { n = n * 10 + Int(u[j] - 0x30) } else { isInt = false; break }; j += 1 }
            if isInt { return .number(Double(neg ? -n : n)) }
            guard let d = Double(String(decoding: u[s..<i], as: UTF8.self)) else { throw fail("expected a value") }
            return .number(d)
        }
    }

    mutating func string() throws(TopologyError) -> String {
        i += 1
        let s = i
        var simple = true
        while i < u.count && u[i] != UInt8(ascii: "\"") {
            if u[i] == UInt8(ascii: "\\") { simple = false; i += 2 } else { i += 1 }
        }
        guard i < u.count else { throw fail("unterminated string") }
        defer { i += 1 }
        if simple { return String(decoding: u[s..<i], as: UTF8.self) }
        var out: [UInt8] = []
        var j = s
        while j < i {
            if u[j] == UInt8(ascii: "\\"), j + 1 < i {
                let e = u[j + 1]
                switch e {
                case UInt8(ascii: "n"): out.append(0x0a)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0d)
                case UInt8(ascii: "u") where j + 5 < i:
                    let hex = String(decoding: u[(j + 2)...(j + 5)], as: UTF8.self)
                    if let v = UInt32(hex, radix: 16), let sc = Unicode.Scalar(v) { out += Array(String(Character(sc)).utf8) }
                    j += 4
                default: out.append(e)
                }
                j += 2
            } else { out.append(u[j]); j += 1 }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
