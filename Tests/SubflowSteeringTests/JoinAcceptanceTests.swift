import Foundation
import Testing
import SRv6Paths
import LinuxSystem
import TestSupport
@testable import SubflowSteering

/// Kernel fact the agent's `--reflect` (and the testbed's `--mptcp-pm h2=kernel`) exist for: a
/// server on the userspace path manager refuses MP_JOINs while no process on the host subscribes
/// to `mptcp_pm_events`, and accepts them as soon as one does (the kernel asks
/// `genl_has_listeners`, host-wide). The client here opens its joins with a bare SUBFLOW_CREATE,
/// without subscribing. This relies on no other process on the host subscribing meanwhile: the
/// test suite runs serially (no agent of another test is running).
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates network namespaces"))
struct JoinAcceptanceTests {
    @Test func userspaceServerRefusesJoinsUntilSomeoneOnTheHostSubscribes() throws {
        let lab = try MPTCPLab("joinref", serverSubscribes: false)
        let srv = lab.server, from = lab.client
        let (client, pm) = try NetworkNamespace.run(in: lab.lab.ns("c")) { () throws -> (MPTCPSocket, MPTCPPathManager) in
            let s = try MPTCPSocket()
            try s.bind(from)
            try s.connect(to: srv, timeout: .seconds(3))
            return (s, try MPTCPPathManager())
        }
        #expect(try lab.listener.waitReadable(timeout: .seconds(3)))
        let accepted = try lab.listener.accept()
        _ = try client.send([0x68])              // fully established: the client's data acked
        _ = try accepted.receive(max: 1)
        _ = try accepted.send([0x69])
        _ = try client.receive(max: 1)
        let token = try client.info().token
        let join = SocketEndpoint(lab.client2.address, port: 0)

        func serverSubflows(after: Duration) throws -> Int {
            Thread.sleep(forTimeInterval: Double(after.components.seconds) + Double(after.components.attoseconds) / 1e18)
            return try accepted.fullInfo().subflows.count
        }

        // Nobody subscribes: the server answers the MP_JOIN with a reset.
        try pm.createSubflow(token: token, localID: 1, local: join, remote: srv)
        #expect(try serverSubflows(after: .milliseconds(500)) == 1, "the join was accepted although nobody subscribes")

        // A subscriber anywhere on the host (here the client's namespace): the next join is accepted.
        let subscription = try NetworkNamespace.run(in: lab.lab.ns("c")) { try pm.subscribe() }
        defer { subscription.cancel() }
        try pm.createSubflow(token: token, localID: 1, local: join, remote: srv)
        let clock = ContinuousClock(), deadline = clock.now + .seconds(2)
        var count = 1
        while count < 2 && clock.now < deadline { count = try serverSubflows(after: .milliseconds(50)) }
        #expect(count == 2, "the join was refused although the client's namespace subscribes")
    }
}
