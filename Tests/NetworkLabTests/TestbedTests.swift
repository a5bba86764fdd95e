import Foundation
import Testing
import SRv6Paths
@testable import SubflowSteering
@testable import NetworkLab
import LinuxSystem
import TestSupport

/// A lab name unique to this test process: `t<pid>-<tag>`.
func testLabName(_ tag: String) -> String { "t\(getpid())-\(tag)" }

/// Removes labs `t<pid>-…` left by test processes that no longer exist.
func sweepStaleTestLabs() {
    for lab in Testbed.labs() where lab.hasPrefix("t") {
        let digits = lab.dropFirst().prefix { $0.isNumber }
        guard let pid = Int32(digits), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
        _ = try? Testbed.down(lab)
    }
}

/// Brings up `plan`, runs `body`, and always takes the lab down again.
func withLab<T>(_ plan: TestbedPlan, options: Testbed.UpOptions = Testbed.UpOptions(), _ body: (Testbed) throws -> T) throws -> T {
    sweepStaleTestLabs()
    let lab = try Testbed.up(plan: plan, options: options)
    defer {
        do { try lab.down() } catch { Issue.record("down failed: \(error)") }
    }
    return try body(lab)
}

/// Packets each link carried in each direction between two counter snapshots.
struct Deltas {
    var aToB: [Int: UInt64] = [:]
    var bToA: [Int: UInt64] = [:]

    init(_ before: [Testbed.LinkCounters], _ after: [Testbed.LinkCounters]) {
        for (x, y) in zip(before, after) {
            aToB[x.link] = y.packetsAToB - x.packetsAToB
            bToA[x.link] = y.packetsBToA - x.packetsBToA
        }
    }
}

/// Names of the interfaces of the root namespace.
func rootInterfaces() throws -> Set<String> {
    let out = try Subprocess.check(["ip", "-o", "link", "show"])
    return Set(out.split(separator: "\n").compactMap { line in
        line.split(separator: ":", maxSplits: 2).dropFirst().first.map { String($0.trimmingCharacters(in: .whitespaces).split(separator: "@")[0]) }
    })
}

@Suite(.serialized, .enabled(if: isRoot, "needs root: creates network namespaces"))
struct TestbedLifecycleTests {
    @Test func upDownLeavesNothingBehind() throws {
        let plan = try TestbedPlan(topology: try bundledTopology("diamond.yaml"), lab: testLabName("life"))
        let rootBefore = try rootInterfaces()
        let start = Date()
        try withLab(plan) { lab in
            #expect(Date().timeIntervalSince(start) < 5, "the diamond lab comes up in well under 5 s")
            for ns in plan.namespaces { #expect(NetworkNamespace.exists(ns)) }
            #expect(FileManager.default.fileExists(atPath: "\(Testbed.stateDirectory)/\(plan.lab).json"))
            let reopened = try Testbed.open(plan.lab)
            #expect(reopened.state.phase == .up && reopened.state.namespaces == plan.namespaces)
            // This kernel has no netem: auto emulates the delays with one bridge per link.
            #expect(reopened.delayMode == .bridge && reopened.delayEmulated)
            #expect(reopened.state.bridges.count == plan.links.count)
            #expect(reopened.state.linkNamespaces == plan.links.map { plan.linkNamespace(of: $0) })
            #expect(reopened.state.bridges.allSatisfy { TestbedState.isRunning($0) })
            #expect(!reopened.state.notes.contains { $0.contains("delays are not emulated") })
            let status = try lab.status()
            #expect(status.presentNamespaces.count == plan.nodes.count)
            for c in status.links {
                #expect(c.endA?.operState == "UP" && c.endB?.operState == "UP", "link \(c.link)")
            }
            // Kernel settings as planned.
            let sysctl = { (node: String, key: String) throws -> String in
                try lab.exec(node, ["sysctl", "-n", key]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            #expect(try sysctl("a", "net.ipv6.conf.all.forwarding") == "1")
            #expect(try sysctl("a", "net.ipv6.conf.r1.seg6_enabled") == "1")
            #expect(try sysctl("h2", "net.ipv6.conf.r2.seg6_enabled") == "1")
            #expect(try sysctl("h2", "net.ipv6.conf.all.seg6_enabled") == "1")
            #expect(try sysctl("h1", "net.ipv6.conf.all.forwarding") == "0")
            #expect(try sysctl("h1", "net.mptcp.pm_type") == "1")
            #expect(try lab.exec("h1", ["ip", "mptcp", "limits"]).stdout.contains("subflows 8"))
            #expect(try lab.exec("r1", ["ip", "-d", "link", "show", "a"]).stdout.contains("alias a"))
            #expect(try lab.exec("r1", ["tc", "qdisc", "show", "dev", "a"]).stdout.contains("tbf 2: root refcnt 2 rate 50Mbit")
                    || lab.exec("r1", ["tc", "qdisc", "show", "dev", "a"]).stdout.contains("rate 50Mbit"))
            // End and End.X exactly as the topology derives them: seg6local routes, or the BPF
            // router program on every router interface with the same SIDs in its map.
            let topo = try bundledTopology("diamond.yaml")
            let xc = topo.adjacencySID(from: "r1", to: "c")!
            switch lab.state.routerSIDs {
            case .seg6local?:
                let routes = try lab.exec("r1", ["ip", "-6", "route", "show"]).stdout
                #expect(routes.contains("\(topo.nodeSID(of: "r1")!)  encap seg6local action End dev sid0 "))
                #expect(routes.contains("\(xc)  encap seg6local action End.X nh6 \(plan.links(between: "r1", and: "c")[0].addressB) dev c"))
            case .bpf?:
                for i in plan.node("r1")!.interfaces {
                    #expect(try lab.exec("r1", ["tc", "filter", "show", "dev", i.name, "ingress"]).stdout.contains("name srte_srv6_route"), "\(i.name)")
                }
                let sids = try lab.sidCounters().filter { $0.node == "r1" }
                #expect(Set(sids.map(\.sid)) == Set(plan.node("r1")!.sids.map(\.address)))
                #expect(sids.first { $0.sid == xc }?.behavior == "End.X")
            case nil:
                Issue.record("the state does not say how routers realise SIDs")
            }
        }
        for ns in plan.namespaces { #expect(!NetworkNamespace.exists(ns), "\(ns) left behind") }
        #expect(labNamespaces(plan.lab).isEmpty, "left behind: \(labNamespaces(plan.lab))")
        #expect(bridgeProcesses(plan.lab + "+").isEmpty, "a delay bridge survived down")
        #expect(!FileManager.default.fileExists(atPath: "\(Testbed.stateDirectory)/\(plan.lab).json"))
        #expect(!Testbed.labs().contains(plan.lab))
        #expect(try rootInterfaces() == rootBefore, "no veth left in the root namespace")
    }

    @Test func upOnAnExistingLabFails() throws {
        let plan = try TestbedPlan(topology: try bundledTopology("diamond.yaml"), lab: testLabName("twice"))
        try withLab(plan) { _ in
            do {
                _ = try Testbed.up(plan: plan)
                Issue.record("second up succeeded")
            } catch let error as TestbedError {
                #expect(error.kind == .state)
                #expect(error.message.contains("already exists"))
            }
            // The first lab is untouched.
            for ns in plan.namespaces { #expect(NetworkNamespace.exists(ns)) }
            #expect(try Testbed.open(plan.lab).state.phase == .up)
        }
    }

    /// A namespace that is not ours blocks `up` before it creates anything, and survives.
    @Test func conflictingNamespaceIsNotTouched() throws {
        sweepStaleTestLabs()
        let plan = try TestbedPlan(topology: try bundledTopology("diamond.yaml"), lab: testLabName("clash"))
        let foreign = plan.node("r2")!.namespace
        try Subprocess.check(["ip", "netns", "add", foreign])
        defer { _ = try? Subprocess.run(["ip", "netns", "del", foreign]) }
        do {
            let lab = try Testbed.up(plan: plan)
            _ = try? lab.down()
            Issue.record("up succeeded despite \(foreign)")
        } catch {
            #expect(error.kind == .state)
            #expect(error.message.contains(foreign))
        }
        #expect(NetworkNamespace.exists(foreign), "someone else's namespace was deleted")
        for ns in plan.namespaces where ns != foreign { #expect(!NetworkNamespace.exists(ns)) }
        #expect(!Testbed.labs().contains(plan.lab))
    }

    /// A failure late in `up` (tc rejects a rate of 0) removes everything created so far.
    @Test func failureHalfwayCleansUp() throws {
        sweepStaleTestLabs()
        var plan = try TestbedPlan(topology: try bundledTopology("diamond.yaml"), lab: testLabName("half"))
        plan.links[5].bandwidth = 0
        let rootBefore = try rootInterfaces()
        do {
            let lab = try Testbed.up(plan: plan)
            _ = try? lab.down()
            Issue.record("up succeeded with a zero rate")
        } catch {
            #expect(error.kind == .system)
            #expect(error.message.contains("tc in \(plan.lab)-"), "\(error.message)")
            #expect(error.message.contains("removed the 7 namespace(s)"), "\(error.message)")
        }
        for ns in plan.namespaces { #expect(!NetworkNamespace.exists(ns), "\(ns) left behind") }
        #expect(labNamespaces(plan.lab).isEmpty && bridgeProcesses(plan.lab + "+").isEmpty)
        #expect(!Testbed.labs().contains(plan.lab))
        #expect(try rootInterfaces() == rootBefore)
    }

    /// Two labs of the same topology run side by side, each forwarding on its own.
    @Test func labsCoexist() throws {
        let topo = try bundledTopology("diamond.yaml")
        let one = try TestbedPlan(topology: topo, lab: testLabName("one"))
        let two = try TestbedPlan(topology: topo, lab: testLabName("two"))
        try withLab(one) { a in
            try withLab(two) { b in
                #expect(Set(Testbed.labs()).isSuperset(of: [one.lab, two.lab]))
                for lab in [a, b] {
                    let r = try lab.exec("h1", ["ping", "-c", "1", "-W", "2", "\(lab.address(of: "h2")!)"])
                    #expect(r.status == 0, "\(lab.lab): \(r.stdout)\(r.stderr)")
                }
                try a.setLinks(between: "h1", and: "r1", up: false)
                #expect(try b.exec("h1", ["ping", "-c", "1", "-W", "2", "\(b.address(of: "h2")!)"]).status == 0,
                        "a link down in one lab does not affect the other")
            }
        }
    }

    @Test func recycledPidIsNotARunningUp() throws {
        var s = TestbedState(lab: "x", phase: .creating, pid: getpid(), created: 0, topologyFile: nil, namespaces: [],
                             pendingNamespace: nil, delayEmulated: nil, mptcpPathManager: .userspace, notes: [],
                             plan: try TestbedPlan(topology: try bundledTopology("diamond.yaml")))
        s.pidStartTime = TestbedState.startTime(of: getpid())
        #expect(s.pidStartTime != nil && s.upProcessIsAlive)
        s.pidStartTime! += 1
        #expect(!s.upProcessIsAlive)
        s.pid = 999_999_999
        s.pidStartTime = nil
        #expect(!s.upProcessIsAlive)
    }

    /// `down` of a lab whose `up` died mid-way (state left in phase `creating`, a pending
    /// namespace) removes what exists and nothing else.
    @Test func downAfterAnUpThatDied() throws {
        sweepStaleTestLabs()
        let plan = try TestbedPlan(topology: try bundledTopology("diamond.yaml"), lab: testLabName("died"))
        // What a killed `up` leaves: h1 and r1 created, a pending and created, b pending and never created.
        var state = TestbedState(lab: plan.lab, phase: .creating, pid: 999_999_999, created: 0, topologyFile: nil,
                                 namespaces: [plan.node("h1")!.namespace, plan.node("r1")!.namespace],
                                 pendingNamespace: plan.node("a")!.namespace, delayEmulated: nil,
                                 mptcpPathManager: .userspace, notes: [], plan: plan)
        try state.create()
        for n in ["h1", "r1", "a"] { try Subprocess.check(["ip", "netns", "add", plan.node(n)!.namespace]) }
        let bystander = plan.node("c")!.namespace   // not recorded: must survive
        try Subprocess.check(["ip", "netns", "add", bystander])
        defer { _ = try? Subprocess.run(["ip", "netns", "del", bystander]) }
        let removed = try Testbed.down(plan.lab)
        #expect(Set(removed) == Set(["h1", "r1", "a"].map { plan.node($0)!.namespace }))
        for n in ["h1", "r1", "a", "b"] { #expect(!NetworkNamespace.exists(plan.node(n)!.namespace)) }
        #expect(NetworkNamespace.exists(bystander))
        #expect(!Testbed.labs().contains(plan.lab))
        state.pendingNamespace = nil
        #expect(throws: TestbedError.self) { try Testbed.down(plan.lab) }
    }
}

@Suite(.serialized, .enabled(if: isRoot, "needs root: creates network namespaces"))
struct TestbedForwardingTests {
    static func ping(_ lab: Testbed, from: String, to: IPv6Address, count: Int = 20) throws -> CommandResult {
        try lab.exec(from, ["ping", "-n", "-q", "-c", "\(count)", "-i", "0.01", "-W", "1", "\(to)"])
    }

    /// `--mtu 9000`: every link, delay bridges included, carries a full 9000-byte packet end to
    /// end (ping with don't-fragment: 9000 − 40 IPv6 − 8 ICMPv6 bytes of payload), and no more.
    @Test func jumboFramesCrossTheLab() throws {
        let plan = try TestbedPlan(topology: try bundledTopology("diamond.yaml").settingMTU(9000), lab: testLabName("mtu"))
        try withLab(plan) { lab in
            let h2 = lab.address(of: "h2")!
            let full = try lab.exec("h1", ["ping", "-n", "-q", "-c", "2", "-i", "0.05", "-W", "2", "-M", "do", "-s", "8952", "\(h2)"])
            #expect(full.status == 0, "9000-byte ping h1 → h2: \(full.stdout)\(full.stderr)")
            let over = try lab.exec("h1", ["ping", "-n", "-q", "-c", "1", "-W", "1", "-M", "do", "-s", "8953", "\(h2)"])
            #expect(over.status != 0, "a 9001-byte packet must not leave h1 unfragmented")
            let l = try lab.exec("b", ["ip", "-o", "link", "show", "dev", plan.links(between: "b", and: "r2")[0].interfaceA])
            #expect(l.stdout.contains("mtu 9000"), "\(l.stdout)")
        }
    }

    @Test func diamondForwardsAndSteers() throws {
        let topo = try bundledTopology("diamond.yaml")
        let plan = try TestbedPlan(topology: topo, lab: testLabName("fwd"))
        try withLab(plan) { lab in
            let h1 = lab.address(of: "h1")!, h2 = lab.address(of: "h2")!
            let p = try Self.ping(lab, from: "h1", to: h2, count: 3)
            #expect(p.status == 0, "ping h1 → h2: \(p.stdout)\(p.stderr)")

            let linkIndex = { (a: String, b: String) in plan.links(between: a, and: b)[0].index }
            // Steered traffic: UDP datagrams whose SRH srte built, sent raw from h1 (no seg6
            // routes needed, so this runs on kernels without CONFIG_IPV6_SEG6_LWTUNNEL too).
            var port: UInt16 = 6000
            func send(_ segments: [IPv6Address], count: Int = 20) throws -> Int {
                port += 1
                let p = port
                let rx = try lab.run(in: "h2") { try UDPReceiver(port: p) }
                defer { rx.close() }
                let srh = try SegmentRoutingHeader(path: segments + [h2], nextHeader: 17)
                for i in 0..<count {
                    let packet = try RawIPv6.udpPacket(source: h1, srh: srh, destinationPort: p, payload: Array("steered \(i)".utf8))
                    try lab.run(in: "h1") { try RawIPv6.send(packet, to: segments[0]) }
                    usleep(2_000)
                }
                var got = 0
                while got < count, rx.receive(timeout: 1.0) != nil { got += 1 }
                return got
            }

            // Through b's node SID: r1 → b → r2 carries the datagrams, a and c do not.
            var before = try lab.linkCounters()
            var n = try send([topo.nodeSID(of: "b")!])
            #expect(n == 20, "steered datagrams via b: \(n) of 20 arrived")
            var d = Deltas(before, try lab.linkCounters())
            #expect(d.aToB[linkIndex("r1", "b")]! >= 20 && d.aToB[linkIndex("b", "r2")]! >= 20)
            for m in ["a", "c"] {
                #expect(d.aToB[linkIndex("r1", m)]! < 5 && d.aToB[linkIndex(m, "r2")]! < 5, "\(m) carried steered packets: \(d)")
            }

            // End.X forces a detour no shortest path takes: r1 →(End.X) c →(End.X) r1 → b → r2.
            let x1 = topo.adjacencySID(from: "r1", to: "c")!, x2 = topo.adjacencySID(from: "c", to: "r1")!
            before = try lab.linkCounters()
            let sidsBefore = try lab.sidCounters()
            n = try send([x1, x2, topo.nodeSID(of: "b")!])
            let sidsAfter = try lab.sidCounters()
            let processed = { (sid: IPv6Address) -> UInt64 in
                sidsAfter.first { $0.sid == sid }!.packets - sidsBefore.first { $0.sid == sid }!.packets
            }
            #expect(processed(x1) >= 20 && processed(x2) >= 20 && processed(topo.nodeSID(of: "b")!) >= 20)
            #expect(processed(topo.nodeSID(of: "a")!) == 0 && processed(topo.nodeSID(of: "c")!) == 0)
            #expect(sidsAfter.count == plan.nodes.map(\.sids.count).reduce(0, +), "every planned SID is installed")
            #expect(n == 20, "End.X detour: \(n) of 20 arrived")
            d = Deltas(before, try lab.linkCounters())
            #expect(d.aToB[linkIndex("r1", "c")]! >= 20, "r1's End.X toward c")
            #expect(d.bToA[linkIndex("r1", "c")]! >= 20, "c's End.X back to r1")
            #expect(d.aToB[linkIndex("b", "r2")]! >= 20)
            #expect(d.aToB[linkIndex("c", "r2")]! < 5 && d.aToB[linkIndex("r1", "a")]! < 5)

            // A link down breaks the path through it; up restores routes and SIDs.
            let changed = try lab.setLinks(between: "b", and: "r2", up: false)
            #expect(changed.map(\.index) == [linkIndex("b", "r2")])
            let st = try lab.status().links[linkIndex("b", "r2")]
            #expect(st.endA?.adminUp == false && st.endB?.adminUp == false)
            #expect(try send([topo.nodeSID(of: "b")!], count: 3) == 0)
            try lab.setLinks(between: "r2", and: "b", up: true)
            n = try send([topo.nodeSID(of: "b")!], count: 3)
            #expect(n == 3, "after link up: \(n) of 3 arrived")
            if lab.state.routerSIDs == .seg6local {
                #expect(try lab.exec("b", ["ip", "-6", "route", "show", "\(topo.adjacencySID(from: "b", to: "r2")!)"]).stdout.contains("End.X"))
            }
            #expect(try lab.exec("b", ["ip", "-6", "route", "show", "\(h2)"]).stdout.contains("dev r2"))
        }
    }

    /// Sends `bytes` over TCP from `flow.localAddress` (socket made in `client`) to a listener
    /// made in `server`; returns what the server received. Bounded by `seconds`.
    static func tcpTransfer(_ lab: Testbed, client: String, server: String, flow: FourTuple, bytes: Int,
                            seconds: Int = 15) throws -> Int {
        try TCPTransfer.run(clientNamespace: lab.plan.node(client)!.namespace, serverNamespace: lab.plan.node(server)!.namespace,
                            flow: flow, bytes: bytes, seconds: seconds)
    }

    /// A TCP flow steered by ``BPFSteering`` on h1 along an End.X detour
    /// (r1 → c → r1 → b → r2) carries its bytes exactly there: c → r1 sees the data, which no
    /// IGP path would send that way, and a's links see none of it.
    @Test func bpfSteeredTCPFlowTakesTheDetour() throws {
        let topo = try bundledTopology("diamond.yaml")
        let plan = try TestbedPlan(topology: topo, lab: testLabName("bpf"))
        try withLab(plan) { lab in
            let h1 = lab.address(of: "h1")!, h2 = lab.address(of: "h2")!
            let segments = [topo.adjacencySID(from: "r1", to: "c")!, topo.adjacencySID(from: "c", to: "r1")!,
                            topo.nodeSID(of: "b")!, h2]
            // The BPF program grows packets by the SRH behind the stack's back: lower the MTU.
            let gw = plan.node("h1")!.route(to: "default")!.nexthops[0]
            try Subprocess.check(["ip", "-6", "-n", plan.node("h1")!.namespace, "route", "replace", "\(h2)/128",
                                  "via", "\(gw.via)", "dev", gw.interface, "src", "\(h1)", "mtu", "\(1500 - 8 - 16 * segments.count)"])
            let steering = try lab.run(in: "h1") { try BPFSteering(interface: gw.interface) }
            defer { steering.removeAll() }
            let flow = FourTuple(local: h1, localPort: 41000, remote: h2, remotePort: 5201)
            try steering.steer(flow, along: try SegmentRoutingHeader(path: segments, nextHeader: 6))
            let size = 1 << 20
            let before = try lab.linkCounters()
            let start = Date()
            let got = try Self.tcpTransfer(lab, client: "h1", server: "h2", flow: flow, bytes: size)
            let seconds = Date().timeIntervalSince(start)
            let after = try lab.linkCounters()
            #expect(got == size)
            // The 50 Mbit/s tbf on the middle links bounds the rate (1 MiB needs ≥ 0.168 s).
            let mbps = Double(size * 8) / seconds / 1e6
            #expect(mbps < 55, "\(mbps) Mbit/s through 50 Mbit/s links")
            var bytes: [String: UInt64] = [:]
            for (x, y) in zip(before, after) {
                bytes["\(x.a)>\(x.b)"] = (y.endA?.txBytes ?? 0) - (x.endA?.txBytes ?? 0)
                bytes["\(x.b)>\(x.a)"] = (y.endB?.txBytes ?? 0) - (x.endB?.txBytes ?? 0)
            }
            for hop in ["r1>c", "c>r1", "r1>b", "b>r2"] {
                #expect(bytes[hop]! > UInt64(size), "\(hop): \(bytes[hop]!) bytes")
            }
            for hop in ["r1>a", "a>r2", "c>r2"] {
                #expect(bytes[hop]! < UInt64(size / 100), "\(hop) carried \(bytes[hop]!) bytes")
            }
            let c = steering.counters()
            #expect(c.steered > 0 && c.errors == 0, "\(c)")
        }
    }

    /// A socket created in a node via ``Testbed/run(in:_:)`` talks from the node's address.
    @Test func socketsInNodesUseTheHostAddress() throws {
        let plan = try TestbedPlan(topology: try bundledTopology("diamond.yaml"), lab: testLabName("sock"))
        try withLab(plan) { lab in
            let h1 = lab.address(of: "h1")!, h2 = lab.address(of: "h2")!
            let rx = try lab.run(in: "h2") { () throws -> Int32 in
                let fd = socket(AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
                try TCPTransfer.bind(fd, h2, 40000)
                TCPTransfer.timeouts(fd, seconds: 3)
                return fd
            }
            defer { close(rx) }
            let tx = try lab.run(in: "h1") { socket(AF_INET6, Int32(SOCK_DGRAM.rawValue), 0) }
            defer { close(tx) }
            var dst = TCPTransfer.sockaddr6(h2, 40000)
            let msg = Array("hello".utf8)
            let sent = withUnsafePointer(to: &dst) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(tx, msg, msg.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
            #expect(sent == msg.count)
            var from = sockaddr_in6()
            var len = socklen_t(MemoryLayout<sockaddr_in6>.size)
            var buf = [UInt8](repeating: 0, count: 64)
            let n = withUnsafeMutablePointer(to: &from) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(rx, &buf, buf.count, 0, $0, &len) }
            }
            #expect(n == msg.count)
            let source = withUnsafeBytes(of: from.sin6_addr) { IPv6Address(bytes: $0) }
            #expect(source == h1, "the source is h1's address, not its link address")
        }
    }

    @Test func fatTreeHasMultipathRoutes() throws {
        let topo = try bundledTopology("fattree.yaml")
        let plan = try TestbedPlan(topology: topo, lab: testLabName("ft"))
        try withLab(plan) { lab in
            let expected = plan.node("e0-0")!.route(to: "fc00:4:2::2/128")!
            #expect(expected.nexthops.count == 2)
            let json = try lab.exec("e0-0", ["ip", "-6", "-j", "route", "show", "fc00:4:2::2/128"]).stdout
            let routes = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
            let hops = (routes.first?["nexthops"] as? [[String: Any]]) ?? []
            #expect(Set(hops.compactMap { $0["dev"] as? String }) == Set(expected.nexthops.map(\.interface)))
            #expect(Set(hops.compactMap { $0["gateway"] as? String }) == Set(expected.nexthops.map { "\($0.via)" }))
            // Every multipath route of the plan is installed as one.
            var multipath = 0
            for n in plan.nodes where n.isRouter {
                let shown = try lab.exec(n.name, ["ip", "-6", "route", "show"]).stdout
                multipath += shown.components(separatedBy: "\n").filter { $0.contains("nexthop via") }.count
            }
            #expect(multipath == plan.nodes.filter(\.isRouter).flatMap(\.routes).filter { $0.nexthops.count > 1 }.reduce(0) { $0 + $1.nexthops.count })
            let r = try TestbedForwardingTests.ping(lab, from: "h0-0-0", to: lab.address(of: "h3-1-1")!, count: 3)
            #expect(r.status == 0, "cross-pod ping: \(r.stdout)\(r.stderr)")
        }
    }
}
