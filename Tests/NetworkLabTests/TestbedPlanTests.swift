import Foundation
import Testing
import SRv6Paths
@testable import SubflowSteering
@testable import NetworkLab
import LinuxSystem
import TestSupport

func prefix(_ s: String) -> IPv6Prefix { try! IPv6Prefix(parsing: s) }
func addr(_ s: String) -> IPv6Address { try! IPv6Address(parsing: s) }

/// Reference next hops by brute force: all-pairs distances (Floyd–Warshall, hosts never
/// transit), then u's next hops toward d are the neighbours x with w(u,x) + dist(x,d) = dist(u,d)
/// and x = d or a router.
func referenceNextHops(_ t: Topology) -> [[Set<Int>]] {
    let n = t.nodes.count
    let inf = Int.max / 4
    // dist[i][j] over paths whose *interior* nodes are routers.
    var dist = [[Int]](repeating: [Int](repeating: inf, count: n), count: n)
    for i in 0..<n { dist[i][i] = 0 }
    for l in t.links {
        dist[l.a][l.b] = min(dist[l.a][l.b], l.metric)
        dist[l.b][l.a] = min(dist[l.b][l.a], l.metric)
    }
    for k in 0..<n where t.nodes[k].kind == .router {
        for i in 0..<n where dist[i][k] < inf {
            for j in 0..<n where dist[k][j] < inf && dist[i][k] + dist[k][j] < dist[i][j] {
                dist[i][j] = dist[i][k] + dist[k][j]
            }
        }
    }
    var hops = [[Set<Int>]](repeating: [Set<Int>](repeating: [], count: n), count: n)
    for u in 0..<n {
        for d in 0..<n where d != u && dist[u][d] < inf {
            for (li, l) in t.links.enumerated() where l.a == u || l.b == u {
                let x = l.otherEnd(from: u)
                guard x == d || t.nodes[x].kind == .router else { continue }
                if l.metric + dist[x][d] == dist[u][d] { hops[u][d].insert(li) }
            }
        }
    }
    return hops
}

@Suite struct TestbedPlanTests {
    @Test func diamondNamesAndAddresses() throws {
        let plan = try TestbedPlan(topology: try bundledTopology("diamond.yaml"))
        #expect(plan.lab == "diamond")
        #expect(plan.namespaces == ["diamond-h1", "diamond-r1", "diamond-a", "diamond-b", "diamond-c", "diamond-r2", "diamond-h2"])
        #expect(plan.node("r1")!.interfaces.map(\.name) == ["h1", "a", "b", "c"])
        #expect(plan.node("r2")!.interfaces.map(\.name) == ["a", "b", "c", "h2"])
        #expect(plan.links[1].addressA == addr("fd5e:7b00:5e76:2::1"))
        #expect(plan.links[1].addressB == addr("fd5e:7b00:5e76:2::2"))
        #expect(plan.links[1].prefix == "fd5e:7b00:5e76:2::/64")
        #expect(plan.links[1].bandwidth == 50_000_000)
        // Every interface's peer view is consistent with the link.
        for n in plan.nodes {
            for i in n.interfaces {
                let l = plan.links[i.link]
                let (mine, theirs) = l.a == n.name ? (l.interfaceA, l.interfaceB) : (l.interfaceB, l.interfaceA)
                #expect(i.name == mine && i.peerInterface == theirs)
                #expect(i.address != i.peerAddress)
            }
        }
    }

    /// The SIDs installed are exactly the topology's node and adjacency SIDs, each End.X on the
    /// interface of its link with the neighbour's address on that link as nh6.
    @Test(arguments: ["diamond.yaml", "fattree.yaml", "abilene.yaml"])
    func sidsAreTheTopologys(_ file: String) throws {
        let t = try bundledTopology(file)
        let plan = try TestbedPlan(topology: t, lab: "x")
        var installed = Set<IPv6Address>()
        for (v, n) in plan.nodes.enumerated() {
            guard t.nodes[v].kind == .router else { #expect(n.sids.isEmpty); continue }
            let end = n.sids.filter { $0.behavior == "End" }
            #expect(end.map(\.address) == [t.nodeSID(ofNode: v)!])
            for s in n.sids where s.behavior == "End.X" {
                let link = try #require(s.link)
                #expect(s.address == t.adjacencySID(link: link, from: v))
                let l = plan.links[link]
                let (dev, nh) = l.a == n.name ? (l.interfaceA, l.addressB) : (l.interfaceB, l.addressA)
                #expect(s.interface == dev && s.nexthop == nh)
            }
            let degree = t.links.filter { $0.a == v || $0.b == v }.count
            #expect(n.sids.count == 1 + degree)
            installed.formUnion(n.sids.map(\.address))
        }
        // Nothing missing: every SID of the topology (hosts' addresses aside) is installed once.
        let table = t.sidTable().filter { t.nodes[$0.value.node].kind == .router }
        #expect(installed == Set(table.keys))
    }

    @Test func diamondECMP() throws {
        // The bundled diamond with equal middle metrics: three equal-cost paths.
        let d = try bundledTopology("diamond.yaml")
        let equal = try Topology(name: "diamond", nodes: d.nodes, links: d.links.map { l -> Topology.Link in var l = l; l.metric = 10; return l })
        let plan = try TestbedPlan(topology: equal)
        let r1 = plan.node("r1")!
        #expect(r1.route(to: "fc00:2::2/128")!.nexthops.map(\.node) == ["a", "b", "c"])
        #expect(r1.route(to: "fc00:0:2::/48")!.nexthops.map(\.interface) == ["a", "b", "c"])
        #expect(r1.route(to: "fc00:0:a::/48")!.nexthops.map(\.node) == ["a"])
        #expect(r1.route(to: "fc00:0:1::/48") == nil, "no route to its own locator")
        #expect(plan.node("a")!.route(to: "fc00:1::1/128")!.nexthops.map(\.via) == [addr("fd5e:7b00:5e76:2::1")])
        let h1 = plan.node("h1")!
        #expect(h1.routes.allSatisfy { $0.source == addr("fc00:1::1") })
        #expect(h1.route(to: "default")!.nexthops.map(\.node) == ["r1"])
        #expect(h1.route(to: "fc00:2::2/128")!.distance == 40)
        let lines = plan.routeCommands(for: r1)
        #expect(lines.contains("route replace fc00:2::2/128 nexthop via fd5e:7b00:5e76:2::2 dev a nexthop via fd5e:7b00:5e76:3::2 dev b nexthop via fd5e:7b00:5e76:4::2 dev c"))
        #expect(lines.contains("route replace fc00:0:1::1/128 encap seg6local action End count dev sid0"))
        #expect(lines.contains("route replace fc00:0:1::e003/128 encap seg6local action End.X nh6 fd5e:7b00:5e76:3::2 count dev b"))
        #expect(plan.routeCommands(for: h1).contains("route replace fc00:0:2::/48 src fc00:1::1 via fd5e:7b00:5e76:1::2 dev r1"))
        #expect(plan.vethCommands()[0] == "link add name r1 netns diamond-h1 type veth peer name h1 netns diamond-r1")
        // --mtu: both ends (and a bridge's ports) get it, and the tbf peak bucket holds one such frame.
        let jumbo = try TestbedPlan(topology: try d.settingMTU(9000), lab: "diamond")
        #expect(jumbo.vethCommands()[0] == "link add name r1 netns diamond-h1 mtu 9000 type veth peer name h1 netns diamond-r1 mtu 9000")
        #expect(jumbo.vethCommands(bridged: [0])[1] == "link add name h1 netns diamond-r1 mtu 9000 type veth peer name portb netns diamond+L0 mtu 9000")
        #expect(jumbo.qdiscCommands(for: jumbo.node("a")!, emulateDelay: false)[0].hasSuffix("peakrate 1000000000bit mtu 9078"))
    }

    @Test func fatTreeECMP() throws {
        let t = try bundledTopology("fattree.yaml")
        let plan = try TestbedPlan(topology: t, lab: "ft")
        // An edge switch reaches another pod through both aggregation switches of its pod.
        let e00 = plan.node("e0-0")!
        let other = e00.route(to: "fc00:4:2::2/128")!
        #expect(other.nexthops.count == 2)
        #expect(Set(other.nexthops.map(\.node)) == ["a0-0", "a0-1"])
        // A host's routes all go through its one edge switch.
        let h = plan.node("h0-0-0")!
        #expect(h.routes.allSatisfy { $0.nexthops.map(\.node) == ["e0-0"] })
        #expect(plan.nodes.contains { n in n.routes.contains { $0.nexthops.count >= 2 } })
        try checkAgainstReference(t, plan)
    }

    /// Route next hops equal the brute-force reference on every pair, for bundled and random
    /// topologies (with hosts attached so host non-transit matters).
    @Test(arguments: 0..<20)
    func nextHopsMatchReference(seed: Int) throws {
        var nodes: [Topology.Node] = []
        var links: [Topology.Link] = []
        var state = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 &+ 7
        func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(n))
        }
        let routers = 4 + next(8)
        for i in 0..<routers { nodes.append(.router("r\(i)", locator: prefix("fc00:0:\(String(i + 1, radix: 16))::/48"))) }
        for i in 1..<routers { links.append(.init(a: next(i), b: i, metric: 1 + next(3))) }
        for _ in 0..<routers { let a = next(routers), b = next(routers); if a != b { links.append(.init(a: a, b: b, metric: 1 + next(3))) } }
        for h in 0..<3 {
            nodes.append(.host("h\(h)", address: addr("fc00:\(h + 1)::1")))
            links.append(.init(a: nodes.count - 1, b: next(routers), metric: 1))
            links.append(.init(a: nodes.count - 1, b: next(routers), metric: 1 + next(2)))   // dual-homed
        }
        let t = try Topology(name: "rand", nodes: nodes, links: links)
        try checkAgainstReference(t, TestbedPlan(topology: t))
    }

    func checkAgainstReference(_ t: Topology, _ plan: TestbedPlan) throws {
        let ref = referenceNextHops(t)
        for (u, n) in plan.nodes.enumerated() {
            for d in t.nodes.indices where d != u {
                let dest: String
                if let loc = t.nodes[d].locator, t.nodes[d].kind == .router {
                    dest = "\(loc.address.masked(to: loc.length))/\(loc.length)"
                } else {
                    dest = "\(t.nodes[d].address!)/128"
                }
                let got = Set(n.route(to: dest)?.nexthops.map(\.link) ?? [])
                #expect(got == ref[u][d], "\(n.name) → \(t.nodes[d].name): \(got.sorted()) vs \(ref[u][d].sorted())")
            }
        }
    }

    @Test func interfaceNamesAreShortUniqueAndSafe() throws {
        let long = "a-router-with-a-very-long-name"
        let t = try Topology(name: "names", nodes: [
            .router("r", locator: prefix("fc00:0:1::/48")),
            .router(long, locator: prefix("fc00:0:2::/48")),
            .router("lo", locator: prefix("fc00:0:3::/48")),
            .router("all", locator: prefix("fc00:0:4::/48")),
            .router("x.y", locator: prefix("fc00:0:5::/48")),
            .router("l2", locator: prefix("fc00:0:6::/48")),
            .router("sid0", locator: prefix("fc00:0:8::/48")),
            .router("p", locator: prefix("fc00:0:7::/48")),
        ], links: [
            .init(a: 0, b: 1), .init(a: 0, b: 2), .init(a: 0, b: 3), .init(a: 0, b: 4), .init(a: 0, b: 5),
            .init(a: 0, b: 7), .init(a: 0, b: 7), .init(a: 0, b: 7),   // three parallel links r–p
            .init(a: 0, b: 6),
        ])
        let plan = try TestbedPlan(topology: t, lab: "n")
        let r = plan.node("r")!.interfaces.map(\.name)
        // long name, lo, all, x.y and sid0 fall back to l<ordinal>; "l2" is taken by the
        // fallback, so the peer called l2 gets l5; parallel links get -2, -3.
        #expect(r == ["l1", "l2", "l3", "l4", "l5", "p", "p-2", "p-3", "l9"])
        for n in plan.nodes {
            let names = n.interfaces.map(\.name)
            #expect(Set(names).count == names.count, "\(n.name): \(names)")
            #expect(names.allSatisfy { TestbedPlan.isUsableInterfaceName($0) && $0.utf8.count <= 15 })
        }
        #expect(plan.node(long)!.interfaces.map(\.name) == ["r"])
        for file in ["level3.yaml", "abilene.yaml", "fattree.yaml"] {
            let t = try bundledTopology(file)
            let names = TestbedPlan.interfaceNames(t)
            #expect(names.allSatisfy { TestbedPlan.isUsableInterfaceName($0) })
            var perNode = [Set<String>](repeating: [], count: t.nodes.count)
            for (i, l) in t.links.enumerated() {
                #expect(perNode[l.a].insert(names[2 * i]).inserted, "\(file): \(names[2 * i]) twice in \(t.nodes[l.a].name)")
                #expect(perNode[l.b].insert(names[2 * i + 1]).inserted, "\(file): \(names[2 * i + 1]) twice in \(t.nodes[l.b].name)")
            }
        }
    }

    @Test func linkPrefixCollisions() throws {
        let base = try bundledTopology("diamond.yaml")
        // Clashing with a locator, a host address or an explicit SID is an error naming it.
        let clashes: [(Topology, String)] = [
            (try Topology(name: "t", nodes: [.router("r", locator: prefix("fd5e:7b00:5e76:7::/64")), .host("h", address: addr("fc00::1"))],
                          links: [.init(a: 0, b: 1)]), "the locator fd5e:7b00:5e76:7::/64 of 'r'"),
            (try Topology(name: "t", nodes: [.router("r", locator: prefix("fd00::/8")), .host("h", address: addr("fc00::1"))],
                          links: [.init(a: 0, b: 1)]), "the locator fd00::/8 of 'r'"),
            (try Topology(name: "t", nodes: [.router("r", locator: prefix("fc00:0:1::/48")), .host("h", address: addr("fd5e:7b00:5e76::9"))],
                          links: [.init(a: 0, b: 1)]), "the address fd5e:7b00:5e76::9 of host 'h'"),
            (try Topology(name: "t", nodes: [.router("r", locator: prefix("fc00:0:1::/48"), sid: addr("fd5e:7b00:5e76:ff::1")),
                                              .host("h", address: addr("fc00::1"))],
                          links: [.init(a: 0, b: 1)]), "the SID fd5e:7b00:5e76:ff::1 of 'r'"),
        ]
        for (t, what) in clashes {
            #expect(throws: TestbedError.self) { try TestbedPlan(topology: t) }
            do { _ = try TestbedPlan(topology: t) } catch {
                #expect(error.kind == .invalidInput)
                #expect(error.message.contains(what), "\(error.message)")
            }
        }
        #expect(TestbedPlan.linkPrefixClash(prefix(TestbedPlan.defaultLinkPrefix), base) == nil)
        #expect(TestbedPlan.linkPrefixClash(prefix("fc00::/16"), base) != nil)
        // Other checks: a prefix too long, a bad lab name.
        #expect(throws: TestbedError.self) { try TestbedPlan(topology: base, linkPrefix: "fd00:1:2:3::/64") }
        #expect(throws: TestbedError.self) { try TestbedPlan(topology: base, lab: "has/slash") }
        #expect(throws: TestbedError.self) { try TestbedPlan(topology: base, lab: "") }
        #expect(throws: TestbedError.self) { try TestbedPlan(topology: base, lab: String(repeating: "x", count: 33)) }
        let ok = try TestbedPlan(topology: base, linkPrefix: "fd99::/32")
        #expect(ok.links[0].addressA == addr("fd99:0:0:1::1"), "link 0 is the first /64 after the prefix")
    }

    @Test func qdiscAndSysctlText() throws {
        let plan = try TestbedPlan(topology: try bundledTopology("diamond.yaml"))
        let a = plan.node("a")!
        #expect(plan.qdiscCommands(for: a, emulateDelay: false) == [
            "qdisc replace dev r1 root handle 2: tbf rate 50000000bit burst 62500 latency 50ms peakrate 1000000000bit mtu 1578",
            "qdisc replace dev r2 root handle 2: tbf rate 50000000bit burst 62500 latency 50ms peakrate 1000000000bit mtu 1578",
        ])
        #expect(TestbedPlan.tbfPeakRate(bitsPerSecond: 10_000_000_000) == 20_000_000_000)
        #expect(TestbedPlan.tbfPeakBucket(bitsPerSecond: 10_000_000_000) == 1514 + 640, "4 ticks of 64 ns at 20 Gbit/s")
        #expect(plan.qdiscCommands(for: a, emulateDelay: true).first == "qdisc replace dev r1 root handle 1: netem delay 2000us")
        #expect(TestbedPlan.tbfBurst(bitsPerSecond: 1_000_000) == 32 * 1024)
        let hs = Dictionary(uniqueKeysWithValues: plan.namespaceSysctls(for: plan.node("h1")!))
        #expect(hs["net/mptcp/pm_type"] == "1" && hs["net/ipv6/conf/all/forwarding"] == "0")
        let rs = Dictionary(uniqueKeysWithValues: plan.namespaceSysctls(for: a, mptcpPathManager: .kernel))
        #expect(rs["net/ipv6/conf/all/forwarding"] == "1" && rs["net/ipv6/conf/default/seg6_enabled"] == "1" && rs["net/mptcp/pm_type"] == nil)
        // Hosts: no blackhole timeout (a lost MPTCP SYN must not turn later connections into TCP).
        #expect(hs["net/mptcp/blackhole_timeout"] == "0" && rs["net/mptcp/blackhole_timeout"] == nil)
        #expect(TestbedPlan.optionalSysctls.contains("net/mptcp/blackhole_timeout"))
        let ks = Dictionary(uniqueKeysWithValues: plan.namespaceSysctls(for: plan.node("h1")!, mptcpPathManager: .kernel))
        #expect(ks["net/mptcp/pm_type"] == "0")
        #expect(plan.addressCommands(for: plan.node("h1")!).contains("mptcp limits set subflows 8 add_addr_accepted 8"))
    }

    @Test func parsesIPLinkJSON() throws {
        let text = """
        [{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"operstate":"UNKNOWN","stats64":{"rx":{"bytes":0,"packets":0,"errors":0,"dropped":0},"tx":{"bytes":0,"packets":0,"errors":0,"dropped":0}}},
         {"ifindex":2,"ifname":"r1","flags":["BROADCAST","MULTICAST"],"operstate":"DOWN","stats64":{"rx":{"bytes":110,"packets":1,"errors":0,"dropped":3},"tx":{"bytes":18446744073709551615,"packets":7,"errors":0,"dropped":2}}}]
        """
        let c = try Testbed.parseLinkJSON(text)
        #expect(c["lo"]!.adminUp)
        let r1 = try #require(c["r1"])
        #expect(!r1.adminUp && r1.operState == "DOWN")
        #expect(r1.rxPackets == 1 && r1.rxBytes == 110 && r1.rxDropped == 3)
        #expect(r1.txPackets == 7 && r1.txBytes == UInt64.max && r1.txDropped == 2)
        #expect(throws: TestbedError.self) { try Testbed.parseLinkJSON("not json") }
    }
}
