import Foundation
import Testing
import SRv6Paths
@testable import SubflowSteering
import LinuxSystem
import TestSupport

@Suite(.serialized, .enabled(if: isRoot, "needs root: creates network namespaces"))
struct PolicyRoutingSteeringTests {
    /// On a kernel without seg6 routes, creating the mechanism fails at once, naming the
    /// kernel option and the alternative, with the kernel's own message.
    @Test(.enabled(if: seg6RoutesProblem != nil, "this kernel has seg6 routes"))
    func missingSeg6RoutesAreNamed() throws {
        let t = try TwoPathLab("noseg6")
        defer { t.lab.destroy() }
        do {
            _ = try NetworkNamespace.run(in: t.lab.ns("h1")) { try PolicyRoutingSteering() }
            Issue.record("PolicyRoutingSteering() succeeded on a kernel without seg6 routes")
        } catch let e as NetlinkError {
            #expect(e.errno == EOPNOTSUPP)
            #expect(e.description.contains("CONFIG_IPV6_SEG6_LWTUNNEL") && e.description.contains("--steer bpf"), "\(e)")
            #expect(e.extAckMessage == seg6RoutesProblem)
        }
        #expect(try kernelState(t).routes.isEmpty, "the probe route was left behind")
    }

    /// The rules and srte-tagged routes in h1's namespace, as `ip` shows them.
    func kernelState(_ t: TwoPathLab) throws -> (rules: String, routes: String) {
        let rules = try t.lab.exec("h1", ["ip", "-6", "rule", "show"])
            .split(separator: "\n").filter { !$0.hasPrefix("0:") && !$0.hasPrefix("32766:") }.joined(separator: "\n")
        let routes = try t.lab.exec("h1", ["ip", "-6", "route", "show", "table", "all", "proto", "83"])
        return (rules, routes.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    @Test func steersOneFlowAndRemovesEverything() throws {
        try requireSeg6Routes()
        let t = try TwoPathLab("pr")
        defer { t.lab.destroy() }
        let steering = try NetworkNamespace.run(in: t.lab.ns("h1")) { try PolicyRoutingSteering() }
        let flow = FourTuple(local: t.h1, localPort: 41001, remote: t.h2, remotePort: 5101)
        try steering.steer(flow, along: try SegmentRoutingHeader(path: [t.sidB, t.h2], nextHeader: 6))
        let state = try kernelState(t)
        #expect(state.rules.contains("ipproto tcp sport 41001 dport 5101"), "\(state.rules)")
        #expect(state.routes.contains("encap seg6 mode inline"), "\(state.routes)")

        let size = 2_000_000
        let steered = try t.forwardBytes {
            let got = try TCPTransfer.run(lab: t.lab, clientNode: "h1", serverNode: "h2", flow: flow, bytes: size)
            #expect(got == size)
        }
        #expect(steered.viaB > size && steered.viaA < size / 100, "\(steered)")

        // Re-steering replaces the route: the same 4-tuple now goes via a's node SID.
        try steering.steer(flow, along: try SegmentRoutingHeader(path: [t.sidA, t.h2], nextHeader: 6))
        let resteered = try t.forwardBytes {
            let got = try TCPTransfer.run(lab: t.lab, clientNode: "h1", serverNode: "h2", flow: flow, bytes: size)
            #expect(got == size)
        }
        #expect(resteered.viaA > size && resteered.viaB < size / 100, "\(resteered)")

        steering.removeAll()
        let after = try kernelState(t)
        #expect(after.rules.isEmpty, "rules left: \(after.rules)")
        #expect(after.routes.isEmpty, "routes left: \(after.routes)")
    }

    /// A process killed with SIGKILL leaves its rules and routes; removeLeftovers finds and removes them.
    @Test func leftoversAreFoundAndRemoved() async throws {
        try requireSeg6Routes()
        let t = try TwoPathLab("prkill")
        defer { t.lab.destroy() }
        let ns = t.lab.ns("h1")
        await #expect(processExitsWith: .signal(SIGKILL)) { [ns = ns as String] in
            let s = try NetworkNamespace.run(in: ns) { try PolicyRoutingSteering() }
            let flow = FourTuple(local: IPv6Address("fc00:10::1")!, localPort: 41011, remote: IPv6Address("fc00:20::2")!, remotePort: 5111)
            try s.steer(flow, along: try SegmentRoutingHeader(path: [IPv6Address("fc00:0:b::1")!, IPv6Address("fc00:20::2")!]))
            withExtendedLifetime(s) { _ = kill(getpid(), SIGKILL) }
        }
        let left = try kernelState(t)
        #expect(left.rules.contains("sport 41011"), "the killed process should have left its rule: \(left.rules)")
        let removed = try NetworkNamespace.run(in: ns) { try PolicyRoutingSteering.removeLeftovers() }
        #expect(removed.rules == 1 && removed.routes == 1, "\(removed)")
        let after = try kernelState(t)
        #expect(after.rules.isEmpty && after.routes.isEmpty, "\(after)")
    }

    @Test func netlinkErrorsCarryTheKernelMessage() throws {
        try requireSeg6Routes()
        let t = try TwoPathLab("prerr")
        defer { t.lab.destroy() }
        let steering = try NetworkNamespace.run(in: t.lab.ns("h1")) { try PolicyRoutingSteering() }
        defer { steering.removeAll() }
        // No route to this destination in h1 (only fc00:20::/64 and default exist? default exists): remove default first.
        try t.lab.exec("h1", ["ip", "-6", "route", "del", "default"])
        let unreachable = try IPv6Address(parsing: "fc00:99::1")
        let flow = FourTuple(local: t.h1, localPort: 41021, remote: unreachable, remotePort: 5121)
        do {
            try steering.steer(flow, along: try SegmentRoutingHeader(path: [t.sidB, unreachable]))
            Issue.record("steering toward an unroutable destination succeeded")
        } catch let e as NetlinkError {
            #expect(e.errno == ENETUNREACH, "\(e)")
        }
        #expect(steering.steeredFlows.isEmpty)
    }
}
