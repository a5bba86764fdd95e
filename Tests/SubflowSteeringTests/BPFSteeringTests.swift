import Foundation
import Testing
import SRv6Paths
import SubflowSteering

/// Two paths between h1 and h2: r1 → a → r2 (the IGP path) and r1 → b → r2.
/// a and b are SRv6 routers with End SIDs fc00:0:a::1 and fc00:0:b::1.
/// Steering a flow along [fc00:0:b::1, h2] must move its bytes from a to b,
/// which the per-link counters show.
final class TwoPathLab {
    let lab: TestLab
    let h1 = try! IPv6Address(parsing: "fc00:10::1")
    let h2 = try! IPv6Address(parsing: "fc00:20::2")
    let sidA = try! IPv6Address(parsing: "fc00:0:a::1")
    let sidB = try! IPv6Address(parsing: "fc00:0:b::1")

    init(_ tag: String) throws {
        lab = try TestLab(tag, nodes: ["h1", "r1", "a", "b", "r2", "h2"])
        do { try build() } catch { lab.destroy(); throw error }
    }

    private func build() throws {
        let links: [(String, String, String, String, String)] = [
            // a, b, subnet, a's host part, b's host part
            ("h1", "r1", "fc00:10::", "1", "2"), ("r1", "a", "fc00:11::", "1", "2"), ("r1", "b", "fc00:12::", "1", "2"),
            ("a", "r2", "fc00:13::", "1", "2"), ("b", "r2", "fc00:14::", "1", "2"), ("r2", "h2", "fc00:20::", "1", "2"),
        ]
        for (x, y, net, hx, hy) in links {
            let (ix, iy) = try lab.link(x, y)
            try lab.exec(x, ["ip", "-6", "addr", "add", "\(net)\(hx)/64", "dev", ix, "nodad"])
            try lab.exec(y, ["ip", "-6", "addr", "add", "\(net)\(hy)/64", "dev", iy, "nodad"])
        }
        for n in ["r1", "a", "b", "r2", "h2", "h1"] {
            try lab.sysctl(n, "net.ipv6.conf.all.forwarding", n.hasPrefix("h") ? "0" : "1")
            try lab.sysctl(n, "net.ipv6.conf.all.seg6_enabled", "1")
            try lab.sysctl(n, "net.ipv6.conf.default.seg6_enabled", "1")
        }
        for (n, dev) in [("h2", "h2-r2"), ("a", "a-r1"), ("b", "b-r1"), ("r2", "r2-a"), ("r2", "r2-b"), ("r1", "r1-h1")] {
            try lab.sysctl(n, "net.ipv6.conf.\(dev).seg6_enabled", "1")
        }
        let routes: [(String, [String])] = [
            ("h1", ["default", "via", "fc00:10::2"]),
            ("h2", ["default", "via", "fc00:20::1"]),
            ("r1", ["fc00:20::/64", "via", "fc00:11::2"]),          // IGP path: via a
            ("r1", ["fc00:0:a::/48", "via", "fc00:11::2"]),
            ("r1", ["fc00:0:b::/48", "via", "fc00:12::2"]),
            ("a", ["fc00:20::/64", "via", "fc00:13::2"]), ("a", ["fc00:10::/64", "via", "fc00:11::1"]),
            ("b", ["fc00:20::/64", "via", "fc00:14::2"]), ("b", ["fc00:10::/64", "via", "fc00:12::1"]),
            ("r2", ["fc00:10::/64", "via", "fc00:13::1"]),          // replies: via a
        ]
        for (n, r) in routes { try lab.exec(n, ["ip", "-6", "route", "add"] + r) }
        // End without seg6local (which needs CONFIG_IPV6_SEG6_LWTUNNEL): the SID is a local
        // address, and the kernel's own SRH processing (ipv6_srh_rcv, seg6_enabled on the
        // arriving interface) moves to the next segment and forwards.
        try lab.exec("a", ["ip", "-6", "addr", "add", "fc00:0:a::1/128", "dev", "lo"])
        try lab.exec("b", ["ip", "-6", "addr", "add", "fc00:0:b::1/128", "dev", "lo"])
        try lab.exec("h1", ["ping", "-6", "-c", "1", "-w", "5", "fc00:20::2"])
    }

    /// Bytes received on `node`'s interface `dev`.
    func rxBytes(_ node: String, _ dev: String) throws -> Int {
        Int(try lab.exec(node, ["cat", "/sys/class/net/\(dev)/statistics/rx_bytes"]).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    /// (bytes r1 sent toward a, bytes r1 sent toward b) while `body` runs.
    func forwardBytes(_ body: () throws -> Void) throws -> (viaA: Int, viaB: Int) {
        let a0 = try rxBytes("a", "a-r1"), b0 = try rxBytes("b", "b-r1")
        try body()
        return (try rxBytes("a", "a-r1") - a0, try rxBytes("b", "b-r1") - b0)
    }
}

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
