import Foundation
import Glibc
import CSRH
import Testing
import SRv6Paths
@testable import SubflowSteering
import LinuxSystem
import TestSupport

func int32Bytes(_ v: Int32) -> [UInt8] { withUnsafeBytes(of: v) { Array($0) } }

/// Per-subflow socket options through the BPF sock_ops program, checked with the
/// kernel's own view of each subflow (sock_diag mark / congestion control).
@Suite(.serialized, .enabled(if: isRoot, "needs root (BPF, cgroup attach, namespaces)"), .timeLimit(.minutes(1)))
struct SubflowSocketOptionsTests {
    @Test func markAndCongestionControlReachOneSubflow() throws {
        let opts = try SubflowSocketOptions()
        let lab = try MPTCPLab("sockopt")
        let (c, accepted) = try lab.connect()
        c.socketOptions = opts

        // Before opening: the options are applied when the subflow connects. The entry names
        // the client's namespace; a decoy for the same 4-tuple in another namespace and a
        // wildcard (namespace 0) entry must both lose to it.
        let netns = c.socket.netnsCookie
        #expect(netns != 0)
        let early = SocketEndpoint(lab.client.address, port: 40950)
        try opts.set(.mark(0x99), local: early, remote: lab.server, namespace: netns &+ 1)
        try opts.set(.mark(0x77), local: early, remote: lab.server)
        try opts.set(.mark(0x2a), local: early, remote: lab.server, namespace: netns)
        try opts.set(.congestionControl("reno"), local: early, remote: lab.server, namespace: netns)
        let idEarly = try c.openSubflow(SubflowTuple(local: early, remote: lab.server))
        #expect(try c.subflowOption(id: idEarly, level: SOL_SOCKET, name: SO_MARK) == int32Bytes(0x2a))
        #expect(try c.subflowOption(id: idEarly, level: Int32(IPPROTO_TCP), name: TCP_CONGESTION) == Array("reno".utf8))
        #expect(opts.status(local: early, remote: lab.server, namespace: netns)?.applied == true)
        #expect(opts.status(local: early, remote: lab.server, namespace: netns)?.error == 0)
        #expect(opts.status(local: early, remote: lab.server, namespace: netns &+ 1)?.applied == false)

        // A live subflow (srte port range): applied at its next RTT sample.
        let idLive = try c.openSubflow(SubflowTuple(local: SocketEndpoint(lab.client2.address, port: 0), remote: lab.server))
        let live = try c.tuple(id: idLive)
        #expect(try c.subflowOption(id: idLive, level: SOL_SOCKET, name: SO_MARK) == int32Bytes(0))
        try c.setSubflowOption(id: idLive, level: SOL_SOCKET, name: SO_MARK, value: int32Bytes(7))
        let chunk = [UInt8](repeating: 0x61, count: 65536)
        let deadline = ContinuousClock.now + .seconds(3)
        while opts.status(local: live.local, remote: live.remote, namespace: netns)?.applied != true && ContinuousClock.now < deadline {
            try c.socket.send(chunk)
            while (try? accepted.waitReadable(timeout: .milliseconds(1))) == true { _ = try accepted.receive() }
        }
        #expect(opts.status(local: live.local, remote: live.remote, namespace: netns)?.applied == true)
        #expect(try c.subflowOption(id: idLive, level: SOL_SOCKET, name: SO_MARK) == int32Bytes(7))
        // The others kept theirs.
        #expect(try c.subflowOption(id: idEarly, level: SOL_SOCKET, name: SO_MARK) == int32Bytes(0x2a))
        let initial = try c.subflows().first { $0.localID == nil }!.id
        #expect(try c.subflowOption(id: initial, level: SOL_SOCKET, name: SO_MARK) == int32Bytes(0))

        // A wildcard entry applies when nothing names the namespace.
        let wild = SocketEndpoint(lab.client.address, port: 40951)
        try opts.set(.mark(0x31), local: wild, remote: lab.server)
        let idWild = try c.openSubflow(SubflowTuple(local: wild, remote: lab.server))
        #expect(try c.subflowOption(id: idWild, level: SOL_SOCKET, name: SO_MARK) == int32Bytes(0x31))


        // What upstream cannot reach: a clear error.
        let e = #expect(throws: SubflowError.self) {
            try c.setSubflowOption(id: idLive, level: SOL_SOCKET, name: SO_RCVBUF, value: int32Bytes(1 << 20))
        }
        #expect(e?.kind == .notSupported)
        #expect(e?.message.contains("not supported by this kernel") == true)
    }
}
