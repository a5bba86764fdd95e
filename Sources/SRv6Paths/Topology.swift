/// A network: routers and hosts joined by undirected links, with the SRv6 SIDs each router owns.
///
/// A topology is usually read from a YAML file (``Topology/init(yaml:file:)``, see
/// `Docs/Planner.md`), but can be built in code:
///
/// ```swift
/// let t = try Topology(name: "line", nodes: [
///     .router("r1", locator: try IPv6Prefix(parsing: "fc00:0:1::/48")),
///     .router("r2", locator: try IPv6Prefix(parsing: "fc00:0:2::/48")),
/// ], links: [Topology.Link(a: 0, b: 1, metric: 10)])
/// t.nodeSID(of: "r1")                   // fc00:0:1::1
/// t.adjacencySID(from: "r1", to: "r2")  // fc00:0:1::e001
/// ```
///
/// SID rules (the testbed installs exactly these):
/// - a router's node SID (End) is its locator address with `::1` (`locator + 1`), unless the
///   node gives `sid:`;
/// - a router's adjacency SID (End.X) over its i-th link (i = 1, 2, … counting the links of the
///   file that have the router as an endpoint, in file order) is `locator + 0xe000 + i`
///   (so `fc00:0:1::e001`, `fc00:0:1::e002`, …), unless the link gives `sids: {router: SID}`.
/// - hosts own no SIDs; their `address` is the final destination of a segment list.
public struct Topology: Sendable {
    /// Whether a node forwards (router) or only sends and receives (host).
    public enum NodeKind: String, Sendable, Hashable, CaseIterable {
        case router, host
    }

    /// A router or a host.
    public struct Node: Sendable, Hashable {
        /// Unique name, e.g. `r1`.
        public var name: String
        /// Router (forwards traffic, owns SIDs) or host (never transit).
        public var kind: NodeKind
        /// The router's SRv6 locator (routers only).
        public var locator: IPv6Prefix?
        /// The host's address (hosts only).
        public var address: IPv6Address?
        /// Maximum SID depth this node can push as an ingress, if limited.
        public var msd: Int?
        /// An explicit node SID (End) overriding `locator + 1`.
        public var sid: IPv6Address?
        /// Whether and how the router takes part in C-SID compression (RFC 9800 NEXT-C-SID):
        /// the topology's ``Topology/csid`` by default.
        public var csid: NodeCSID

        /// Creates a node; prefer ``router(_:locator:msd:sid:)`` and ``host(_:address:msd:)``.
        public init(name: String, kind: NodeKind, locator: IPv6Prefix? = nil, address: IPv6Address? = nil,
                    msd: Int? = nil, sid: IPv6Address? = nil, csid: NodeCSID = .inherit) {
            self.name = name
            self.kind = kind
            self.locator = locator
            self.address = address
            self.msd = msd
            self.sid = sid
            self.csid = csid
        }

        /// A router with a locator.
        public static func router(_ name: String, locator: IPv6Prefix, msd: Int? = nil, sid: IPv6Address? = nil) -> Node {
            Node(name: name, kind: .router, locator: locator, msd: msd, sid: sid)
        }

        /// A host with an address.
        public static func host(_ name: String, address: IPv6Address, msd: Int? = nil) -> Node {
            Node(name: name, kind: .host, address: address, msd: msd)
        }
    }

    /// An undirected link between two nodes (indices into ``Topology/nodes``).
    public struct Link: Sendable, Hashable {
        /// First endpoint (index into `nodes`).
        public var a: Int
        /// Second endpoint (index into `nodes`).
        public var b: Int
        /// IGP metric, ≥ 1, used in both directions.
        public var metric: Int
        /// Traffic-engineering metric, ≥ 1 (defaults to `metric`).
        public var teMetric: Int
        /// One-way delay in microseconds, ≥ 1.
        public var delay: Int
        /// Bandwidth in bit/s, if given.
        public var bandwidth: Int?
        /// IPv6 MTU of both ends in bytes (``Topology/mtuRange``), if given; emulated links
        /// default to ``Topology/defaultMTU``.
        public var mtu: Int?
        /// ``mtu``, else ``Topology/defaultMTU``.
        public var effectiveMTU: Int { mtu ?? Topology.defaultMTU }
        /// Shared risk link groups this link belongs to.
        public var srlgs: [String]
        /// Explicit End.X SID of `a` toward `b` (else derived).
        public var sidFromA: IPv6Address?
        /// Explicit End.X SID of `b` toward `a` (else derived).
        public var sidFromB: IPv6Address?
        /// Explicit End.X C-SID of `a` toward `b`, from `a`'s local range (else derived).
        public var csidFromA: UInt64?
        /// Explicit End.X C-SID of `b` toward `a`, from `b`'s local range (else derived).
        public var csidFromB: UInt64?

        /// Creates a link. `teMetric` defaults to `metric`, `delay` to 1 ms.
        public init(a: Int, b: Int, metric: Int = 10, teMetric: Int? = nil, delay: Int = 1000, bandwidth: Int? = nil,
                    mtu: Int? = nil, srlgs: [String] = [], sidFromA: IPv6Address? = nil, sidFromB: IPv6Address? = nil,
                    csidFromA: UInt64? = nil, csidFromB: UInt64? = nil) {
            self.csidFromA = csidFromA
            self.csidFromB = csidFromB
            self.a = a
            self.b = b
            self.metric = metric
            self.teMetric = teMetric ?? metric
            self.delay = delay
            self.bandwidth = bandwidth
            self.mtu = mtu
            self.srlgs = srlgs
            self.sidFromA = sidFromA
            self.sidFromB = sidFromB
        }

        /// The endpoint that is not `node` (`a` if `node` is neither).
        public func otherEnd(from node: Int) -> Int { node == a ? b : a }
    }

    /// The function value added to a locator for End.X SIDs: `0xe000 + ordinal`.
    public static let adjacencyFunctionBase: UInt64 = 0xe000
    /// The largest adjacency ordinal a router may have (its number of links).
    public static let maxAdjacencies = 0x1fff
    /// The longest locator that leaves room for node and adjacency functions.
    public static let maxLocatorLength = 112
    /// The largest IGP or TE metric (the IS-IS wide-metric maximum, 2^24 − 1).
    public static let maxMetric = 16_777_215
    /// The MTU of a link that gives none: Ethernet's 1500 bytes.
    public static let defaultMTU = 1500
    /// Link MTUs a topology may ask for: IPv6's minimum (1280) to the largest a veth takes.
    public static let mtuRange = 1280...65535
    /// The largest link delay in microseconds (about 16.8 s).
    public static let maxDelay = 16_777_215
    /// The most nodes a topology may have (the planner's node-split graph numbers 2n nodes in 24 bits).
    public static let maxNodes = 1 << 23

    /// The topology's name.
    public var name: String
    /// All nodes; links refer to them by index.
    public private(set) var nodes: [Node]
    /// All links, in file order.
    public private(set) var links: [Link]
    /// Default maximum SID depth (`defaults.msd`), if any.
    public var defaultMSD: Int?
    /// The domain's C-SID configuration (RFC 9800 NEXT-C-SID), if it compresses SIDs; routers
    /// may differ (``Node/csid``).
    public internal(set) var csid: CSIDDomain?
    private var indexByName: [String: Int]
    /// `ordinals[2*l]` is link l's ordinal at its `a` end, `ordinals[2*l+1]` at its `b` end (1-based).
    private var ordinals: [Int32]

    /// Builds and checks a topology.
    ///
    /// - Parameters:
    ///   - name: The topology's name.
    ///   - nodes: Routers (with locators) and hosts (with addresses); names unique.
    ///   - links: Links between distinct nodes, metrics ≥ 1.
    ///   - defaultMSD: The default maximum SID depth.
    ///   - csid: The domain's C-SID configuration, if SIDs are compressed (RFC 9800 NEXT-C-SID).
    /// - Throws: ``TopologyError`` (without a file position) naming the first problem.
    /// - Complexity: O(n + m) expected.
    public init(name: String, nodes: [Node], links: [Link], defaultMSD: Int? = nil, csid: CSIDDomain? = nil) throws(TopologyError) {
        try self.init(name: name, nodes: nodes, links: links, defaultMSD: defaultMSD, csid: csid, checkSIDs: true)
    }

    init(name: String, nodes: [Node], links: [Link], defaultMSD: Int?, csid: CSIDDomain? = nil, checkSIDs: Bool) throws(TopologyError) {
        self.name = name
        self.nodes = nodes
        self.links = links
        self.defaultMSD = defaultMSD
        self.csid = csid
        self.indexByName = [:]
        if nodes.count > Topology.maxNodes { throw TopologyError("too many nodes: \(nodes.count) (at most \(Topology.maxNodes))") }
        self.indexByName.reserveCapacity(nodes.count)
        for (i, n) in nodes.enumerated() {
            if indexByName.updateValue(i, forKey: n.name) != nil {
                throw TopologyError("duplicate node '\(n.name)'")
            }
            switch n.kind {
            case .router:
                guard let loc = n.locator else { throw TopologyError("router '\(n.name)' has no locator") }
                if loc.length > Topology.maxLocatorLength {
                    throw TopologyError("locator \(loc) of '\(n.name)' is longer than /\(Topology.maxLocatorLength)")
                }
            case .host:
                if n.address == nil { throw TopologyError("host '\(n.name)' has no address") }
            }
        }
        var degree = [Int32](repeating: 0, count: nodes.count)
        var totalWeight = 0
        ordinals = [Int32](repeating: 0, count: 2 * links.count)
        for (l, link) in links.enumerated() {
            guard nodes.indices.contains(link.a), nodes.indices.contains(link.b) else {
                throw TopologyError("link \(l + 1) refers to a node index outside the topology")
            }
            if link.a == link.b { throw TopologyError("link \(l + 1) is a self-loop on '\(nodes[link.a].name)'") }
            if link.metric < 1 || link.teMetric < 1 || link.metric > Topology.maxMetric || link.teMetric > Topology.maxMetric {
                throw TopologyError("link \(l + 1): metrics must be in 1...\(Topology.maxMetric)")
            }
            if let m = link.mtu, !Topology.mtuRange.contains(m) {
                throw TopologyError("link \(l + 1): mtu must be in \(Topology.mtuRange.lowerBound)...\(Topology.mtuRange.upperBound) bytes, got \(m)")
            }
            if link.delay < 1 || link.delay > Topology.maxDelay {
                throw TopologyError("link \(l + 1): delay must be in 1...\(Topology.maxDelay) us")
            }
            totalWeight += max(link.metric, link.teMetric, link.delay)
            degree[link.a] += 1
            degree[link.b] += 1
            ordinals[2 * l] = degree[link.a]
            ordinals[2 * l + 1] = degree[link.b]
        }
        // Path searches pack distances into 40 bits; potentials can double them.
        if totalWeight >= 1 << 38 {
            throw TopologyError("the link metrics and delays add up to more than 2^38; use smaller metrics")
        }
        for (i, d) in degree.enumerated() where nodes[i].kind == .router && Int(d) > Topology.maxAdjacencies {
            throw TopologyError("router '\(nodes[i].name)' has \(d) links; at most \(Topology.maxAdjacencies) get End.X SIDs")
        }
        if checkSIDs, let clash = firstSIDClash() ?? firstCSIDProblem() { throw TopologyError(clash.message) }
    }

    /// The index of the node called `name`, if any.
    public func index(of name: String) -> Int? { indexByName[name] }

    /// The node called `name`, if any.
    public subscript(name: String) -> Node? { indexByName[name].map { nodes[$0] } }

    /// The node SID (End) of a router: its explicit `sid`, else its locator address + 1.
    ///
    /// ```swift
    /// topology.nodeSID(of: "r1")   // fc00:0:1::1 for locator fc00:0:1::/48
    /// ```
    /// - Returns: `nil` for hosts and unknown names.
    public func nodeSID(of name: String) -> IPv6Address? {
        index(of: name).flatMap { nodeSID(ofNode: $0) }
    }

    /// The node SID (End) of the node at `index`, `nil` for hosts.
    public func nodeSID(ofNode index: Int) -> IPv6Address? {
        let n = nodes[index]
        guard n.kind == .router, let loc = n.locator else { return nil }
        return n.sid ?? loc.address.adding(1)
    }

    /// The address that ends a segment list toward a node: the node SID of a router, the
    /// address of a host.
    public func destinationAddress(ofNode index: Int) -> IPv6Address {
        nodes[index].kind == .host ? nodes[index].address! : nodeSID(ofNode: index)!
    }

    /// The adjacency SID (End.X) of router `from` toward neighbour `to`.
    ///
    /// With parallel links, the SID of the first link (file order) is returned; use
    /// ``adjacencySID(link:from:)`` for a particular one.
    ///
    /// ```swift
    /// topology.adjacencySID(from: "r1", to: "a")   // fc00:0:1::e002 if r1-a is r1's 2nd link
    /// ```
    /// - Returns: `nil` if `from` is not a router or the two are not adjacent.
    public func adjacencySID(from: String, to: String) -> IPv6Address? {
        guard let f = index(of: from), let t = index(of: to) else { return nil }
        for (l, link) in links.enumerated() where (link.a == f && link.b == t) || (link.a == t && link.b == f) {
            return adjacencySID(link: l, from: f)
        }
        return nil
    }

    /// The adjacency SID (End.X) of node `from` over link `link`: the explicit one if the file
    /// gives it, else `locator + 0xe000 + ordinal` where `ordinal` numbers `from`'s links from 1
    /// in file order.
    /// - Returns: `nil` if `from` is a host or not an endpoint of the link.
    public func adjacencySID(link: Int, from: Int) -> IPv6Address? {
        let l = links[link]
        guard nodes[from].kind == .router, let loc = nodes[from].locator, from == l.a || from == l.b else { return nil }
        if from == l.a, let s = l.sidFromA { return s }
        if from == l.b, let s = l.sidFromB { return s }
        let ord = ordinals[2 * link + (from == l.a ? 0 : 1)]
        return loc.address.adding(Topology.adjacencyFunctionBase + UInt64(ord))
    }

    /// The 1-based ordinal of `link` among the links of its endpoint `from` (file order).
    public func adjacencyOrdinal(link: Int, from: Int) -> Int {
        Int(ordinals[2 * link + (from == links[link].a ? 0 : 1)])
    }

    /// A SID or address used twice, as found by ``firstSIDClash()``.
    struct SIDClash {
        /// Node index of the second user, and the link index if it is an adjacency SID.
        var node: Int
        var link: Int?
        var message: String
    }

    /// The first SID, host address or locator used by two owners, if any.
    func firstSIDClash() -> SIDClash? {
        var owner: [IPv6Address: String] = [:]
        owner.reserveCapacity(nodes.count + 2 * links.count)
        var locOwner: [IPv6Prefix: String] = [:]
        for (i, n) in nodes.enumerated() {
            if let loc = n.locator, n.kind == .router {
                if let o = locOwner.updateValue(n.name, forKey: loc) {
                    return SIDClash(node: i, message: "locator \(loc) of '\(n.name)' is already the locator of '\(o)'")
                }
            }
            let a = destinationAddress(ofNode: i)
            let what = n.kind == .host ? "address" : "node SID"
            if let o = owner.updateValue("\(what) of '\(n.name)'", forKey: a) {
                return SIDClash(node: i, message: "\(what) \(a) of '\(n.name)' is already the \(o)")
            }
        }
        for (l, link) in links.enumerated() {
            for end in [link.a, link.b] {
                guard let s = adjacencySID(link: l, from: end) else { continue }
                let me = "adjacency SID of '\(nodes[end].name)' toward '\(nodes[link.otherEnd(from: end)].name)'"
                if let o = owner.updateValue(me, forKey: s) {
                    return SIDClash(node: end, link: l, message: "\(me), \(s), is already the \(o)")
                }
            }
        }
        return nil
    }

    /// What a SID of this topology is: the owner and, for End.X, the neighbour and link.
    public struct SIDOwner: Sendable, Hashable {
        /// The node that owns the SID (for a host address, the host).
        public var node: Int
        /// For an adjacency SID: the link it forces.
        public var link: Int?
    }

    /// Looks up the owner of every SID and host address. O(n + m).
    public func sidTable() -> [IPv6Address: SIDOwner] {
        var t: [IPv6Address: SIDOwner] = [:]
        for i in nodes.indices { t[destinationAddress(ofNode: i)] = SIDOwner(node: i) }
        for (l, link) in links.enumerated() {
            for end in [link.a, link.b] {
                if let s = adjacencySID(link: l, from: end) { t[s] = SIDOwner(node: end, link: l) }
            }
        }
        return t
    }
}

/// A problem with a topology, with the file position it was found at when known.
///
/// `description` is `file:line:column: message` (or just the message without a position), the
/// form compilers use so editors can jump to it.
public struct TopologyError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The file name given to the parser (or `<input>`).
    public var file: String
    /// 1-based line, 0 when unknown.
    public var line: Int
    /// 1-based column, 0 when unknown.
    public var column: Int
    /// What is wrong and what was expected.
    public var message: String

    /// Creates an error at a position.
    public init(file: String = "", line: Int = 0, column: Int = 0, _ message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String {
        if line > 0 { return "\(file.isEmpty ? "<input>" : file):\(line):\(column): \(message)" }
        return file.isEmpty ? message : "\(file): \(message)"
    }
}

extension Topology {
    /// The topology with `bitsPerSecond` on every link that has no bandwidth of its own (for
    /// emulating imported maps, which rarely carry capacities).
    public func fillingBandwidth(_ bitsPerSecond: Int) -> Topology {
        var t = self
        for i in t.links.indices where t.links[i].bandwidth == nil { t.links[i].bandwidth = bitsPerSecond }
        return t
    }

    /// The topology with every link's MTU set to `bytes` (e.g. jumbo frames for a whole lab).
    /// - Throws: ``TopologyError`` when `bytes` is outside ``mtuRange``.
    public func settingMTU(_ bytes: Int) throws(TopologyError) -> Topology {
        guard Topology.mtuRange.contains(bytes) else {
            throw TopologyError("mtu must be in \(Topology.mtuRange.lowerBound)...\(Topology.mtuRange.upperBound) bytes, got \(bytes)")
        }
        var t = self
        for i in t.links.indices { t.links[i].mtu = bytes }
        return t
    }
}
