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
/// without subscribing. The refusal needs nobody on the host subscribed: the test first lists
/// every subscribed socket (`NetlinkListeners`). One held by this test process is a leak of
/// srte's (a subscription outliving its owner) and fails the test; one held by another process
/// (an agent running on a shared machine) makes the refusal impossible to show, and the test is
/// cancelled naming it.
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates network namespaces"))
struct JoinAcceptanceTests {
    @Test func userspaceServerRefusesJoinsUntilSomeoneOnTheHostSubscribes() throws {
        let lab = try MPTCPLab("joinref", serverSubscribes: false)
        let srv = lab.server, from = lab.client
        let group = try #require(try MPTCPPathManager().family.multicastGroups[MPTCPPathManager.eventGroupName])
        let holders = NetlinkListeners.holders(of: group, protocol: .generic)
        let own = holders.filter { $0.pid == getpid() }
        #expect(own.isEmpty, "this test process still subscribes to mptcp_pm_events (a leaked subscription): \(own)")
        if own.isEmpty && !holders.isEmpty {
            try Test.cancel("another process subscribes to mptcp_pm_events, so every userspace-PM server on the host accepts joins: \(holders)")
        }
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

    /// The check above can fail: a subscription of this process is found by its descriptor, and
    /// is gone from the host's listeners as soon as it is cancelled (not when its reader thread ends).
    @Test func subscribersAreFoundAndCancelLeavesTheGroup() throws {
        let pm = try MPTCPPathManager()
        let group = try #require(pm.family.multicastGroups[MPTCPPathManager.eventGroupName])
        let subscription = try pm.subscribe()
        let stream = subscription.events()          // a reader thread, as the agent's monitor has
        let found = NetlinkListeners.holders(of: group, protocol: .generic).filter { $0.pid == getpid() }
        #expect(found.map(\.fd) == [subscription.fileDescriptor], "\(found)")
        subscription.cancel()
        let after = NetlinkListeners.holders(of: group, protocol: .generic).filter { $0.pid == getpid() }
        #expect(after.isEmpty, "still subscribed after cancel: \(after)")
        _ = stream
    }
}
