import Foundation
import Testing
import SRv6Paths
@testable import SubflowSteering
import LinuxSystem
import TestSupport

@Suite(.serialized, .enabled(if: isRoot, "needs root: creates network namespaces and loads BPF"))
struct BPFSteeringTests {
    @Test func steersOneFlowOntoItsPathAndBack() throws {
        let t = try TwoPathLab("bpf")
        defer { t.lab.destroy() }
        let steering = try NetworkNamespace.run(in: t.lab.ns("h1")) { try BPFSteering(interface: "h1-r1") }
        defer { steering.removeAll() }
        let flow = FourTuple(local: t.h1, localPort: 40001, remote: t.h2, remotePort: 5001)
        let srh = try SegmentRoutingHeader(path: [t.sidB, t.h2], nextHeader: 6)
        try steering.steer(flow, along: srh)
        // The SRH adds 8 + 16·2 = 40 bytes: steering lowered the route MTU toward h2 by that much.
        let mtuRoute = try t.lab.exec("h1", ["ip", "-6", "route", "show", "proto", "83"])
        #expect(mtuRoute.contains("fc00:20::2 via fc00:10::2 dev h1-r1") && mtuRoute.contains("mtu 1460"), "\(mtuRoute)")
        let size = 2_000_000

        let steered = try t.forwardBytes {
            let got = try TCPTransfer.run(lab: t.lab, clientNode: "h1", serverNode: "h2", flow: flow, bytes: size)
            #expect(got == size)
        }
        #expect(steered.viaB > size, "via b: \(steered.viaB) bytes")
        #expect(steered.viaA < size / 100, "via a: \(steered.viaA) bytes")
        let c = steering.counters()
        // veth hands the program GSO packets of up to 64 KB: count skbs, not MTU-sized packets.
        #expect(c.steered >= UInt64(size / 65536) && c.errors == 0, "\(c)")
        #expect(c.redirected == 0, "h1 has one interface: nothing leaves by another one")

        // Another flow, not in the map, follows the IGP path through a.
        let other = FourTuple(local: t.h1, localPort: 40002, remote: t.h2, remotePort: 5002)
        let plain = try t.forwardBytes {
            let got = try TCPTransfer.run(lab: t.lab, clientNode: "h1", serverNode: "h2", flow: other, bytes: size)
            #expect(got == size)
        }
        #expect(plain.viaA > size && plain.viaB < size / 100, "\(plain)")

        // Unsteered, the first flow's 4-tuple goes back to the IGP path.
        try steering.unsteer(flow)
        #expect(steering.steeredFlows.isEmpty)
        #expect(try t.lab.exec("h1", ["ip", "-6", "route", "show", "proto", "83"]).isEmpty, "MTU route left after unsteer")
        let again = try t.forwardBytes {
            let got = try TCPTransfer.run(lab: t.lab, clientNode: "h1", serverNode: "h2",
                                        flow: FourTuple(local: t.h1, localPort: 40003, remote: t.h2, remotePort: 5003), bytes: size)
            #expect(got == size)
        }
        #expect(again.viaA > size && again.viaB < size / 100, "\(again)")
    }

    /// reserveHeadroom lowers the route MTU toward the peer without steering the flow, and the
    /// route stays while any flow (reserved or steered) holds it.
    @Test func reservedHeadroomLowersTheMTUWithoutSteering() throws {
        let t = try TwoPathLab("bpfhr")
        defer { t.lab.destroy() }
        let steering = try NetworkNamespace.run(in: t.lab.ns("h1")) { try BPFSteering(interface: "h1-r1") }
        defer { steering.removeAll() }
        let mtuRoutes = { try t.lab.exec("h1", ["ip", "-6", "route", "show", "proto", "83"]) }
        let initial = FourTuple(local: t.h1, localPort: 40021, remote: t.h2, remotePort: 5021)
        let join = FourTuple(local: t.h1, localPort: 40022, remote: t.h2, remotePort: 5022)
        try steering.reserveHeadroom(initial, bytes: 40)
        #expect(try mtuRoutes().contains("mtu 1460"))
        #expect(steering.steeredFlows.isEmpty)
        // Not steered: its bytes go the IGP way, through a.
        let plain = try t.forwardBytes {
            let got = try TCPTransfer.run(lab: t.lab, clientNode: "h1", serverNode: "h2", flow: initial, bytes: 1_000_000)
            #expect(got == 1_000_000)
        }
        #expect(plain.viaA > 1_000_000 && plain.viaB < 10_000, "\(plain)")
        try steering.steer(join, along: try SegmentRoutingHeader(path: [t.sidB, t.h2], nextHeader: 6))
        try steering.unsteer(join)
        #expect(try mtuRoutes().contains("mtu 1460"), "the reservation still holds the route")
        try steering.unsteer(initial)
        #expect(try mtuRoutes().isEmpty, "MTU route left after the last holder went")
    }

    @Test func removeAllDetachesTheProgram() throws {
        let t = try TwoPathLab("bpfrm")
        defer { t.lab.destroy() }
        let steering = try NetworkNamespace.run(in: t.lab.ns("h1")) { try BPFSteering(interface: "h1-r1") }
        let flow = FourTuple(local: t.h1, localPort: 40011, remote: t.h2, remotePort: 5011)
        try steering.steer(flow, along: try SegmentRoutingHeader(path: [t.sidB, t.h2], nextHeader: 6))
        steering.removeAll()
        #expect(try t.lab.exec("h1", ["ip", "-6", "route", "show", "proto", "83"]).isEmpty, "MTU route left after removeAll")
        #expect(throws: SteeringError.self) { try steering.steer(flow, along: try SegmentRoutingHeader(path: [t.sidB, t.h2])) }
        // With the program gone, the same 4-tuple follows the IGP path.
        let after = try t.forwardBytes {
            let got = try TCPTransfer.run(lab: t.lab, clientNode: "h1", serverNode: "h2", flow: flow, bytes: 500_000)
            #expect(got == 500_000)
        }
        #expect(after.viaA > 500_000 && after.viaB < 5_000, "\(after)")
    }

    @Test func rejectsAnSRHThatDoesNotEndAtThePeer() throws {
        let t = try TwoPathLab("bpfbad")
        defer { t.lab.destroy() }
        let steering = try NetworkNamespace.run(in: t.lab.ns("h1")) { try BPFSteering(interface: "h1-r1") }
        defer { steering.removeAll() }
        let flow = FourTuple(local: t.h1, localPort: 40021, remote: t.h2, remotePort: 5021)
        #expect(throws: SteeringError.self) { try steering.steer(flow, along: try SegmentRoutingHeader(path: [t.sidB])) }
        #expect(throws: SteeringError.self) {
            try NetworkNamespace.run(in: t.lab.ns("h1")) { try BPFSteering(interface: "no-such-dev") }
        }
    }

    /// The TCX link dies with the process: a child that attached steering and
    /// was killed with SIGKILL leaves no program behind.
    @Test func sigkillLeavesNoProgramAttached() async throws {
        let lab = try TestLab("bpfkill", nodes: ["h"])
        defer { lab.destroy() }
        try lab.exec("h", ["ip", "link", "add", "kv0", "type", "veth", "peer", "name", "kv1"])
        try lab.exec("h", ["ip", "link", "set", "kv0", "up"])
        let ns = lab.ns("h")
        #expect(try NetworkNamespace.run(in: ns) { try BPFSteering.attachedEgressPrograms(interface: "kv0") } == 0)
        await #expect(processExitsWith: .signal(SIGKILL)) { [ns = ns as String] in
            let s = try NetworkNamespace.run(in: ns) { try BPFSteering(interface: "kv0") }
            let attached = try NetworkNamespace.run(in: ns) { try BPFSteering.attachedEgressPrograms(interface: "kv0") }
            if attached != 1 { exit(3) }      // the parent would see exit 3, not SIGKILL
            withExtendedLifetime(s) { _ = kill(getpid(), SIGKILL) }
        }
        #expect(try NetworkNamespace.run(in: ns) { try BPFSteering.attachedEgressPrograms(interface: "kv0") } == 0)
    }
}
