import Foundation
import Glibc
import CSRH
import Testing
import SRv6Paths
@testable import SubflowSteering
import LinuxSystem
import TestSupport

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
        // connect() reserved srte's port range in the client namespace only.
        #expect(try lab.lab.exec("c", ["sysctl", "-n", "net.ipv4.ip_local_reserved_ports"]).contains("40000-40999"))
        #expect(!(try lab.lab.exec("s", ["sysctl", "-n", "net.ipv4.ip_local_reserved_ports"]).contains("40000-40999")))
    }

    /// Seed §6: a caller that is not root may not open subflows on local ports below 1024.
    /// The effective uid is dropped on one thread only (raw setresuid: Linux credentials are
    /// per thread; glibc's wrapper would change every thread of the test process).
    @Test func nonRootCallerGetsNoPrivilegedPort() throws {
        let lab = try MPTCPLab("lowport")
        let (c, accepted) = try lab.connect()   // keep the server's end open
        defer { withExtendedLifetime(accepted) {} }
        final class Outcome: @unchecked Sendable { var low: Error?; var high: Error?; var opened: UInt32?; var euid: uid_t = 0; var restored: uid_t = 1 }
        let o = Outcome()
        let done = DispatchSemaphore(value: 0)
        let t = Thread {
            defer { done.signal() }
            guard csrh_thread_set_euid(65534) == 0 else { return }
            o.euid = geteuid()
            do { _ = try c.openSubflow(SubflowTuple(local: SocketEndpoint(lab.client.address, port: 80), remote: lab.server)) } catch { o.low = error }
            do { o.opened = try c.openSubflow(SubflowTuple(local: SocketEndpoint(lab.client.address, port: 41080), remote: lab.server)) } catch { o.high = error }
            _ = csrh_thread_set_euid(0)
            o.restored = geteuid()
        }
        t.start()
        #expect(done.wait(timeout: .now() + 20) == .success)
        #expect(o.euid == 65534, "the thread did not drop its effective uid")
        #expect(o.restored == 0)
        #expect(geteuid() == 0, "the rest of the process kept root")
        let e = try #require(o.low as? SubflowError, "port 80 was not refused: \(String(describing: o.low))")
        #expect(e.kind == .privilegedPort)
        #expect(e.message.contains("below 1024"))
        // Port 1024 and above is not this rule's business: the kernel decides, and upstream's
        // path manager wants CAP_NET_ADMIN for every SUBFLOW_CREATE (measured: EPERM).
        let h = try #require(o.high as? SubflowError, "the kernel accepted SUBFLOW_CREATE from uid 65534")
        #expect(h.kind == .pathManager && h.netlink?.errno == EPERM, "\(h)")
        #expect(h.message.contains("CAP_NET_ADMIN"))
        // Root may use a port below 1024.
        let ok = try c.openSubflow(SubflowTuple(local: SocketEndpoint(lab.client.address, port: 1023), remote: lab.server))
        #expect(try c.tuple(id: ok).local.port == 1023)
    }

    @Test func closeOneSubflowAndSeeTheEvent() throws {
        let lab = try MPTCPLab("close")
        let (c, accepted) = try lab.connect()
        let ids = try c.openSubflows([
            SubflowTuple(local: SocketEndpoint(lab.client.address, port: 0), remote: lab.server),
            SubflowTuple(local: SocketEndpoint(lab.client2.address, port: 0), remote: lab.server),
        ])
        let victim = try c.tuple(id: ids[0])
        _ = c.pollEvents()
        try c.closeSubflow(id: ids[0])
        // The SUB_CLOSED for that tuple arrived (closeSubflow waits for it) and is handed out.
        let events = c.pollEvents(timeout: .milliseconds(200))
        #expect(events.contains { $0.type == .subflowClosed && $0.local == victim.local && $0.remote == victim.remote })
        let left = try c.subflows()
        #expect(!left.contains { $0.id == ids[0] })
        #expect(left.contains { $0.id == ids[1] && $0.state == .up })
        // The peer saw it close too.
        let peer = try lab.serverEvents(timeout: .seconds(2)) { $0.contains { $0.type == .subflowClosed && $0.remote == victim.local } }
        #expect(peer.contains { $0.type == .subflowClosed && $0.remote == victim.local })
        withExtendedLifetime(accepted) {}
    }

    @Test func setBackupIsSeenAsSubPriorityAtThePeer() throws {
        let lab = try MPTCPLab("prio")
        let (c, accepted) = try lab.connect()
        let id = try c.openSubflow(SubflowTuple(local: SocketEndpoint(lab.client.address, port: 0), remote: lab.server))
        let t = try c.tuple(id: id)
        _ = try lab.serverEvents(timeout: .milliseconds(100)) { _ in false }   // drain
        try c.setBackup(id: id, true)
        let seen = try lab.serverEvents(timeout: .seconds(2)) { $0.contains { $0.type == .subflowPriority } }
        let prio = seen.first { $0.type == .subflowPriority }
        #expect(prio?.backup == true)
        #expect(prio?.remote == t.local && prio?.local == t.remote)
        #expect(try c.subflows().first { $0.id == id }?.backup == true)
        #expect(try c.tuple(id: id).backup == true)
        try c.setBackup(id: id, false)
        let back = try lab.serverEvents(timeout: .seconds(2)) { $0.contains { $0.type == .subflowPriority } }
        #expect(back.first { $0.type == .subflowPriority }?.backup == false)
        withExtendedLifetime(accepted) {}
    }

    @Test func fallbackToTCPGivesTheDocumentedError() throws {
        let lab = try MPTCPLab("fallback")
        let tcpServer = SocketEndpoint(lab.server.address, port: 5001)
        let listener = try NetworkNamespace.run(in: lab.lab.ns("s")) { () throws -> Int32 in
            let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), Int32(IPPROTO_TCP))
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, 4)
            var sa = tcpServer.sockaddr
            _ = withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, 28) } }
            Foundation.listen(fd, 4)
            return fd
        }
        defer { close(listener) }
        let e = #expect(throws: SubflowError.self) {
            _ = try NetworkNamespace.run(in: lab.lab.ns("c")) { try MultipathConnection.connect(to: tcpServer) }
        }
        #expect(e?.kind == .fallback)
        #expect(e?.errno == EOPNOTSUPP)
        // The socket itself says so (RFC 6897 "is MPTCP in use").
        let s = try NetworkNamespace.run(in: lab.lab.ns("c")) { () throws -> MPTCPSocket in
            let s = try MPTCPSocket()
            try s.connect(to: tcpServer)
            return s
        }
        #expect(!s.isMultipath)
    }

    @Test func badTokenAndBadIDGiveTheKernelsMessage() throws {
        let lab = try MPTCPLab("badid")
        let (c, accepted) = try lab.connect()
        let pm = try NetworkNamespace.run(in: lab.lab.ns("c")) { try MPTCPPathManager() }
        let bad = #expect(throws: NetlinkError.self) {
            try pm.createSubflow(token: c.token &+ 1, localID: 1, local: SocketEndpoint(lab.client.address, port: 41500), remote: lab.server)
        }
        #expect(bad?.errno == EINVAL)
        #expect(bad?.extAckMessage == "invalid token")
        let missing = #expect(throws: NetlinkError.self) {
            try pm.destroySubflow(token: c.token, local: SocketEndpoint(lab.client.address, port: 41999), remote: lab.server)
        }
        #expect(missing?.errno == ESRCH)
        #expect(missing?.extAckMessage == "subflow not found")
        // Through the draft-hesmans-mptcp-socket API: an id that is not on the connection.
        let e = #expect(throws: SubflowError.self) { try c.closeSubflow(id: 999) }
        #expect(e?.kind == .invalidID)
        #expect(e?.errno == EINVAL)
        let e2 = #expect(throws: SubflowError.self) { try c.setBackup(id: 999, true) }
        #expect(e2?.kind == .invalidID)
        // A busy chosen port: the kernel's -EADDRINUSE, not retried (the caller chose it).
        _ = try c.openSubflow(SubflowTuple(local: SocketEndpoint(lab.client.address, port: 41600), remote: lab.server))
        let busy = #expect(throws: SubflowError.self) {
            _ = try c.openSubflow(SubflowTuple(local: SocketEndpoint(lab.client.address, port: 41600), remote: lab.server))
        }
        #expect(busy?.netlink?.errno == EADDRINUSE || busy?.netlink?.errno == EINVAL, "\(String(describing: busy))")
        // An SRH: steering not available yet.
        let srh = try SegmentRoutingHeader(path: [IPv6Address("fc00::5")!, lab.server.address])
        let st = #expect(throws: SubflowError.self) {
            _ = try c.openSubflow(SubflowTuple(local: lab.client, remote: lab.server, segmentRoutingHeader: srh))
        }
        #expect(st?.kind == .steeringNotAvailable)
        let rst = #expect(throws: SubflowError.self) { try c.closeSubflow(id: 1, how: .reset) }
        #expect(rst?.kind == .notSupported)
        withExtendedLifetime(accepted) {}
    }

    @Test func inKernelPathManagerGivesOneActionableMessage() throws {
        let lab = try MPTCPLab("kpm", clientPMType: 0)
        let (c, accepted) = try lab.connect()
        let e = #expect(throws: SubflowError.self) {
            _ = try c.openSubflow(SubflowTuple(local: SocketEndpoint(lab.client.address, port: 0), remote: lab.server))
        }
        #expect(e?.kind == .notUserspacePathManager)
        #expect(e?.message.contains("net.mptcp.pm_type=1") == true)
        withExtendedLifetime(accepted) {}
    }

    /// RFC 6897 basics: MPTCP in use, connection id, address pairs, adding and
    /// restricting local addresses (ANNOUNCE / REMOVE seen at the peer).
    @Test func rfc6897BasicsAndAddressAnnouncements() throws {
        let lab = try MPTCPLab("rfc6897")
        let (c, accepted) = try lab.connect()
        #expect(c.socket.isMultipath)
        #expect(try c.socket.info().token == c.token)
        let id = try c.openSubflow(SubflowTuple(local: SocketEndpoint(lab.client2.address, port: 0), remote: lab.server))
        let pairs = try c.socket.subflowAddresses()
        #expect(pairs.count == 2)
        let t = try c.tuple(id: id)
        #expect(pairs.contains { $0.local == t.local && $0.remote == t.remote })
        _ = try lab.serverEvents(timeout: .milliseconds(50)) { _ in false }
        let addrID = try c.announce(SocketEndpoint(lab.client2.address, port: 0))
        let ann = try lab.serverEvents(timeout: .seconds(2)) { $0.contains { $0.type == .announced } }
        let a = ann.first { $0.type == .announced }
        #expect(a?.remoteID == addrID)
        #expect(a?.remote?.address == lab.client2.address)
        try c.removeAddress(id: addrID)
        let rem = try lab.serverEvents(timeout: .seconds(2)) { $0.contains { $0.type == .removed } }
        #expect(rem.first { $0.type == .removed }?.remoteID == addrID)
        withExtendedLifetime(accepted) {}
    }

    /// Path-manager and address events as an AsyncSequence.
    @Test func eventsAsAsyncSequence() async throws {
        let lab = try MPTCPLab("async")
        let monitor = try NetworkNamespace.run(in: lab.lab.ns("c")) { try PathManagerMonitor() }
        let stream = monitor.events()
        let watchdog = Task { try await Task.sleep(for: .seconds(3)); monitor.cancel() }   // bounds the loop below
        defer { watchdog.cancel() }
        let (c, accepted) = try lab.connect()
        _ = try c.openSubflow(SubflowTuple(local: SocketEndpoint(lab.client.address, port: 0), remote: lab.server))
        try lab.lab.exec("c", ["ip", "-6", "addr", "add", "fc00:1::99/64", "dev", "c-s", "nodad"])
        var sawSubflow = false, sawAddress = false
        let deadline = ContinuousClock.now + .seconds(3)
        for try await e in stream {
            switch e {
            case .pathManager(let p) where p.type == .subflowEstablished && p.token == c.token: sawSubflow = true
            case .localAddressAdded(let a) where a.address == IPv6Address("fc00:1::99")!: sawAddress = true
            default: break
            }
            if (sawSubflow && sawAddress) || ContinuousClock.now > deadline { break }
        }
        monitor.cancel()
        // The server's path-manager events alone, through MPTCPPathManager.events().
        let serverStream = try NetworkNamespace.run(in: lab.lab.ns("s")) { try MPTCPPathManager().events() }
        let id = try c.openSubflow(SubflowTuple(local: SocketEndpoint(lab.client2.address, port: 0), remote: lab.server))
        try c.setBackup(id: id, true)
        var types: [MPTCPEventType] = []
        for try await e in serverStream {   // bounded by the suite's time limit
            types.append(e.type)
            if e.type == .subflowPriority { break }
        }
        #expect(types.contains(.subflowEstablished) && types.last == .subflowPriority, "\(types)")
        #expect(sawSubflow, "SUB_ESTABLISHED through the AsyncSequence")
        #expect(sawAddress, "RTM_NEWADDR as localAddressAdded")
        withExtendedLifetime(accepted) {}
    }

    /// Port 0: srte picks from its range and moves on when the kernel says the
    /// 4-tuple is busy (-EADDRINUSE, "-98").
    @Test func busyPortsAreRetriedOnAnotherPort() throws {
        let lab = try MPTCPLab("retry")
        let (c, accepted) = try lab.connect()
        c.portRange = 41700...41702
        for p: UInt16 in [41700, 41701] {
            _ = try c.openSubflow(SubflowTuple(local: SocketEndpoint(lab.client.address, port: p), remote: lab.server))
        }
        let pm = try NetworkNamespace.run(in: lab.lab.ns("c")) { try MPTCPPathManager() }
        let used = SocketEndpoint(lab.client.address, port: 41700)
        // Another id for an address and port in use: -EINVAL with the kernel's message.
        let other = #expect(throws: NetlinkError.self) {
            try pm.createSubflow(token: c.token, localID: 200, local: used, remote: lab.server)
        }
        #expect(other?.errno == EINVAL && other?.extAckMessage == "did not match address and id")
        // The same id (a busy 4-tuple): -EADDRINUSE, the "-98" srte rotates ports on.
        let busy = #expect(throws: NetlinkError.self) {
            try pm.createSubflow(token: c.token, localID: c.localIDs[used]!, local: used, remote: lab.server)
        }
        #expect(busy?.errno == EADDRINUSE)
        // Port 0: whichever port the rotation starts at, only the free ones are used.
        c.portRange = 41700...41703
        var got: Set<UInt16> = []
        for _ in 0..<2 {
            let id = try c.openSubflow(SubflowTuple(local: SocketEndpoint(lab.client.address, port: 0), remote: lab.server))
            got.insert(try c.tuple(id: id).local.port)
        }
        #expect(got == [41702, 41703])
        withExtendedLifetime(accepted) {}
    }

    /// rtnetlink through the same client: the namespace's addresses.
    @Test func rtnetlinkAddressDump() throws {
        let lab = try MPTCPLab("rtnl")
        let addrs = try NetworkNamespace.run(in: lab.lab.ns("c")) { try Rtnetlink.addresses(on: NetlinkConnection(.route)) }
        #expect(addrs.contains { $0.address == lab.client.address && $0.prefixLength == 64 && $0.interfaceIndex == UInt32(lab.clientInterface) })
        #expect(addrs.contains { $0.address == lab.client2.address })
        #expect(addrs.contains { $0.address == IPv6Address("::1")! })
    }

    /// A peer that refuses the join (in-kernel PM with `subflows 0`): the
    /// subflow shows SUB_ESTABLISHED then SUB_CLOSED, and does not count as up.
    /// (A userspace-PM server without a subscriber in its namespace is no way to get a
    /// refusal: the kernel's check for a subscriber is host-wide, and the client's path
    /// manager subscribes.)
    @Test func refusedJoinIsNotUp() throws {
        let lab = try MPTCPLab("refused", serverPMType: 0, serverSubflowLimit: 0)
        let (c, accepted) = try lab.connect()
        let e = #expect(throws: SubflowError.self) {
            _ = try c.openSubflow(SubflowTuple(local: SocketEndpoint(lab.client.address, port: 0), remote: lab.server), confirm: .milliseconds(100))
        }
        #expect(e?.kind == .subflowFailed)
        #expect(e?.message.contains("SUB_CLOSED") == true, "\(String(describing: e))")
        #expect(try c.subflows().filter { $0.state == .up }.count == 1, "only the initial subflow is up")
        withExtendedLifetime(accepted) {}
    }

    /// Kernel fact: a server on the userspace path manager accepts joins while a process in
    /// *another* namespace (here the client's path manager) subscribes to mptcp_pm_events and
    /// nobody subscribes in the server's: the kernel's check is host-wide (Docs/Kernel.md).
    @Test func userspaceServerAcceptsJoinsWhileAnotherNamespaceSubscribes() throws {
        let lab = try MPTCPLab("nosub", serverSubscribes: false)
        let (c, accepted) = try lab.connect()
        let id = try c.openSubflow(SubflowTuple(local: SocketEndpoint(lab.client.address, port: 0), remote: lab.server), confirm: .milliseconds(50))
        #expect(try c.subflows().first { $0.id == id }?.state == .up)
        #expect(try accepted.fullInfo().subflows.count == 2)
    }
}
