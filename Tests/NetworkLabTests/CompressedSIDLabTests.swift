import Foundation
import Testing
import SRv6Paths
@testable import SubflowSteering
@testable import NetworkLab
import LinuxSystem
import TestSupport


/// Packets with compressed segment lists (RFC 9800 NEXT-C-SID containers), in full and reduced
/// SRHs (RFC 8754 §4.1.1), through the testbed's BPF routers: each visits exactly its path,
/// counted per SID by the routers, and a capture of them decodes as well-formed SRv6 in tshark.
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates network namespaces"))
struct CompressedSIDLabTests {
    @Test func planInstallsCSIDsExceptOnPlainRouters() throws {
        let topo = try Topology(yaml: diamondCSIDYAML)
        let plan = try TestbedPlan(topology: topo, lab: "x")
        let r1 = plan.node("r1")!
        #expect(r1.csid == TestbedPlan.CSIDLengths(block: 32, csid: 16))
        #expect(r1.sids.filter(\.isNextCSID).map(\.address) == [IPv6Address("fc00:0:1::")!] + (1...4).map { IPv6Address("fc00:0:\(String(0xe000 + $0, radix: 16))::")! })
        #expect(r1.sids.filter { $0.isNextCSID && $0.behavior == "End.X" }.allSatisfy { $0.local == true })
        #expect(plan.node("b")!.csid == nil && !plan.node("b")!.sids.contains(where: \.isNextCSID))
        #expect(plan.node("h1")!.sids.isEmpty)
        // With seg6local: one next-csid route per C-SID for block + C-SID (/48), End on the SID
        // device, End.X C-SIDs out of their link; b, without C-SIDs, gets none.
        let lines = plan.routeCommands(for: r1)
        let xb = try #require(r1.sids.first { $0.isNextCSID && $0.neighbour == "b" })
        #expect(lines.contains("route replace fc00:0:1::/48 encap seg6local action End flavors next-csid lblen 32 nflen 16 count dev \(TestbedPlan.sidDevice)"), "\(lines)")
        #expect(lines.contains("route replace \(xb.address)/48 encap seg6local action End.X nh6 \(xb.nexthop!) flavors next-csid lblen 32 nflen 16 count dev \(xb.interface)"), "\(lines)")
        #expect(!plan.routeCommands(for: plan.node("b")!).contains { $0.contains("next-csid") })
        #expect(!plan.routeCommands(for: r1, seg6local: false).contains { $0.contains("seg6local") })
    }

    /// The same packets whether the routers' C-SIDs are srte's BPF program or the kernel's
    /// seg6local `flavors next-csid` routes (skipped where the kernel has none).
    @Test(arguments: [Testbed.RouterSIDs.bpf, .seg6local])
    func containersVisitExactlyTheirPath(sids: Testbed.RouterSIDs) throws {
        let topo = try Topology(yaml: diamondCSIDYAML)
        let plan = try TestbedPlan(topology: topo, lab: testLabName(sids == .bpf ? "csid" : "csil"))
        if sids == .seg6local, let problem = Testbed.nextCSIDProblemOnThisKernel() {
            try Test.cancel("needs CONFIG_IPV6_SEG6_LWTUNNEL with the next-csid flavor: \(problem)")
        }
        try withLab(plan, options: Testbed.UpOptions(routerSIDs: sids)) { lab in
            #expect(lab.state.routerSIDs == sids)
            let h1 = lab.address(of: "h1")!, h2 = lab.address(of: "h2")!
            let x = { (a: String, b: String) in topo.adjacencySID(from: a, to: b)! }
            let node = { (n: String) in topo.nodeSID(of: n)! }
            var port: UInt16 = 7000
            let count = 20
            let capture = FileManager.default.temporaryDirectory.appendingPathComponent("srte-csid-\(getpid()).pcapng").path
            defer { unlink(capture) }

            /// Sends `count` datagrams along `segments` (planner SIDs), compressed, in a full or a
            /// reduced SRH; returns how many arrived, the per-SID packet deltas and the link deltas.
            func send(_ segments: [IPv6Address], reduced: Bool) throws -> (Int, [String: UInt64], Deltas, [CompressedSegment]) {
                port += 1
                let p = port
                let list = topo.compressed(segments + [h2])
                let wire: [UInt8], da: IPv6Address
                if reduced {
                    let r = try ReducedSegmentRoutingHeader(path: list.segments, nextHeader: 17)
                    (wire, da) = (try r.encoded(), r.destination)
                } else {
                    let s = try SegmentRoutingHeader(path: list.segments, nextHeader: 17)
                    (wire, da) = (try s.encoded(), s.activeSegment!)
                }
                let rx = try lab.run(in: "h2") { try UDPReceiver(port: p) }
                defer { rx.close() }
                let sidsBefore = try lab.sidCounters(), linksBefore = try lab.linkCounters()
                for i in 0..<count {
                    let packet = RawIPv6.udpPacket(source: h1, destination: da, srh: wire, final: h2, destinationPort: p,
                                                   payload: Array("csid \(i)".utf8))
                    try lab.run(in: "h1") { try RawIPv6.send(packet, to: da) }
                    usleep(2_000)
                }
                var got = 0
                while got < count, rx.receive(timeout: 1.0) != nil { got += 1 }
                let sidsAfter = try lab.sidCounters()
                var delta: [String: UInt64] = [:]
                for (b, a) in zip(sidsBefore, sidsAfter) where a.packets > b.packets {
                    delta["\(a.node) \(a.sid)"] = a.packets - b.packets
                }
                return (got, delta, Deltas(linksBefore, try lab.linkCounters()), list.entries)
            }
            let link = { (a: String, b: String) in plan.links(between: a, and: b)[0].index }
            let n = UInt64(count)

            for reduced in [false, true] {
                // One container: r1 End, r1 End.X → c, c End, c End.X → r1, a End (last C-SID: SRH).
                let (got, sids, links, entries) = try send([x("r1", "c"), x("c", "r1"), node("a")], reduced: reduced)
                #expect(entries.count == 2, "one container and the destination: \(entries)")
                #expect(got == count, "reduced \(reduced): \(got) of \(count) arrived")
                let xr1c = try topo.csid!.format.sid(csid: topo.adjacencyCSID(link: link("r1", "c"), from: topo.index(of: "r1")!)!)
                let xcr1 = try topo.csid!.format.sid(csid: topo.adjacencyCSID(link: link("r1", "c"), from: topo.index(of: "c")!)!)
                let want: [String: UInt64] = ["r1 fc00:0:1::": n, "r1 \(xr1c)": n, "c fc00:0:c::": n, "c \(xcr1)": n, "a fc00:0:a::": n]
                #expect(sids == want, "reduced \(reduced): SIDs that processed packets")
                #expect(links.aToB[link("r1", "c")]! >= n && links.bToA[link("r1", "c")]! >= n && links.aToB[link("r1", "a")]! >= n)
                #expect(links.aToB[link("r1", "b")]! < 3 && links.aToB[link("c", "r2")]! < 3)
            }

            // Two containers: the first ends on an End.X C-SID (SRH processing there), and r1
            // and c are visited twice: [1 X c X 1 X] [c X a] h2.
            for reduced in [false, true] {
                let (got, sids, _, entries) = try send([x("r1", "c"), x("c", "r1"), x("r1", "c"), x("c", "r1"), node("a")], reduced: reduced)
                #expect(entries.count == 3, "\(entries)")
                #expect(got == count, "two containers, reduced \(reduced): \(got) of \(count)")
                #expect(sids["r1 fc00:0:1::"] == 2 * n && sids["c fc00:0:c::"] == 2 * n && sids["a fc00:0:a::"] == n)
                #expect(sids.count == 5 && sids.values.reduce(0, +) == 9 * n, "\(sids)")
            }

            // b has plain End only: its node SID stays whole and it is processed by exact match.
            let (got, sids, _, entries) = try send([node("b")], reduced: false)
            #expect(entries.first == .sid(node("b")) && got == count)
            #expect(sids == ["b \(node("b"))": n], "\(sids)")

            // An address of a's inside its End C-SID's prefix (fc00:0:a::2 on lo, as `srte
            // experiment` gives router endpoints) is no container: plain datagrams reach it.
            _ = try lab.exec("a", ["ip", "-6", "addr", "add", "fc00:0:a::2/128", "dev", "lo", "nodad"])
            let rx = try lab.run(in: "a") { try UDPReceiver(port: 7100) }
            defer { rx.close() }
            try lab.run(in: "h1") {
                let fd = socket(AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
                defer { close(fd) }
                var sa = sockaddr_in6()
                sa.sin6_family = sa_family_t(AF_INET6)
                sa.sin6_port = UInt16(7100).bigEndian
                withUnsafeMutableBytes(of: &sa.sin6_addr) { $0.copyBytes(from: IPv6Address("fc00:0:a::2")!.bytes) }
                for _ in 0..<3 {
                    _ = withUnsafePointer(to: &sa) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, "hi", 2, 0, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
                    }
                }
            }
            #expect(rx.receive(timeout: 2) != nil, "a datagram to fc00:0:a::2 reached a")

            // tshark decodes a capture of them (on h1's link: container DA, full and reduced) as SRv6.
            guard access("/usr/bin/dumpcap", X_OK) == 0, access("/usr/bin/tshark", X_OK) == 0 else { return }
            let ifc = plan.node("h1")!.interfaces[0].name
            let dump = Process()
            dump.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            dump.arguments = ["netns", "exec", plan.node("h1")!.namespace, "/usr/bin/dumpcap", "-q", "-i", ifc, "-f", "ip6 proto 43",
                              "-c", "\(2 * count)", "-a", "duration:20", "-w", capture]
            dump.standardOutput = FileHandle.nullDevice
            dump.standardError = FileHandle.nullDevice
            try dump.run()
            defer { if dump.isRunning { dump.terminate() }; dump.waitUntilExit() }
            Thread.sleep(forTimeInterval: 1.5)
            _ = try send([x("r1", "c"), x("c", "r1"), node("a")], reduced: false)
            let (_, _, _, sent) = try send([x("r1", "c"), x("c", "r1"), node("a")], reduced: true)
            let container = sent[0].sid
            dump.waitUntilExit()
            let fields = try Subprocess.check(["tshark", "-r", capture, "-T", "fields", "-E", "separator=|",
                                               "-e", "ipv6.dst", "-e", "ipv6.routing.segleft", "-e", "ipv6.routing.srh.last_entry",
                                               "-e", "ipv6.routing.srh.addr", "-e", "udp.dstport"])
            // Per packet: Destination Address, Segments Left, Last Entry, Segment List, UDP port.
            let rows = fields.split(separator: "\n").map { $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init) }
            #expect(rows.count == 2 * count, "captured \(rows.count) packets: \(rows.prefix(3))")
            let parsed = rows.filter { $0.count == 5 }.map { r in
                (IPv6Address(r[0]), Int(r[1]), Int(r[2]), r[3].split(separator: ",").map { IPv6Address(String($0)) })
            }
            let full = parsed.filter { $0.0 == container && $0.1 == 1 && $0.2 == 1 && $0.3 == [h2, container] }
            let reducedRows = parsed.filter { $0.0 == container && $0.1 == 1 && $0.2 == 0 && $0.3 == [h2] }
            #expect(full.count == count, "full SRH (SL 1, LE 1, [h2, container]): \(rows.first ?? [])")
            #expect(reducedRows.count == count, "reduced SRH (SL 1 = LE + 1, [h2]): \(rows.last ?? [])")
            let expert = try Subprocess.check(["tshark", "-r", capture, "-q", "-z", "expert,warn"])
            #expect(!expert.contains("Malformed") && !expert.contains("Errors") && !expert.contains("Warns"), "tshark expert info:\n\(expert)")
        }
    }

    /// `srte experiment` with reduced compressed lists: the diamond's lab gets C-SIDs (F3216 from
    /// its locators), the subflows via b and c carry one container each as Destination Address
    /// and a 24-byte SRH, and every byte arrives, over the planned links.
    @Test(.timeLimit(.minutes(2))) func experimentOverReducedContainers() throws {
        var e = Experiment(topology: try bundledTopology("diamond.yaml"))
        e.seconds = 3
        e.steering = .bpf
        e.compression = .reduced
        e.delay = .off
        e.lab = "xc\(getpid() % 10000)"
        let r = try e.run()
        #expect(r.compression == "reduced")
        #expect(r.srhBytes == [0, 24, 24])
        #expect(r.paths.map(\.segments) == [["fc00:2::2"], ["fc00:0:b::", "fc00:2::2"], ["fc00:0:c::", "fc00:2::2"]])
        #expect(r.verified)
        // Each path carried a real share (rates are not the point here: a debug build, a shared machine).
        for p in r.paths { #expect(p.mbps > 10 && p.mbps < 52, "\(p.hops): \(p.mbps) Mbit/s") }
        let middle = r.links.filter { ["a", "b", "c"].contains($0.b) && $0.a == "r1" }
        #expect(middle.count == 3, "\(r.links)")
        for l in middle { #expect(l.bytesAToB > 5_000_000, "\(l)") }
        // 24-byte SRHs: 1380 payload bytes in 1514-byte frames via b and c, 1380 of 1490 via a.
        let ceiling = try #require(r.payloadCeilingMbps)
        #expect(abs(ceiling - 50.0 * (1380.0 / 1490 + 2 * 1380.0 / 1514)) < 0.1, "ceiling \(ceiling)")
        #expect(r.aggregateMbps <= ceiling + 1)
        #expect(!NetworkNamespace.exists("\(e.lab!)-h1"))
    }

    /// The same on the fat tree (20 routers, 16 hosts), two pods apart, with containers in full SRHs.
    @Test(.timeLimit(.minutes(3))) func experimentOverFullContainersOnTheFatTree() throws {
        var e = Experiment(topology: try bundledTopology("fattree.yaml"))
        e.seconds = 3
        e.steering = .bpf
        e.compression = .full
        e.delay = .off
        e.k = 2
        let hosts = e.topology.nodes.filter { $0.kind == .host }.map(\.name)
        e.from = hosts.first
        e.to = hosts.last
        e.lab = "xf\(getpid() % 10000)"
        let r = try e.run()
        #expect(r.compression == "full")
        #expect(r.verified && r.engineeredBytes > 1_000_000)
        #expect(r.k == 2)
        for (p, b) in zip(r.paths, r.srhBytes ?? []) where p.segments.count > 1 {
            #expect(b == 8 + 16 * p.segments.count, "\(p.segments)")
            #expect(p.segments.dropLast().allSatisfy { $0.hasPrefix("fc00:0:") && $0.hasSuffix("::") }, "containers: \(p.segments)")
        }
        #expect(r.paths.allSatisfy { $0.mbps > 1 }, "\(r.paths.map(\.mbps))")
    }
}
