import SRv6Paths
import LinuxSystem
import SubflowSteering

/// Everything a testbed lab will create, computed from a topology without touching the kernel:
/// namespace and interface names, link addresses, the SIDs each router installs and every
/// node's routing table (IGP shortest paths with ECMP next hops).
///
/// The plan is a pure value: ``Testbed`` turns it into namespaces, veth pairs, addresses, qdiscs,
/// `seg6local` routes and multipath routes, and records it in the lab's state file.
///
/// ```swift
/// let plan = try TestbedPlan(topology: diamond)          // lab "diamond"
/// plan.node("r1")!.namespace                             // "diamond-r1"
/// plan.node("r1")!.interfaces.map(\.name)                // ["h1", "a", "b", "c"]
/// plan.node("r1")!.route(to: "fc00:2::2/128")!.nexthops.map(\.node)   // ["a", "b", "c"]
/// ```
///
/// Addressing: link `i` (0-based, file order) gets the /64 `<link prefix>:<i+1>::/64`, its first
/// endpoint `::1` and its second `::2`. The link prefix (default ``defaultLinkPrefix``, a ULA
/// /48) must not overlap any locator, host address or SID of the topology.
public struct TestbedPlan: Codable, Sendable, Hashable {
    /// The /48 link addresses come from unless told otherwise: `fd5e:7b00:5e76::/48` (ULA).
    public static let defaultLinkPrefix = "fd5e:7b00:5e76::/48"
    /// The longest interface name Linux accepts (`IFNAMSIZ - 1`).
    public static let maxInterfaceNameLength = 15
    /// The largest number of links one plan can address (16 bits of link index).
    public static let maxLinks = 0xffff
    /// The device a router's End route sits on: one end of a veth pair kept inside the router
    /// (`sid0` ↔ `sid0p`). Not `lo`: the kernel turns routes via loopback into reject routes,
    /// so an End route on `lo` drops every packet (seen as Ip6InNoRoutes). Not a link: taking
    /// that link down would delete the node SID. Not a `dummy` device: kernels may lack the driver.
    public static let sidDevice = "sid0"
    /// The peer of ``sidDevice``.
    public static let sidDevicePeer = "sid0p"
    /// Interface names links never get.
    static let reservedInterfaceNames: Set<String> = ["lo", "all", "default", sidDevice, sidDevicePeer]

    /// The lab name; every namespace is `<lab>-<node>`.
    public var lab: String
    /// The topology's own name.
    public var topologyName: String
    /// The /48 (or shorter) prefix link addresses are taken from, as text.
    public var linkPrefix: String
    /// One entry per topology node, in topology order.
    public var nodes: [Node]
    /// One entry per topology link, in file order.
    public var links: [Link]

    /// A node of the lab: its namespace, interfaces, SIDs and routes.
    public struct Node: Codable, Sendable, Hashable {
        /// The topology node name.
        public var name: String
        /// `router` or `host`.
        public var kind: String
        /// The network namespace, `<lab>-<name>`.
        public var namespace: String
        /// The host's address (on `lo`, /128, and the `src` of its routes); `nil` for routers.
        public var address: IPv6Address?
        /// The router's locator, e.g. `fc00:0:1::/48`; `nil` for hosts.
        public var locator: String?
        /// The router's node SID (End); `nil` for hosts.
        public var nodeSID: IPv6Address?
        /// The node's veth ends, in the order of its links in the file.
        public var interfaces: [Interface]
        /// The SIDs a router installs as `seg6local` routes (empty for hosts).
        public var sids: [SID]
        /// The routes installed, one per destination (hosts also get `default`).
        public var routes: [Route]
        /// The router's C-SID format (RFC 9800 NEXT-C-SID) as `block/csid` lengths in bits, e.g.
        /// `32/16`; `nil` for hosts, routers marked `csid: none` and topologies without C-SIDs.
        public var csid: CSIDLengths? = nil

        /// Whether this node is a router.
        public var isRouter: Bool { kind == "router" }

        /// The route whose destination is exactly `prefix` (as printed, e.g. `fc00:0:a::/48`).
        public func route(to prefix: String) -> Route? { routes.first { $0.destination == prefix } }
    }

    /// One end of a link inside a node.
    public struct Interface: Codable, Sendable, Hashable {
        /// The interface name (≤ 15 characters, unique in the namespace); its alias is the peer's name.
        public var name: String
        /// The link index (topology file order).
        public var link: Int
        /// The node at the other end.
        public var peer: String
        /// The peer's interface name.
        public var peerInterface: String
        /// This end's address (/64).
        public var address: IPv6Address
        /// The other end's address.
        public var peerAddress: IPv6Address
    }

    /// A link: a veth pair between two namespaces.
    public struct Link: Codable, Sendable, Hashable {
        /// Index in the topology's links (file order).
        public var index: Int
        /// First endpoint (node name).
        public var a: String
        /// Second endpoint (node name).
        public var b: String
        /// Interface name in `a`'s namespace.
        public var interfaceA: String
        /// Interface name in `b`'s namespace.
        public var interfaceB: String
        /// `a`'s address.
        public var addressA: IPv6Address
        /// `b`'s address.
        public var addressB: IPv6Address
        /// The link's /64, as text.
        public var prefix: String
        /// IGP metric.
        public var metric: Int
        /// Rate in bit/s (a tbf qdisc on both ends), or `nil` for an unlimited veth.
        public var bandwidth: Int?
        /// Requested one-way delay in microseconds (emulated by netem or a delay bridge, as the
        /// lab's ``DelayMode`` says, or not at all).
        public var delay: Int
        /// MTU of both ends (and of the delay bridge's ports), or `nil` for the veth default,
        /// `Topology.defaultMTU`.
        public var mtu: Int? = nil

        /// The MTU the link's interfaces have.
        public var effectiveMTU: Int { mtu ?? Topology.defaultMTU }
    }

    /// Locator-Block and C-SID lengths of a router's NEXT-C-SID SIDs, in bits.
    public struct CSIDLengths: Codable, Sendable, Hashable {
        /// Locator-Block length.
        public var block: Int
        /// C-SID length.
        public var csid: Int
    }

    /// A SID a router installs.
    public struct SID: Codable, Sendable, Hashable {
        /// The SID address (a /128 `seg6local` route).
        public var address: IPv6Address
        /// `End` (node SID) or `End.X` (adjacency SID).
        public var behavior: String
        /// For End.X: the link it forces.
        public var link: Int?
        /// For End.X: the neighbour's address on that link (`nh6`).
        public var nexthop: IPv6Address?
        /// For End.X: the interface toward the neighbour; for End: ``TestbedPlan/sidDevice``.
        public var interface: String
        /// For End.X: the neighbour's name.
        public var neighbour: String?
        /// `next-csid` for a C-SID of RFC 9800's NEXT-C-SID flavor: ``address`` is block, C-SID,
        /// zeros and stands for every Destination Address that starts with them; `nil` for a
        /// whole SID.
        public var flavor: String? = nil
        /// For an End.X C-SID: the C-SID (from the router's local range) is only taken right
        /// after the router's own End C-SID.
        public var local: Bool? = nil

        /// Whether this is a NEXT-C-SID C-SID.
        public var isNextCSID: Bool { flavor == "next-csid" }
        /// ``behavior``, with `+NEXT-C-SID` for a C-SID.
        public var label: String { isNextCSID ? "\(behavior)+NEXT-C-SID" : behavior }
    }

    /// A route: a destination prefix and its equal-cost next hops.
    public struct Route: Codable, Sendable, Hashable {
        /// The destination, e.g. `fc00:0:a::/48`, `fc00:2::2/128` or `default`.
        public var destination: String
        /// The equal-cost next hops (more than one: a multipath route).
        public var nexthops: [NextHop]
        /// The preferred source address (hosts: their own address).
        public var source: IPv6Address?
        /// The IGP distance to the destination (0 for `default`).
        public var distance: Int
    }

    /// One next hop of a route.
    public struct NextHop: Codable, Sendable, Hashable {
        /// The neighbour's link address.
        public var via: IPv6Address
        /// The outgoing interface.
        public var interface: String
        /// The link used.
        public var link: Int
        /// The neighbour's name.
        public var node: String
    }

    /// The node called `name`, if any.
    public func node(_ name: String) -> Node? { nodes.first { $0.name == name } }

    /// The namespaces of the lab, in node order.
    public var namespaces: [String] { nodes.map(\.namespace) }

    /// The links between `a` and `b` (either orientation).
    public func links(between a: String, and b: String) -> [Link] {
        links.filter { ($0.a == a && $0.b == b) || ($0.a == b && $0.b == a) }
    }

    /// The lab name a topology gets by default: its name, if that is a valid lab name.
    public static func defaultLabName(for topology: Topology) -> String { topology.name }

    /// Whether `name` can name a lab: 1–32 characters from `A-Z a-z 0-9 _ . -`, starting with a
    /// letter or digit (it becomes part of namespace and file names).
    public static func isValidLabName(_ name: String) -> Bool {
        guard (1...32).contains(name.utf8.count), let f = name.utf8.first, isAlnum(f) else { return false }
        return name.utf8.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    static func isAlnum(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)
    }

    /// Computes the plan of a topology.
    ///
    /// - Parameters:
    ///   - topology: The network to emulate.
    ///   - lab: The lab name (default: the topology's name); see ``isValidLabName(_:)``.
    ///   - linkPrefix: Where link addresses come from (length ≤ 48).
    /// - Throws: ``TestbedError`` when a name cannot be used, the link prefix overlaps the
    ///   topology's addresses, or there are too many links.
    /// - Complexity: O(n · (n + m) log n): one shortest-path run per destination.
    public init(topology: Topology, lab: String? = nil, linkPrefix: String = TestbedPlan.defaultLinkPrefix) throws(TestbedError) {
        let lab = lab ?? TestbedPlan.defaultLabName(for: topology)
        guard TestbedPlan.isValidLabName(lab) else {
            throw TestbedError(.invalidInput, "'\(lab)' cannot name a lab: use 1–32 characters from A-Z a-z 0-9 _ . - starting with a letter or digit (--name)")
        }
        let prefix: IPv6Prefix
        do { prefix = try IPv6Prefix(parsing: linkPrefix) } catch {
            throw TestbedError(.invalidInput, "link prefix '\(linkPrefix)': \(error)")
        }
        guard prefix.length <= 48 else {
            throw TestbedError(.invalidInput, "link prefix \(prefix) is longer than /48: link addresses need 16 bits of link number")
        }
        if let clash = TestbedPlan.linkPrefixClash(prefix, topology) {
            throw TestbedError(.invalidInput, "link prefix \(prefix) overlaps \(clash); choose another link prefix")
        }
        guard topology.links.count <= TestbedPlan.maxLinks else {
            throw TestbedError(.invalidInput, "\(topology.links.count) links: a lab addresses at most \(TestbedPlan.maxLinks)")
        }
        for n in topology.nodes where !TestbedPlan.isValidNodeName(n.name) {
            throw TestbedError(.invalidInput, "node '\(n.name)' cannot name a network namespace (use A-Z a-z 0-9 _ . -)")
        }
        self.lab = lab
        self.topologyName = topology.name
        self.linkPrefix = "\(prefix.address.masked(to: prefix.length))/\(prefix.length)"

        let names = TestbedPlan.interfaceNames(topology)
        let base = prefix.address.masked(to: prefix.length)
        var links: [Link] = []
        links.reserveCapacity(topology.links.count)
        for (i, l) in topology.links.enumerated() {
            let net = IPv6Address(high: base.high | UInt64(i + 1), low: 0)
            links.append(Link(index: i, a: topology.nodes[l.a].name, b: topology.nodes[l.b].name,
                              interfaceA: names[2 * i], interfaceB: names[2 * i + 1],
                              addressA: net.adding(1), addressB: net.adding(2), prefix: "\(net)/64",
                              metric: l.metric, bandwidth: l.bandwidth, delay: l.delay, mtu: l.mtu))
        }
        self.links = links

        // Interfaces of each node, in the order of its links in the file.
        var interfaces = [[Interface]](repeating: [], count: topology.nodes.count)
        for (i, l) in topology.links.enumerated() {
            let p = links[i]
            interfaces[l.a].append(Interface(name: p.interfaceA, link: i, peer: p.b, peerInterface: p.interfaceB,
                                             address: p.addressA, peerAddress: p.addressB))
            interfaces[l.b].append(Interface(name: p.interfaceB, link: i, peer: p.a, peerInterface: p.interfaceA,
                                             address: p.addressB, peerAddress: p.addressA))
        }

        let routes = TestbedPlan.routeTables(topology, links: links)
        var nodes: [Node] = []
        nodes.reserveCapacity(topology.nodes.count)
        for (v, n) in topology.nodes.enumerated() {
            var sids: [SID] = []
            if n.kind == .router {
                sids.append(SID(address: topology.nodeSID(ofNode: v)!, behavior: "End", link: nil, nexthop: nil,
                                interface: TestbedPlan.sidDevice, neighbour: nil))
                for ifc in interfaces[v] {
                    if let s = topology.adjacencySID(link: ifc.link, from: v) {
                        sids.append(SID(address: s, behavior: "End.X", link: ifc.link, nexthop: ifc.peerAddress,
                                        interface: ifc.name, neighbour: ifc.peer))
                    }
                }
                sids += TestbedPlan.csidSIDs(topology, node: v, interfaces: interfaces[v])
            }
            var table = routes[v]
            if n.kind == .host {
                for r in table.indices { table[r].source = n.address }
                let hops = interfaces[v].filter { topology[$0.peer]?.kind == .router }.map {
                    NextHop(via: $0.peerAddress, interface: $0.name, link: $0.link, node: $0.peer)
                }
                if !hops.isEmpty { table.append(Route(destination: "default", nexthops: hops, source: n.address, distance: 0)) }
            }
            nodes.append(Node(name: n.name, kind: n.kind.rawValue, namespace: "\(lab)-\(n.name)",
                              address: n.kind == .host ? n.address : nil,
                              locator: n.locator.map { "\($0)" }, nodeSID: topology.nodeSID(ofNode: v),
                              interfaces: interfaces[v], sids: sids, routes: table,
                              csid: topology.endCSID(ofNode: v) == nil ? nil : topology.csidDomain(ofNode: v).map {
                                  CSIDLengths(block: $0.format.block.length, csid: $0.format.csidLength) }))
        }
        self.nodes = nodes
    }

    /// The NEXT-C-SID SIDs of router `v` (RFC 9800): its End C-SID (block, C-SID, zeros) and
    /// one End.X C-SID per link, from its local range; none without C-SIDs.
    static func csidSIDs(_ topology: Topology, node v: Int, interfaces: [Interface]) -> [SID] {
        guard let d = topology.csidDomain(ofNode: v), let end = topology.endCSID(ofNode: v),
              let endSID = try? d.format.sid(csid: end) else { return [] }
        var out = [SID(address: endSID, behavior: "End", link: nil, nexthop: nil, interface: sidDevice, neighbour: nil,
                       flavor: "next-csid")]
        for ifc in interfaces {
            if let x = topology.adjacencyCSID(link: ifc.link, from: v), let sid = try? d.format.sid(csid: x) {
                out.append(SID(address: sid, behavior: "End.X", link: ifc.link, nexthop: ifc.peerAddress, interface: ifc.name,
                               neighbour: ifc.peer, flavor: "next-csid", local: true))
            }
        }
        return out
    }

    /// Whether a node name can be part of a namespace name (`A-Z a-z 0-9 _ . -`, ≤ 200 bytes, not `.`/`..`).
    static func isValidNodeName(_ name: String) -> Bool {
        guard (1...200).contains(name.utf8.count), name != ".", name != ".." else { return false }
        return name.utf8.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    /// What the link prefix overlaps in the topology (a locator, host address or SID), if anything.
    public static func linkPrefixClash(_ prefix: IPv6Prefix, _ topology: Topology) -> String? {
        for n in topology.nodes {
            if let loc = n.locator, n.kind == .router {
                let shorter = min(loc.length, prefix.length)
                if loc.address.masked(to: shorter) == prefix.address.masked(to: shorter) {
                    return "the locator \(loc) of '\(n.name)'"
                }
            }
            if let a = n.address, n.kind == .host, prefix.contains(a) { return "the address \(a) of host '\(n.name)'" }
        }
        for (sid, owner) in topology.sidTable() where prefix.contains(sid) {
            return "the SID \(sid) of '\(topology.nodes[owner.node].name)'"
        }
        return nil
    }

    /// Interface names for every link end: `names[2i]` in link i's `a`, `names[2i+1]` in its `b`.
    ///
    /// A name is the peer's node name when that is a usable interface name (≤ 15 characters from
    /// `A-Z a-z 0-9 _ -`, not `lo`, `all`, `default`, `sid0` or `sid0p`), with `-2`, `-3`, … for parallel links;
    /// otherwise `l<ordinal>` (the link's ordinal among the node's links). Names are unique per node.
    public static func interfaceNames(_ topology: Topology) -> [String] {
        var names = [String](repeating: "", count: 2 * topology.links.count)
        var used = [Set<String>](repeating: reservedInterfaceNames, count: topology.nodes.count)
        var parallel: [[Int]: Int] = [:]   // [node, peer] → links seen so far
        for (i, l) in topology.links.enumerated() {
            for (slot, me, peer) in [(2 * i, l.a, l.b), (2 * i + 1, l.b, l.a)] {
                let k = (parallel[[me, peer]] ?? 0) + 1
                parallel[[me, peer]] = k
                var candidate = topology.nodes[peer].name
                if k > 1 { candidate += "-\(k)" }
                if !isUsableInterfaceName(candidate) || used[me].contains(candidate) {
                    candidate = "l\(topology.adjacencyOrdinal(link: i, from: me))"
                    while used[me].contains(candidate) { candidate += "x" }
                }
                used[me].insert(candidate)
                names[slot] = candidate
            }
        }
        return names
    }

    /// Whether `name` is safe as an interface name everywhere the testbed uses it (including
    /// sysctl paths, where `.` and `/` are separators and `all`/`default` are reserved).
    public static func isUsableInterfaceName(_ name: String) -> Bool {
        guard (1...maxInterfaceNameLength).contains(name.utf8.count), !reservedInterfaceNames.contains(name) else { return false }
        return name.utf8.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    /// Every node's routes: to each other router's locator (and its SIDs outside the locator)
    /// and to each host address, over all IGP shortest paths (ECMP next hops).
    static func routeTables(_ topology: Topology, links: [Link]) -> [[Route]] {
        let g = Graph(topology: topology, metric: .igp)
        let spf = ShortestPaths(graph: g)
        var tables = [[Route]](repeating: [], count: topology.nodes.count)
        for d in topology.nodes.indices {
            let node = topology.nodes[d]
            var destinations: [String] = []
            if node.kind == .router, let loc = node.locator {
                destinations.append("\(loc.address.masked(to: loc.length))/\(loc.length)")
                var outside: [IPv6Address] = []
                if let s = topology.nodeSID(ofNode: d), !loc.contains(s) { outside.append(s) }
                for (l, link) in topology.links.enumerated() where link.a == d || link.b == d {
                    if let s = topology.adjacencySID(link: l, from: d), !loc.contains(s) { outside.append(s) }
                }
                destinations += outside.map { "\($0)/128" }
            } else if let a = node.address {
                destinations.append("\(a)/128")
            }
            // Distances to d: the graph is undirected, so one run from d serves every source.
            spf.run(from: d)
            for u in topology.nodes.indices where u != d {
                guard let dist = spf.distance(to: u) else { continue }
                // Arcs x → u on a shortest path from d: x is a next hop of u toward d (x is d or a router).
                var hops: [NextHop] = []
                for arc in spf.predecessorArcs(of: u) {
                    let x = spf.tailOf(arc: arc)
                    let link = Int(g.arcLink[arc])
                    let p = links[link]
                    let (via, dev) = p.a == topology.nodes[x].name && (p.b == topology.nodes[u].name)
                        ? (p.addressA, p.interfaceB) : (p.addressB, p.interfaceA)
                    hops.append(NextHop(via: via, interface: dev, link: link, node: topology.nodes[x].name))
                }
                hops.sort { $0.link < $1.link }
                guard !hops.isEmpty else { continue }
                for dst in destinations {
                    tables[u].append(Route(destination: dst, nexthops: hops, source: nil, distance: Int(dist)))
                }
            }
        }
        return tables
    }
}

/// Why a testbed operation failed; `kind` says whether it was the input, the state of the
/// machine, or the kernel/tools.
public struct TestbedError: Error, Sendable, CustomStringConvertible {
    /// The class of failure (maps to CLI exit codes).
    public enum Kind: Sendable, Hashable {
        /// The topology, a name or an option cannot be used.
        case invalidInput
        /// The lab does not exist, or already exists, or a name is taken.
        case state
        /// A command or system call failed.
        case system
        /// SIGINT/SIGTERM arrived during `up`; what was created has been removed.
        case interrupted
    }

    /// The class of failure.
    public var kind: Kind
    /// What went wrong, for a person.
    public var message: String

    /// Creates an error.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
