/// A domain's C-SID configuration: the format, and the range of C-SIDs each node allocates for
/// itself (RFC 9800's local ID block, e.g. `0xe000...0xffff` for 16-bit C-SIDs).
///
/// A router's **End C-SID** is its locator's bits after the block (locator `fc00:0:a::/48` in
/// block `fc00::/32`: C-SID `0xa`); it is global, so routers of one block must not share it and
/// it must lie outside the local range. A router's **End.X C-SIDs** come from the local range:
/// every router may use the same values, because a packet reaches an End.X C-SID only right
/// after the router's own End C-SID (the router looks it up itself). Over its i-th link (file
/// order) a router's End.X C-SID is `localRange.lowerBound + i` unless the link gives one.
public struct CSIDDomain: Sendable, Hashable {
    /// Block and C-SID length.
    public var format: CSIDFormat
    /// The C-SIDs a node allocates for itself (End.X); never an End C-SID.
    public var localRange: ClosedRange<UInt64>

    /// A domain of `format` with this local range.
    /// - Parameters:
    ///   - format: block and C-SID length.
    ///   - localRange: the node-local C-SIDs; by default the top eighth of the C-SID values
    ///     (`0xe000...0xffff` for 16 bits).
    /// - Throws: ``CSIDError`` `csidOutOfRange` when the range holds 0 or values wider than a C-SID.
    public init(format: CSIDFormat, localRange: ClosedRange<UInt64>? = nil) throws(CSIDError) {
        let range = localRange ?? CSIDDomain.defaultLocalRange(format)
        guard range.lowerBound >= 1, range.upperBound <= format.maxCSID else {
            throw CSIDError(.csidOutOfRange, "local C-SID range \(CSIDDomain.text(range)) must lie in 0x1...0x\(String(format.maxCSID, radix: 16))")
        }
        self.format = format
        self.localRange = range
    }

    /// The top eighth of the C-SID values: `0xe000...0xffff` for 16 bits.
    public static func defaultLocalRange(_ format: CSIDFormat) -> ClosedRange<UInt64> {
        (format.maxCSID - format.maxCSID / 8)...format.maxCSID
    }

    /// `0xe000-0xffff`.
    public static func text(_ r: ClosedRange<UInt64>) -> String {
        "0x\(String(r.lowerBound, radix: 16))-0x\(String(r.upperBound, radix: 16))"
    }
}

extension Topology {
    /// How a router takes part in C-SID compression.
    public enum NodeCSID: Sendable, Hashable {
        /// The topology's ``Topology/csid`` (none when the topology has none).
        case inherit
        /// Only the kernel's own End (no NEXT-C-SID): the router's SIDs are never put in a
        /// container and a reduced SRH is never aimed at it (the kernel drops reduced SRHs).
        case none
        /// A configuration of its own (another block, length or local range).
        case own(CSIDDomain)
    }

    /// The C-SID configuration of the router at `index`; `nil` for hosts, routers marked
    /// `csid: none` and topologies without C-SIDs.
    public func csidDomain(ofNode index: Int) -> CSIDDomain? {
        let n = nodes[index]
        guard n.kind == .router else { return nil }
        switch n.csid {
        case .inherit: return csid
        case .none: return nil
        case .own(let d): return d
        }
    }

    /// The End C-SID of the router at `index`: its locator's bits after the block; `nil` when it
    /// takes no part in compression or its locator does not give one (a topology with such a router is rejected).
    public func endCSID(ofNode index: Int) -> UInt64? {
        guard let d = csidDomain(ofNode: index), let loc = nodes[index].locator,
              d.format.block.contains(loc.address), loc.length >= d.format.block.length,
              loc.length <= d.format.block.length + d.format.csidLength else { return nil }
        let c = d.format.csid(at: 0, of: loc.address)
        return c == 0 ? nil : c
    }

    /// The End.X C-SID of router `from` over link `link`: the link's explicit one, else the
    /// router's local range start + its ordinal of the link; `nil` without C-SIDs.
    public func adjacencyCSID(link: Int, from: Int) -> UInt64? {
        guard let d = csidDomain(ofNode: from) else { return nil }
        let l = links[link]
        guard from == l.a || from == l.b else { return nil }
        if from == l.a, let c = l.csidFromA { return c }
        if from == l.b, let c = l.csidFromB { return c }
        return d.localRange.lowerBound + UInt64(adjacencyOrdinal(link: link, from: from))
    }

    /// The first problem of the C-SID configuration, if any: a locator outside its block, one
    /// whose bits after the block do not fit a C-SID or give C-SID 0, an End C-SID inside the
    /// local range or shared by two routers of a block, an End.X C-SID outside the router's
    /// local range or used twice by one router, an End.X C-SID on a router without C-SIDs.
    func firstCSIDProblem() -> SIDClash? {
        var endOwner: [String: String] = [:]
        for (i, n) in nodes.enumerated() where n.kind == .router {
            guard let d = csidDomain(ofNode: i), let loc = n.locator else { continue }
            let f = d.format
            guard f.block.contains(loc.address), loc.length >= f.block.length else {
                return SIDClash(node: i, message: "locator \(loc) of '\(n.name)' is not inside the C-SID block \(f.block) (give the router csid: none, or a csid block of its own)")
            }
            guard loc.length <= f.block.length + f.csidLength else {
                return SIDClash(node: i, message: "locator \(loc) of '\(n.name)' has \(loc.length - f.block.length) bits after the /\(f.block.length) block: more than a \(f.csidLength)-bit C-SID holds")
            }
            guard let c = endCSID(ofNode: i) else {
                return SIDClash(node: i, message: "locator \(loc) of '\(n.name)' gives End C-SID 0, which ends a container: no C-SID can be 0")
            }
            if d.localRange.contains(c) {
                return SIDClash(node: i, message: "End C-SID 0x\(String(c, radix: 16)) of '\(n.name)' (from locator \(loc)) is inside the local C-SID range \(CSIDDomain.text(d.localRange)), which routers use for their End.X C-SIDs")
            }
            let key = "\(f.block)/\(f.csidLength)/\(c)"
            if let o = endOwner.updateValue(n.name, forKey: key) {
                return SIDClash(node: i, message: "End C-SID 0x\(String(c, radix: 16)) of '\(n.name)' is already the End C-SID of '\(o)' in block \(f.block)")
            }
        }
        var used: [Int: [UInt64: String]] = [:]
        for (l, link) in links.enumerated() {
            for end in [link.a, link.b] {
                let explicit = end == link.a ? link.csidFromA : link.csidFromB
                let other = nodes[link.otherEnd(from: end)].name
                guard let d = csidDomain(ofNode: end) else {
                    if explicit != nil {
                        return SIDClash(node: end, link: l, message: "'\(nodes[end].name)' has no C-SIDs (csid: none, or no csid configuration), so it cannot own an End.X C-SID toward '\(other)'")
                    }
                    continue
                }
                guard let c = adjacencyCSID(link: l, from: end) else { continue }
                guard d.localRange.contains(c) else {
                    let why = explicit == nil ? "its link number \(adjacencyOrdinal(link: l, from: end)) is beyond" : "it is outside"
                    return SIDClash(node: end, link: l, message: "End.X C-SID 0x\(String(c, radix: 16)) of '\(nodes[end].name)' toward '\(other)': \(why) the local C-SID range \(CSIDDomain.text(d.localRange))")
                }
                if let o = used[end, default: [:]].updateValue(other, forKey: c) {
                    return SIDClash(node: end, link: l, message: "End.X C-SID 0x\(String(c, radix: 16)) of '\(nodes[end].name)' toward '\(other)' is already its End.X C-SID toward '\(o)'")
                }
            }
        }
        return nil
    }

    /// A segment list of this topology (planner SIDs, path order) in compressed form.
    public struct CompressedList: Sendable, Hashable {
        /// The entries in path order; their ``CompressedSegment/sid`` form the segment list.
        public var entries: [CompressedSegment]
        /// Whether the list may travel as a reduced SRH: the first entry is a container, so the
        /// node that finishes it runs NEXT-C-SID (not the kernel's End, which drops reduced
        /// SRHs), and there is more than one entry.
        public var reducible: Bool
        /// The Segment List entries.
        public var segments: [IPv6Address] { entries.map(\.sid) }
    }

    /// Compresses a segment list made of this topology's SIDs (node SIDs, adjacency SIDs, a
    /// final host address): a router with C-SIDs contributes its End C-SID for its node SID, and
    /// its End C-SID followed by its End.X C-SID for an adjacency SID; consecutive C-SIDs of one
    /// format share containers. Routers without C-SIDs (`csid: none`), foreign SIDs and the final
    /// destination stay as they are.
    /// - Parameter segments: segments in path order, the final destination last.
    public func compressed(_ segments: [IPv6Address]) -> CompressedList {
        let table = sidTable()
        var entries: [CompressedSegment] = []
        var open: [UInt64] = []
        var openFormat: CSIDFormat? = nil
        func close() {
            if let f = openFormat, !open.isEmpty, let c = try? f.container(open) { entries.append(.container(c, csids: open)) }
            open = []
            openFormat = nil
        }
        for (i, s) in segments.enumerated() {
            var csids: [UInt64]? = nil
            var format: CSIDFormat? = nil
            if i < segments.count - 1, let owner = table[s], let d = csidDomain(ofNode: owner.node),
               let end = endCSID(ofNode: owner.node) {
                format = d.format
                if let l = owner.link {
                    if let x = adjacencyCSID(link: l, from: owner.node) { csids = [end, x] }
                } else {
                    csids = [end]
                }
            }
            guard let cs = csids, let f = format else {
                close()
                entries.append(.sid(s))
                continue
            }
            if openFormat != f { close() }
            for c in cs {
                if open.count == f.csidsPerContainer { close() }
                openFormat = f
                open.append(c)
            }
        }
        close()
        var reducible = false
        if entries.count > 1, case .container = entries[0] { reducible = true }
        return CompressedList(entries: entries, reducible: reducible)
    }
}

extension Topology {
    /// This topology with C-SID configuration `domain` for every router that has no
    /// configuration of its own (as a top-level `csid:` in the file).
    /// - Parameter domain: the C-SID configuration.
    /// - Throws: ``CSIDError`` `invalidFormat` naming the first router whose locator does not give
    ///   a usable End C-SID in `domain`, or another C-SID problem (End C-SIDs shared, End.X
    ///   C-SIDs outside the local range).
    public func withCSID(_ domain: CSIDDomain) throws(CSIDError) -> Topology {
        var t = self
        t.csid = domain
        if let p = t.firstCSIDProblem() { throw CSIDError(.invalidFormat, p.message) }
        return t
    }

    /// The C-SID configuration `srte … --csid` gives a topology that declares none: RFC 9800's
    /// F3216 (16-bit C-SIDs) in the /32 that holds the first router's locator, with the default
    /// local range. `nil` when the topology has no router with a locator.
    public var defaultCSIDDomain: CSIDDomain? {
        guard let loc = nodes.first(where: { $0.kind == .router && $0.locator != nil })?.locator,
              let f = try? CSIDFormat.f3216(block: IPv6Prefix(address: loc.address.masked(to: 32), length: 32)) else { return nil }
        return try? CSIDDomain(format: f)
    }

    /// This topology with C-SIDs: itself when it declares them, else with ``defaultCSIDDomain``.
    /// - Throws: ``CSIDError`` when the default configuration does not fit its locators.
    public func compressible() throws(CSIDError) -> Topology {
        if hasCSIDs { return self }
        guard let d = defaultCSIDDomain else { throw CSIDError(.invalidFormat, "\(name) has no router with a locator: no C-SIDs to derive") }
        return try withCSID(d)
    }

    /// Whether any router has C-SIDs.
    public var hasCSIDs: Bool { nodes.indices.contains { csidDomain(ofNode: $0) != nil } }
}
