import Foundation
import Testing
import SRv6Paths
@testable import SubflowSteering

/// Integration tests against the running kernel, as root, in namespaces the
/// tests create and always delete. Each is bounded by `.timeLimit` and by the
/// operations' own timeouts.
@Suite(.serialized, .enabled(if: isRoot, "needs root (network namespaces, MPTCP path manager)"), .timeLimit(.minutes(1)))
struct MPTCPIntegrationTests {
    init() {
        if !isRoot { print("MPTCPIntegrationTests skipped: not root (needs network namespaces and CAP_NET_ADMIN)") }
    }

    @Test func openFourSubflowsOnChosenPorts() throws {
        let lab = try MPTCPLab("open4")
        let (c, accepted) = try lab.connect(from: SocketEndpoint(lab.client.address, port: 40100))
        let joinsBefore = try lab.serverCounter("MPJoinAckRx")
        let ports: [UInt16] = [41001, 41002, 41003, 41004]
        let tuples = ports.map { SubflowTuple(local: SocketEndpoint(lab.client.address, port: $0), remote: lab.server) }
        let ids = try c.openSubflows(tuples)
        #expect(ids.count == 4)
        #expect(Set(ids).count == 4)
        let list = try c.subflows()
        #expect(list.count == 5)
        for p in ports {
            let s = list.first { $0.local.port == p }
            #expect(s != nil, "subflow from port \(p) listed")
            #expect(s?.state == .up)
            #expect(s?.remote == lab.server)
        }
        #expect(list.first { $0.local.port == 40100 } != nil, "initial subflow listed with its bound port")
        // The peer sees them: 4 more joins acked, and 5 subflows on its socket.
        #expect(try lab.serverCounter("MPJoinAckRx") - joinsBefore == 4)
        let peer = try accepted.fullInfo().subflows
        #expect(Set(peer.map(\.remote.port)) == Set([40100] + ports))
        // Tuple of one subflow.
        let t = try c.tuple(id: ids[2])
        #expect(t.local.port == 41003 && t.remote == lab.server && !t.backup)
    }
}
