import Foundation
import Testing
import SRv6Paths
@testable import SubflowSteering
@testable import NetworkLab
import LinuxSystem
import TestSupport
@testable import srte_delay_bridge

/// Two hosts on one shaped, delayed link: a lab that needs no SRv6 in the kernel.
func pairTopology(delay: String = "5ms", bandwidth: String = "50Mbit") throws -> Topology {
    try Topology(yaml: """
        name: pair
        nodes:
          h1: { kind: host, address: "fc00:1::1" }
          h2: { kind: host, address: "fc00:2::2" }
        links:
          - { endpoints: [h1, h2], bandwidth: \(bandwidth), delay: \(delay) }
        """)
}

/// The pids of running delay bridges whose namespace argument starts with `prefix`.
func bridgeProcesses(_ prefix: String) -> [Int32] { delayBridgeProcesses(prefix: prefix) }

/// The namespaces of a lab that exist: nodes (`LAB-…`) and links (`LAB+…`).
func labNamespaces(_ lab: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: NetworkNamespace.directory)) ?? [])
        .filter { $0.hasPrefix(lab + "-") || $0.hasPrefix(lab + "+") }
}

/// The minimum RTT `ping` reports, in milliseconds.
func minimumRTT(_ output: String) -> Double? {
    // rtt min/avg/max/mdev = 10.181/14.319/30.651/8.166 ms
    guard let line = output.split(separator: "\n").first(where: { $0.contains("min/avg/max") }),
          let values = line.split(separator: "=").last else { return nil }
    return Double(values.trimmingCharacters(in: .whitespaces).split(separator: "/")[0])
}

@Suite struct DelayPlanTests {
    @Test func linkNamespacesAndVeths() throws {
        let plan = try TestbedPlan(topology: try bundledTopology("diamond.yaml"), lab: "d")
        #expect(plan.delayedLinks.count == 8, "every diamond link has a delay (1 ms by default)")
        #expect(plan.linkNamespace(of: plan.links[2]) == "d+L2")
        #expect(Set(plan.links.map { plan.linkNamespace(of: $0) }).isDisjoint(with: plan.namespaces))
        let bridged = plan.vethCommands(bridged: [2])
        #expect(bridged.count == 9, "the bridged link has two veth pairs")
        #expect(bridged.contains("link add name b netns d-r1 type veth peer name porta netns d+L2"))
        #expect(bridged.contains("link add name r1 netns d-b type veth peer name portb netns d+L2"))
        #expect(bridged.contains("link add name a netns d-r1 type veth peer name r1 netns d-a"))
        #expect(plan.vethCommands(bridged: []) == plan.vethCommands())
        #expect(plan.linkNamespaceCommands(for: plan.links[2]) == ["link set dev lo up", "link set dev porta up alias r1", "link set dev portb up alias b"])
        #expect(Dictionary(uniqueKeysWithValues: plan.linkNamespaceSysctls())["net/ipv6/conf/default/disable_ipv6"] == "1")
        #expect(plan.bridgeArguments(for: plan.links[2]) == ["--netns", "d+L2", "--delay-us", "3000", "--port-a", "porta", "--port-b", "portb", "--queue-bytes", "\(4 << 20)"])
        // Bridged links keep tbf on the nodes' ends and get no netem.
        #expect(plan.qdiscCommands(for: plan.node("r1")!, emulateDelay: false).allSatisfy { !$0.contains("netem") })
    }

    @Test func queueBoundFollowsTheBandwidthDelayProduct() throws {
        var l = try TestbedPlan(topology: try bundledTopology("diamond.yaml")).links[1]
        #expect(TestbedPlan.bridgeQueueBytes(for: l) == 4 << 20, "50 Mbit/s × 2 ms is small: the floor")
        l.bandwidth = 10_000_000_000
        l.delay = 10_000
        #expect(TestbedPlan.bridgeQueueBytes(for: l) == 25_000_000, "2 × 10 Gbit/s × 10 ms")
        l.bandwidth = nil
        l.delay = 1_000_000
        #expect(TestbedPlan.bridgeQueueBytes(for: l) == 64 << 20, "the ceiling")
    }

    @Test(arguments: [
        (DelayMode.auto, false, DelayMode.bridge), (.auto, true, .netem), (.bridge, false, .bridge), (.bridge, true, .bridge),
        (.off, false, .off), (.off, true, .off), (.netem, true, .netem),
    ])
    func resolution(requested: DelayMode, netem: Bool, expected: DelayMode) throws {
        let plan = try TestbedPlan(topology: try bundledTopology("diamond.yaml"))
        let r = try plan.resolveDelay(requested, netemAvailable: netem)
        #expect(r.mode == expected)
        #expect((r.note != nil) == (expected == .off))
        #expect(plan.bridgedLinks(r.mode).count == (expected == .bridge ? 8 : 0))
    }

    @Test func netemWithoutTheQdiscIsRefusedAndLargeLabsStayUndelayedOnAuto() throws {
        let plan = try TestbedPlan(topology: try bundledTopology("diamond.yaml"))
        #expect(throws: TestbedError.self) { try plan.resolveDelay(.netem, netemAvailable: false, netemError: "unknown") }
        let level3 = try TestbedPlan(topology: try bundledTopology("level3.yaml"))
        let r = try level3.resolveDelay(.auto, netemAvailable: false)
        #expect(r.mode == .off && r.note!.contains("--delay bridge"))
        #expect(try level3.resolveDelay(.bridge, netemAvailable: false).mode == .bridge)
        #expect(try level3.resolveDelay(.auto, netemAvailable: true).mode == .netem)
        // A plan without delays (files always give one, default 1 ms) needs no bridge.
        var undelayed = try TestbedPlan(topology: try pairTopology())
        undelayed.links[0].delay = 0
        #expect(undelayed.bridgedLinks(.bridge).isEmpty)
        #expect(try undelayed.resolveDelay(.off, netemAvailable: false).note == nil)
    }

    @Test func stateRoundTripsBridges() throws {
        let plan = try TestbedPlan(topology: try pairTopology(), lab: testLabName("json"))
        var s = TestbedState(lab: plan.lab, phase: .up, pid: 1, created: 0, topologyFile: nil, namespaces: plan.namespaces,
                             pendingNamespace: nil, delayEmulated: true, mptcpPathManager: .userspace, notes: [], plan: plan)
        s.delayMode = .bridge
        s.linkNamespaces = ["\(plan.lab)+L0"]
        s.bridges = [TestbedState.Bridge(link: 0, namespace: "\(plan.lab)+L0", pid: 4242, startTime: 17)]
        try s.create()
        defer { s.remove() }
        let back = try TestbedState.load(plan.lab)
        #expect(back.delayMode == .bridge && back.linkNamespaces == s.linkNamespaces && back.bridges == s.bridges)
    }
}

@Suite struct DelayQueueTests {
    @Test func fifoWithWrapAround() {
        let q = DelayQueue(bytes: 1000, frames: 16, frameRoom: 300)
        var expected: [(UInt8, Int)] = []
        var next: UInt8 = 0
        // Fill, drain partly, refill: the byte ring wraps many times.
        for round in 0..<200 {
            while let p = q.reserve() {
                let len = 1 + (Int(next) * 37 + round) % 300
                p.initializeMemory(as: UInt8.self, repeating: next, count: len)
                q.commit(length: len, due: UInt64(expected.count))
                expected.append((next, len))
                next &+= 1
            }
            #expect(q.count > 0 && q.count <= 16)
            for _ in 0..<(1 + round % q.count) {
                let (p, len) = q.front
                let (tag, want) = expected.removeFirst()
                #expect(len == want)
                let bytes = UnsafeRawBufferPointer(start: p, count: len)
                #expect(bytes.allSatisfy { $0 == tag }, "frame \(tag) intact")
                q.pop()
            }
        }
    }

    @Test func boundedByFramesAndBytes() {
        let byFrames = DelayQueue(bytes: 1 << 20, frames: 4, frameRoom: 100)
        for i in 0..<4 { #expect(byFrames.reserve() != nil); byFrames.commit(length: 10, due: UInt64(i)) }
        #expect(byFrames.reserve() == nil, "4 frames")
        #expect(byFrames.nextDue == 0)
        byFrames.pop()
        #expect(byFrames.reserve() != nil && byFrames.nextDue == 1)

        let byBytes = DelayQueue(bytes: 300, frames: 100, frameRoom: 100)
        var n = 0
        while byBytes.reserve() != nil { byBytes.commit(length: 100, due: 0); n += 1 }
        #expect(n == 3)
        byBytes.pop()
        #expect(byBytes.reserve() != nil, "the freed space at the start is reused")
    }
}

/// Bridges in real labs: two hosts on one delayed link (no SRv6 needed), so they run on any
/// kernel with veth and tbf. Labs are created and always deleted by the tests.
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates network namespaces"), .timeLimit(.minutes(2)))
struct DelayBridgeLabTests {
    @Test func pairRoundTripIsTwiceTheDelayAndTCPFlows() throws {
        let plan = try TestbedPlan(topology: try pairTopology(delay: "5ms"), lab: testLabName("br"))
        sweepStaleTestLabs()
        let lab = try Testbed.up(plan: plan, options: .init(delay: .bridge))
        do {
            defer { _ = try? lab.down() }
            #expect(lab.delayMode == .bridge && lab.delayEmulated)
            #expect(lab.state.linkNamespaces == ["\(plan.lab)+L0"])
            #expect(lab.state.bridges.count == 1 && TestbedState.isRunning(lab.state.bridges[0]))
            #expect(bridgeProcesses(plan.lab + "+") == lab.state.bridges.map(\.pid))
            let h2 = lab.address(of: "h2")!
            let r = try lab.exec("h1", ["ping", "-n", "-q", "-c", "10", "-i", "0.05", "-W", "2", "\(h2)"])
            #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
            let rtt = try #require(minimumRTT(r.stdout))
            #expect(rtt >= 10 && rtt <= 11.5, "RTT \(rtt) ms over a 5 ms link")
            // TCP (partial checksums, GSO) crosses the bridge intact, at the tbf's rate.
            let flow = FourTuple(local: lab.address(of: "h1")!, localPort: 41000, remote: h2, remotePort: 5201)
            let size = 1 << 20
            let got = try TestbedForwardingTests.tcpTransfer(lab, client: "h1", server: "h2", flow: flow, bytes: size)
            #expect(got == size)
            // The link counters still see both directions on the nodes' ends.
            let c = try lab.linkCounters()[0]
            #expect(c.endA!.txBytes > UInt64(size) && c.endB!.txPackets > 100)
            // The bridge's own counters (its stats file, rewritten once a second while they
            // change): it forwarded what the ends sent, both ways, and lost nothing at this rate.
            Thread.sleep(forTimeInterval: 1.2)
            let b = try #require(try lab.linkCounters()[0].bridge, "no counters in \(Testbed.bridgeStatsPath(lab: plan.lab, link: 0))")
            #expect(b.forwarded.count == 2 && b.forwarded[0] >= c.endA!.txPackets / 2 && b.forwarded[1] > 100, "\(b) vs \(c)")
            #expect(b.lost == 0, "\(b)")
        }
        #expect(!FileManager.default.fileExists(atPath: Testbed.bridgeStatsPath(lab: plan.lab, link: 0)), "down left the bridge's stats file")
        #expect(labNamespaces(plan.lab).isEmpty, "left: \(labNamespaces(plan.lab))")
        #expect(bridgeProcesses(plan.lab + "+").isEmpty, "a bridge survived down")
        #expect(!Testbed.labs().contains(plan.lab))
    }

    /// A link taken down and up again: the bridge keeps running and forwards again.
    @Test func bridgeSurvivesLinkDownAndUp() throws {
        let plan = try TestbedPlan(topology: try pairTopology(delay: "1ms"), lab: testLabName("bl"))
        try withLab(plan) { lab in
            #expect(lab.delayMode == .bridge, "auto picks bridges on this kernel")
            try lab.setLinks(between: "h1", and: "h2", up: false)
            let h2 = lab.address(of: "h2")!
            #expect(try lab.exec("h1", ["ping", "-c", "1", "-W", "1", "\(h2)"]).status != 0)
            try lab.setLinks(between: "h1", and: "h2", up: true)
            let r = try lab.exec("h1", ["ping", "-n", "-c", "3", "-i", "0.1", "-W", "2", "\(h2)"])
            #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
            #expect(lab.state.bridges.allSatisfy { TestbedState.isRunning($0) })
        }
        #expect(bridgeProcesses(plan.lab + "+").isEmpty)
    }

    /// `up` fails after its bridges started (tc rejects a rate of 0): the bridges and the
    /// link namespaces are removed with everything else.
    @Test func failedUpStopsItsBridges() throws {
        sweepStaleTestLabs()
        var plan = try TestbedPlan(topology: try pairTopology(), lab: testLabName("bf"))
        plan.links[0].bandwidth = 0
        do {
            let lab = try Testbed.up(plan: plan, options: .init(delay: .bridge))
            _ = try? lab.down()
            Issue.record("up succeeded with a zero rate")
        } catch {
            #expect(error.kind == .system)
            #expect(error.message.contains("tc in"), "\(error.message)")
        }
        #expect(labNamespaces(plan.lab).isEmpty, "left: \(labNamespaces(plan.lab))")
        #expect(bridgeProcesses(plan.lab + "+").isEmpty)
        #expect(!Testbed.labs().contains(plan.lab))
    }

    /// An `up` killed between starting a bridge and recording it: `down` finds the process
    /// by its namespace and stops it.
    @Test func downStopsAnUnrecordedBridge() throws {
        sweepStaleTestLabs()
        let plan = try TestbedPlan(topology: try pairTopology(), lab: testLabName("bu"))
        let linkNS = plan.linkNamespace(of: plan.links[0])
        var state = TestbedState(lab: plan.lab, phase: .creating, pid: 999_999_999, created: 0, topologyFile: nil,
                                 namespaces: plan.namespaces, pendingNamespace: nil, delayEmulated: true,
                                 mptcpPathManager: .userspace, notes: [], plan: plan)
        state.linkNamespaces = [linkNS]
        try state.create()
        for ns in plan.namespaces + [linkNS] { try Subprocess.check(["ip", "netns", "add", ns]) }
        defer { for ns in labNamespaces(plan.lab) { _ = try? Subprocess.run(["ip", "netns", "del", ns]) } }
        try Subprocess.check(["ip", "-batch", "-"], stdin: plan.vethCommands(bridged: [0]).joined(separator: "\n") + "\n")
        try Subprocess.check(["ip", "-n", linkNS, "-batch", "-"], stdin: plan.linkNamespaceCommands(for: plan.links[0]).joined(separator: "\n") + "\n")
        let exe = try Testbed.bridgeExecutable()
        let (pid, fd) = try DelayBridgeProcess.spawn([exe] + plan.bridgeArguments(for: plan.links[0]) + ["--ready-fd", "3"])
        defer { close(fd) }
        #expect(DelayBridgeProcess.awaitReady(fd, deadline: monotonicNanoseconds() + 10_000_000_000) == "ready")
        #expect(DelayBridgeProcess.processes(in: linkNS) == [pid])
        let removed = try Testbed.down(plan.lab)
        #expect(Set(removed) == Set(plan.namespaces))
        #expect(!DelayBridgeProcess.isRunning(pid))
        #expect(labNamespaces(plan.lab).isEmpty)
    }

    /// A bridge that cannot open its ports says why, and `up` reports it.
    @Test func bridgeWithoutPortsReportsTheError() throws {
        let exe = try Testbed.bridgeExecutable()
        let (pid, fd) = try DelayBridgeProcess.spawn([exe, "--delay-us", "1000", "--port-a", "nosuchport0", "--ready-fd", "3"])
        defer { close(fd) }
        let answer = DelayBridgeProcess.awaitReady(fd, deadline: monotonicNanoseconds() + 10_000_000_000)
        #expect(answer.contains("nosuchport0") && answer.hasPrefix("error"), "\(answer)")
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }
}

/// The diamond with bridges: the round trip along each engineered path is twice the sum of
/// its links' one-way delays (h1–r1 and r2–h2 1 ms, via a 2 + 2 ms, via b 3 + 3, via c 4 + 4:
/// 12, 16 and 20 ms).
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates network namespaces"), .timeLimit(.minutes(3)))
struct DiamondDelayTests {
    /// Accepts `rtt` (ms) for `expected` (ms): not below it, at most 15% above.
    static func withinTolerance(_ rtt: Double, _ expected: Double) -> Bool {
        rtt >= expected - 0.05 && rtt <= expected * 1.15
    }

    @Test func roundTripsFollowThePathDelays() throws {
        let topo = try bundledTopology("diamond.yaml")
        let plan = try TestbedPlan(topology: topo, lab: testLabName("dly"))
        try withLab(plan) { lab in
            #expect(lab.delayMode == .bridge && lab.state.bridges.count == 8)
            let h1 = lab.address(of: "h1")!, h2 = lab.address(of: "h2")!
            // The IGP path (via a): ping.
            let p = try lab.exec("h1", ["ping", "-n", "-q", "-c", "20", "-i", "0.05", "-W", "2", "\(h2)"])
            #expect(p.status == 0, "\(p.stdout)\(p.stderr)")
            let igp = try #require(minimumRTT(p.stdout))
            #expect(Self.withinTolerance(igp, 12), "IGP path RTT \(igp) ms, expected 12 ms")

            // Each engineered path, both ways: a UDP datagram h1 → h2 with the SRH [X, h2] and
            // the answer h2 → h1 with [X, h1] (X = the middle router's node SID).
            var port: UInt16 = 7100
            for (middle, expected) in [("a", 12.0), ("b", 16.0), ("c", 20.0)] {
                let sid = topo.nodeSID(of: middle)!
                port += 1
                let p = port
                let atH2 = try lab.run(in: "h2") { try UDPReceiver(port: p) }
                defer { atH2.close() }
                let atH1 = try lab.run(in: "h1") { try UDPReceiver(port: p) }
                defer { atH1.close() }
                let out = try RawIPv6.udpPacket(source: h1, srh: try SegmentRoutingHeader(path: [sid, h2], nextHeader: 17),
                                                destinationPort: p, payload: Array("ping".utf8))
                let back = try RawIPv6.udpPacket(source: h2, srh: try SegmentRoutingHeader(path: [sid, h1], nextHeader: 17),
                                                 destinationPort: p, payload: Array("pong".utf8))
                var samples: [Double] = []
                for _ in 0..<10 {
                    let start = monotonicNanoseconds()
                    try lab.run(in: "h1") { try RawIPv6.send(out, to: sid) }
                    guard atH2.receive(timeout: 1.0) != nil else { continue }
                    try lab.run(in: "h2") { try RawIPv6.send(back, to: sid) }
                    guard atH1.receive(timeout: 1.0) != nil else { continue }
                    samples.append(Double(monotonicNanoseconds() - start) / 1e6)
                    usleep(20_000)
                }
                let rtt = try #require(samples.min(), "no answer via \(middle)")
                #expect(samples.count >= 8, "via \(middle): \(samples.count) of 10 round trips")
                #expect(Self.withinTolerance(rtt, expected), "via \(middle): RTT \(rtt) ms, expected \(expected) ms")
            }
        }
        #expect(labNamespaces(plan.lab).isEmpty, "left: \(labNamespaces(plan.lab))")
        #expect(bridgeProcesses(plan.lab + "+").isEmpty, "a bridge survived down")
    }

    /// A short experiment through the bridges: engineered paths still carry their share,
    /// every byte arrives, and nothing is left afterwards.
    @Test func experimentWithBridges() throws {
        var e = Experiment(topology: try bundledTopology("diamond.yaml"))
        e.seconds = 3
        e.delay = .bridge
        e.lab = "xd\(getpid() % 10000)"
        let r = try e.run()
        #expect(r.delay == "bridge")
        #expect(r.notes.contains { $0.contains("8 userspace delay bridges") }, "\(r.notes)")
        #expect(r.paths.count == 3)
        // A real share of each 50 Mbit/s bottleneck; one subflow may lag for a second in 3 s (see ExperimentTests).
        for p in r.paths { #expect(p.mbps > 20 && p.mbps < 52, "\(p.hops): \(p.mbps) Mbit/s") }
        #expect(r.aggregateMbps > 2 * r.unsteeredMbps, "engineered \(r.aggregateMbps), unsteered \(r.unsteeredMbps)")
        #expect(r.verified)
        #expect(labNamespaces(e.lab!).isEmpty, "left: \(labNamespaces(e.lab!))")
        #expect(bridgeProcesses(e.lab! + "+").isEmpty)
    }
}
