import Foundation
import Testing
import SRv6Paths
@testable import SubflowSteering
import LinuxSystem
import TestSupport

/// draft-hesmans-mptcp-socket-03 §3.6: MPTCP_OPEN_SUB_TUPLE with an SRH. The subflow follows the
/// SRH from its SYN on (its bytes cross b, not the IGP's a), the draft's `::` final segment is
/// the subflow's destination, and closing the subflow removes its steering.
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates network namespaces and loads BPF"))
struct SubflowTupleSRHTests {
    @Test func aTupleWithAnSRHOpensASteeredSubflow() throws {
        let t = try TwoPathLab("tsrh")
        defer { t.lab.destroy() }
        for n in ["h1", "h2"] { try t.lab.sysctl(n, "net.mptcp.pm_type", "1") }
        // Both middle links at 20 Mbit/s, so the scheduler needs both subflows.
        for dev in ["r1-a", "r1-b"] {
            try t.lab.exec("r1", ["tc", "qdisc", "add", "dev", dev, "root", "tbf", "rate", "20mbit", "burst", "32kb", "latency", "50ms"])
        }
        let sink = try NetworkNamespace.run(in: t.lab.ns("h2")) { try MPTCPSink(listen: SocketEndpoint(.unspecified, port: 5201)) }
        let result = SinkResult.serving(sink, timeout: .seconds(30))

        let steering = try NetworkNamespace.run(in: t.lab.ns("h1")) { try BPFSteering(interface: "h1-r1") }
        defer { steering.removeAll() }
        let server = SocketEndpoint(t.h2, port: 5201)
        let c = try NetworkNamespace.run(in: t.lab.ns("h1")) { try MultipathConnection.connect(to: server, from: SocketEndpoint(t.h1, port: 0)) }
        // Both subflows carry 40 bytes of SRH room: the route MTU toward h2 is lowered before any
        // steered subflow exists, like EngineeredConnection does.
        try steering.reserveHeadroom(FourTuple(local: t.h1, localPort: 1, remote: t.h2, remotePort: 5201), bytes: 40)
        _ = try c.socket.send(Array(repeating: 1, count: 1000))     // the peer's DSS ack makes it fully established

        // Without steering set: refused, as before.
        let srh = try SegmentRoutingHeader(path: [t.sidB, .unspecified], nextHeader: 6)
        let refused = #expect(throws: SubflowError.self) {
            _ = try c.openSubflow(SubflowTuple(local: SocketEndpoint(t.h1, port: 0), remote: server, segmentRoutingHeader: srh))
        }
        #expect(refused?.kind == .steeringNotAvailable)
        // A final segment that is not the destination: refused, nothing steered.
        c.steering = steering
        let wrong = try SegmentRoutingHeader(path: [t.sidB, t.sidA], nextHeader: 6)
        let bad = #expect(throws: SubflowError.self) {
            _ = try c.openSubflow(SubflowTuple(local: SocketEndpoint(t.h1, port: 0), remote: server, segmentRoutingHeader: wrong))
        }
        #expect(bad?.kind == .badArgument && bad?.message.contains("not the subflow's destination") == true, "\(String(describing: bad))")
        #expect(steering.steeredFlows.isEmpty)

        // With `::` as the final segment: steered along [b, h2] before its SYN.
        let before = try t.forwardBytes {}
        var id: UInt32 = 0
        let during = try t.forwardBytes {
            id = try c.openSubflow(SubflowTuple(local: SocketEndpoint(t.h1, port: 0), remote: server, segmentRoutingHeader: srh), confirm: .milliseconds(100))
        }
        _ = before
        #expect(during.viaB > 0, "the join's handshake went via b: \(during)")
        let flow = try #require(steering.steeredFlows.first { $0.key.remotePort == 5201 && $0.key.localPort != 0 })
        #expect(flow.value.segments == [t.sidB, t.h2], "draft-03's :: became the destination")
        let tuple = try c.tuple(id: id)
        #expect(tuple.local.port == flow.key.localPort)
        #expect(tuple.segmentRoutingHeader?.segments == [t.sidB, t.h2], "MPTCP_GET_SUB_TUPLE gives the SRH back")

        // Traffic on the new subflow crosses b: every byte it carries shows up on r1 → b.
        func acked() throws -> UInt64 { try c.socket.fullInfo().subflows.first { $0.id == id }?.bytesAcked ?? 0 }
        let acked0 = try acked()
        let moved = try t.forwardBytes {
            for _ in 0..<160 { _ = try c.socket.send(Array(repeating: 2, count: 32_768)) }
            Thread.sleep(forTimeInterval: 0.3)
        }
        let carried = try acked() - acked0
        #expect(carried > 1_000_000, "the steered subflow carried \(carried) bytes")
        #expect(UInt64(moved.viaB) >= carried, "r1 → b carried \(moved.viaB) bytes for a subflow that carried \(carried)")

        // Closing the subflow removes its steering; the connection goes on.
        try c.closeSubflow(id: id)
        #expect(steering.steeredFlows[flow.key] == nil)
        try c.socket.shutdownWrite()
        #expect(result.finished(within: 30))
        let report = try #require(try result.get())
        #expect(report.multipath && report.subflows.count == 2, "\(report.subflows)")
    }
}
