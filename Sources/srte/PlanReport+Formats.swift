import SRv6Paths
import LinuxSystem

// The formats of `srte plan --format`: text, json, dot and iproute2. The planner (SRv6Paths)
// produces the PlanReport; how it is printed is the CLI's business.
extension PlanReport {
    private func name(_ i: Int) -> String { topology.nodes[i].name }

    private func modeWord() -> String {
        switch disjoint {
        case .link: return "link-disjoint"
        case .node: return "node-disjoint"
        case .srlg: return "SRLG-disjoint"
        }
    }

    /// The JSON contract of `srte plan --format json`:
    /// `{"from", "to", "requested", "found", "totalCost", "paths": [{"hops", "cost", "delay",
    /// "segments": [{"sid", "kind", "node", "to"?}], "compressed"?, "wire"}], "disjoint", "metric",
    /// "notes"}`. `wire` is the path as its packets leave the source: `destination` (the IPv6
    /// Destination Address), `reduced`, `srh` (hex, null without waypoints), `srhBytes` and
    /// `bytesSaved` (against the same segments as whole SIDs).
    /// `delay` is in milliseconds.
    func json() -> String {
        JSON.object([
            ("from", .string(name(from))),
            ("to", .string(name(to))),
            ("requested", .int(requested)),
            ("found", .int(paths.count)),
            ("totalCost", .int(totalCost)),
            ("paths", .array(paths.map { p in
                .object([
                    ("hops", .array(p.path.nodes.map { .string(name($0)) })),
                    ("cost", .int(p.path.cost)),
                    ("delay", .double(Double(p.delay) / 1000)),
                    ("segments", .array(p.segments.map { seg in
                        var e: [(String, JSON)] = [("sid", .string("\(seg.sid)")), ("kind", .string(seg.kind.rawValue)),
                                                   ("node", .string(name(seg.node)))]
                        if let nb = seg.neighbor { e.append(("to", .string(name(nb)))) }
                        return .object(e)
                    })),
                ] + (p.compressed.map { c in
                    [("compressed", JSON.object([
                        ("segments", .array(c.entries.map { entry in
                            switch entry {
                            case .sid(let a): return .object([("sid", .string("\(a)"))])
                            case .container(let a, let cs):
                                return .object([("sid", .string("\(a)")), ("csids", .array(cs.map { .string(String($0, radix: 16)) }))])
                            }
                        })),
                        ("srhBytes", .int(8 + 16 * c.entries.count)),
                        ("reducedSRHBytes", c.reducible ? .int(8 + 16 * (c.entries.count - 1)) : .null),
                    ]))]
                } ?? []) + [("wire", wireJSON(p))])
            })),
            ("disjoint", .string(disjoint.rawValue)),
            ("metric", .string(metric.rawValue)),
            ("notes", .array(notes.map { .string($0) })),
        ]).pretty
    }

    /// The `wire` object of a path in ``json()``.
    private func wireJSON(_ p: Path) -> JSON {
        let w = p.wire(compression, topology: topology)
        let n = p.segments.count
        let whole = n > 1 ? 8 + 16 * n : 0
        let srh: JSON
        if let h = try? w.header() { srh = .string(Hex.encode(h)) } else { srh = .null }
        return .object([
            ("destination", w.destination.map { .string("\($0)") } ?? .null),
            ("reduced", .bool(w.reduced)),
            ("srh", srh),
            ("srhBytes", .int(w.srhBytes)),
            ("bytesSaved", .int(whole - w.srhBytes)),
        ])
    }

    /// A human-readable table.
    func text() -> String {
        var lines: [String] = []
        lines.append("\(topology.name): \(name(from)) → \(name(to)), \(paths.count) of \(requested) \(modeWord()) path\(requested == 1 ? "" : "s"), metric \(metric.rawValue), total cost \(totalCost)")
        if !paths.isEmpty {
            let compressed = paths.contains { $0.compressed != nil }
            var rows: [[String]] = [["#", "cost", "delay", "hops"] + (compressed ? ["srh", "compressed segments"] : ["segments"])]
            for (i, p) in paths.enumerated() {
                let segs = p.segments.map { seg -> String in
                    switch seg.kind {
                    case .node: return "\(seg.sid) (\(name(seg.node)))"
                    case .adjacency: return "\(seg.sid) (\(name(seg.node))→\(name(seg.neighbor!)))"
                    case .destination: return "\(seg.sid) (\(name(seg.node)))"
                    }
                }.joined(separator: ", ")
                var row = ["\(i + 1)", "\(p.path.cost)", Topology.delayText(p.delay), p.path.nodes.map(name).joined(separator: " ")]
                if let c = p.compressed {
                    // Only the destination: the IGP's path, sent without an SRH.
                    let bytes = 8 + 16 * c.entries.count
                    row.append(c.entries.count <= 1 ? "none" : c.reducible ? "\(bytes) B (reduced \(bytes - 16))" : "\(bytes) B")
                    row.append(c.entries.map(\.description).joined(separator: ", "))
                } else {
                    row.append(segs)
                }
                rows.append(row)
            }
            lines += Table(fitting: rows).lines(rows)
        }
        for n in notes { lines.append("note: \(n)") }
        return lines.joined(separator: "\n")
    }

    /// Colours used for paths in DOT output, in path order.
    private static let palette = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    /// The topology as a Graphviz graph, each planned path drawn in its own colour.
    func dot() -> String {
        var s = "graph \(dotID(topology.name)) {\n"
        s += "  graph [overlap=false, splines=true, label=\(dotID("\(name(from)) → \(name(to)): \(paths.count) \(modeWord()) path\(paths.count == 1 ? "" : "s"), \(metric.rawValue) cost \(totalCost)")), labelloc=t];\n"
        s += "  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=8];\n"
        var onPath = Set<Int>()
        for p in paths { for v in p.path.nodes { onPath.insert(v) } }
        for (i, n) in topology.nodes.enumerated() {
            let shape = n.kind == .host ? "box" : "ellipse"
            let sid = n.kind == .host ? n.address!.description : topology.nodeSID(ofNode: i)!.description
            let style = (i == from || i == to) ? ", style=bold, penwidth=2" : onPath.contains(i) ? "" : ", color=gray50, fontcolor=gray40"
            s += "  \(dotID(n.name)) [shape=\(shape), label=\(dotID("\(n.name)\n\(sid)"))\(style)];\n"
        }
        var used = [Int: [Int]]()
        for (pi, p) in paths.enumerated() { for l in p.path.links { used[l, default: []].append(pi) } }
        for (li, l) in topology.links.enumerated() {
            let w = metric.weight(of: l)
            let label = metric == .delay ? Topology.delayText(w) : "\(w)"
            if let ps = used[li] {
                for pi in ps {
                    let c = PlanReport.palette[pi % PlanReport.palette.count]
                    s += "  \(dotID(name(l.a))) -- \(dotID(name(l.b))) [color=\"\(c)\", penwidth=3, label=\(dotID("\(label)")), fontcolor=\"\(c)\"];\n"
                }
            } else {
                s += "  \(dotID(name(l.a))) -- \(dotID(name(l.b))) [color=gray70, label=\(dotID(label))];\n"
            }
        }
        s += "}"
        return s
    }

    /// The `ip -6 route` commands to run at the ingress: one route per path, each in its own
    /// routing table (101, 102, …) so they can coexist; steer traffic into a table with
    /// `ip -6 rule` (or MPTCP subflow steering). `IFACE` stands for the ingress interface
    /// toward the path's first hop. A path planned for the fewest bytes (`--fewest-bytes`) is
    /// written compressed (RFC 9800 containers).
    ///
    /// For a topology with C-SIDs the routers of the planned paths get their `seg6local`
    /// routes too (``routerRoutes()``).
    func iproute2() -> String {
        var lines: [String] = []
        lines.append("# srte plan \(topology.name): \(name(from)) -> \(name(to)), \(paths.count) of \(requested) \(modeWord()) paths, metric \(metric.rawValue)")
        lines.append("# run on \(name(from)); replace each IFACE_<neighbour> with \(name(from))'s interface toward that neighbour")
        let dst = topology.destinationAddress(ofNode: to)
        for (i, p) in paths.enumerated() {
            let table = 101 + i
            let first = name(p.path.nodes[1])
            lines.append("# path \(i + 1): \(p.path.nodes.map(name).joined(separator: " ")) (cost \(p.path.cost), delay \(Topology.delayText(p.delay)))")
            let segs = (p.compressed?.segments ?? p.segments.map(\.sid)).map(\.description).joined(separator: ",")
            lines.append("ip -6 route add \(dst)/128 table \(table) encap seg6 mode encap segs \(segs) dev IFACE_\(first)")
            if let c = p.compressed, c.reducible {
                lines.append("# or with a reduced SRH (the first container only as Destination Address, 16 bytes less; Linux 6.1+): mode encap.red")
            }
        }
        if topology.hasCSIDs { lines += routerRoutes() }
        for n in notes { lines.append("# note: \(n)") }
        return lines.joined(separator: "\n")
    }

    /// The `seg6local` routes the routers of the planned paths need for RFC 9800 NEXT-C-SID
    /// (Linux 6.1+ for End, 6.6+ for End.X with flavors): per router, its whole End and End.X
    /// SIDs, its End C-SID (`action End flavors next-csid lblen L nflen N` on the prefix of
    /// block and C-SID) and one End.X C-SID per link from its local range (`action End.X nh6
    /// NEIGHBOUR flavors next-csid …` toward that neighbour). Routers marked `csid: none` get
    /// their whole SIDs only. `NH6_<neighbour>` stands for the neighbour's address on the link.
    func routerRoutes() -> [String] {
        var onPath: [Int] = []
        for p in paths { for v in p.path.nodes where topology.nodes[v].kind == .router && !onPath.contains(v) { onPath.append(v) } }
        guard !onPath.isEmpty else { return [] }
        var lines = ["#",
                     "# The routers' SIDs (seg6local; RFC 9800 NEXT-C-SID needs Linux 6.1+ for End, 6.6+ for End.X).",
                     "# On each router: replace IFACE_<neighbour> with its interface toward that neighbour and",
                     "# NH6_<neighbour> with the neighbour's address on that link."]
        for v in onPath {
            let n = topology.nodes[v]
            let neighbours = topology.links.indices.compactMap { l -> (link: Int, peer: String)? in
                let link = topology.links[l]
                if link.a == v { return (l, name(link.b)) }
                if link.b == v { return (l, name(link.a)) }
                return nil
            }
            lines.append("# router \(n.name)")
            if let sid = topology.nodeSID(ofNode: v) {
                lines.append("ip -6 route add \(sid)/128 encap seg6local action End dev lo")
            }
            for (l, peer) in neighbours {
                if let x = topology.adjacencySID(link: l, from: v) {
                    lines.append("ip -6 route add \(x)/128 encap seg6local action End.X nh6 NH6_\(peer) dev IFACE_\(peer)")
                }
            }
            guard let d = topology.csidDomain(ofNode: v), let end = topology.endCSID(ofNode: v),
                  let endSID = try? d.format.sid(csid: end) else {
                lines.append("# \(n.name) has no C-SIDs (csid: none): lists keep its SIDs whole")
                continue
            }
            let f = d.format
            let flavor = "flavors next-csid lblen \(f.block.length) nflen \(f.csidLength)"
            let length = f.block.length + f.csidLength
            lines.append("ip -6 route add \(endSID)/\(length) encap seg6local action End \(flavor) dev lo")
            for (l, peer) in neighbours {
                if let c = topology.adjacencyCSID(link: l, from: v), let sid = try? f.sid(csid: c) {
                    lines.append("ip -6 route add \(sid)/\(length) encap seg6local action End.X nh6 NH6_\(peer) \(flavor) dev IFACE_\(peer)")
                }
            }
        }
        return lines
    }
}

/// A quoted DOT identifier.
private func dotID(_ s: String) -> String {
    var out = "\""
    for c in s {
        switch c {
        case "\\": out += "\\\\"
        case "\"": out += "\\\""
        case "\n": out += "\\n"
        default: out.append(c)
        }
    }
    return out + "\""
}
