import Foundation
import Testing
import SRv6Paths
@testable import SubflowSteering
import LinuxSystem
import TestSupport

/// Connect-time steering: the SYN of a connection srte does not control already carries the
/// rule's SRH. Proof: r1 has no route to h2's prefix any more, so a connection only gets through
/// if every packet, the SYN included, carries an SRH naming b (or a).
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates network namespaces and loads BPF"))
struct ConnectSteeringTests {
    @Test func theSYNCarriesTheRulesSRHAndTheEntryGoesAtClose() throws {
        let t = try TwoPathLab("cst")
        defer { t.lab.destroy() }
        try t.lab.exec("r1", ["ip", "-6", "route", "del", "fc00:20::/64"])
        let flow = { (port: UInt16, dport: UInt16) in FourTuple(local: t.h1, localPort: port, remote: t.h2, remotePort: dport) }

        // Without steering nothing gets through r1.
        #expect(throws: (any Error).self) { try TCPTransfer.run(lab: t.lab, clientNode: "h1", serverNode: "h2", flow: flow(41001, 5201), bytes: 1000, seconds: 3) }

        let steering = try NetworkNamespace.run(in: t.lab.ns("h1")) { try BPFSteering(interface: "h1-r1") }
        defer { steering.removeAll() }
        let onConnect = try NetworkNamespace.run(in: t.lab.ns("h1")) { try ConnectSteering(steering: steering) }
        defer { onConnect.close() }
        try onConnect.setRules([.init(destination: try IPv6Prefix(parsing: "fc00:20::/64"), ports: 5201...5203, waypoints: [t.sidB])])

        // A plain TCP connection to port 5201 (the rule covers 5201-5203): steered via b from its SYN on.
        let size = 2_000_000
        var received = 0
        let bytes = try t.forwardBytes {
            received = try TCPTransfer.run(lab: t.lab, clientNode: "h1", serverNode: "h2", flow: flow(41002, 5201), bytes: size)
        }
        #expect(received == size)
        #expect(bytes.viaB >= size && bytes.viaA < 100_000, "\(bytes)")
        #expect(onConnect.counters().steered == 1)

        // The entry goes when the socket closes (TIME_WAIT keeps no entry).
        let clock = ContinuousClock(), deadline = clock.now + .seconds(1)
        while onConnect.counters().removed < 1 && clock.now < deadline { Thread.sleep(forTimeInterval: 0.02) }
        #expect(onConnect.counters().removed == 1)

        // An MPTCP connection's initial subflow too (the hook runs in tcp_connect() of the subflow).
        let sink = try NetworkNamespace.run(in: t.lab.ns("h2")) { try MPTCPSink(listen: SocketEndpoint(.unspecified, port: 5203)) }
        let result = SinkResult.serving(sink, timeout: .seconds(20))
        let mptcp = try NetworkNamespace.run(in: t.lab.ns("h1")) { try MPTCPSocket() }
        try mptcp.connect(to: SocketEndpoint(t.h2, port: 5203), timeout: .seconds(5))
        _ = try mptcp.send(Array(repeating: 7, count: 100_000))
        try mptcp.shutdownWrite()
        #expect(result.finished(within: 20))
        let report = try #require(try result.get())
        #expect(report.bytes == 100_000 && report.multipath, "\(report)")
        #expect(onConnect.counters().steered == 2)

        // Another port is not covered by the rule: no SRH, no way through r1.
        #expect(throws: (any Error).self) { try TCPTransfer.run(lab: t.lab, clientNode: "h1", serverNode: "h2", flow: flow(41003, 5204), bytes: 1000, seconds: 3) }
        #expect(onConnect.counters().steered == 2)

        // A flow srte steered itself keeps its own SRH (via a).
        try steering.steer(flow(41004, 5201), along: try SegmentRoutingHeader(path: [t.sidA, t.h2], nextHeader: 6))
        let viaA = try t.forwardBytes {
            received = try TCPTransfer.run(lab: t.lab, clientNode: "h1", serverNode: "h2", flow: flow(41004, 5201), bytes: size)
        }
        #expect(received == size)
        #expect(viaA.viaA >= size && viaA.viaB < 100_000, "\(viaA)")
        #expect(onConnect.counters().kept == 1 && onConnect.counters().steered == 2)
        #expect(steering.steeredFlows[flow(41004, 5201)] != nil, "srte's own entry stays")
    }
}
