import Foundation
import Testing
import SRv6Paths
@testable import SubflowSteering
@testable import LinuxSystem
import TestSupport

func hex(_ s: String) -> [UInt8] {
    var out: [UInt8] = []
    var i = s.startIndex
    while i < s.endIndex {
        let j = s.index(i, offsetBy: 2)
        out.append(UInt8(s[i..<j], radix: 16)!)
        i = j
    }
    return out
}

/// A message-level fake of the kernel: each request gets the next scripted
/// datagrams; what srte sent is recorded for comparison with golden bytes.
final class FakeTransport: NetlinkTransport {
    let portID: UInt32
    var script: [[[UInt8]]]
    var sent: [[UInt8]] = []
    var pending: [[UInt8]] = []
    init(portID: UInt32, script: [[[UInt8]]]) {
        self.portID = portID
        self.script = script
    }
    func send(_ bytes: [UInt8]) throws(NetlinkError) {
        sent.append(bytes)
        pending = script.isEmpty ? [] : script.removeFirst()
    }
    func receive() throws(NetlinkError) -> [UInt8]? {
        pending.isEmpty ? nil : pending.removeFirst()
    }
}

/// Parameters of the captured exchange (see Golden/MPTCPGolden.swift).
enum Captured {
    static let token: UInt32 = 0x736c_19c7
    static let kernelPort: UInt32 = 0x9c81_527a
    static let firstSequence: UInt32 = 0x6b02_6449
    static let local = SocketEndpoint(IPv6Address("fc00:1::1")!, port: 41234)
    static let remote = SocketEndpoint(IPv6Address("fc00:1::2")!, port: 5000)
}

@Suite struct NetlinkGoldenTests {
    /// The whole captured session replayed: every request srte builds is byte
    /// for byte what went to the kernel, and every reply decodes as the kernel meant.
    @Test func replayCapturedSession() throws {
        let fake = FakeTransport(portID: Captured.kernelPort, script: [
            Golden.resolveReceived.map(hex), Golden.createReceived.map(hex), Golden.setflagsReceived.map(hex),
            Golden.badtokenReceived.map(hex), Golden.notfoundReceived.map(hex), Golden.destroyReceived.map(hex),
        ])
        let pm = try MPTCPPathManager(connection: NetlinkConnection(transport: fake, firstSequence: Captured.firstSequence - 1))
        #expect(pm.family.name == "mptcp_pm")
        #expect(pm.family.id == 0x1c)
        #expect(pm.family.version == 1)
        #expect(pm.family.multicastGroups["mptcp_pm_events"] != nil)

        try pm.createSubflow(token: Captured.token, localID: 7, local: Captured.local, remote: Captured.remote, interfaceIndex: 2, backup: true)
        try pm.setBackup(token: Captured.token, local: Captured.local, remote: Captured.remote, backup: false)
        let bad = #expect(throws: NetlinkError.self) {
            try pm.createSubflow(token: Captured.token + 1, localID: 8, local: SocketEndpoint(Captured.local.address, port: 41235), remote: Captured.remote)
        }
        #expect(bad?.errno == EINVAL)
        #expect(bad?.extAckMessage == "invalid token")
        #expect(bad?.extAckOffset == 20, "the token attribute: 16-byte nlmsghdr + 4-byte genlmsghdr")
        #expect(bad?.operation == "mptcp_pm SUBFLOW_CREATE")
        #expect(bad?.sequence == Captured.firstSequence + 3)
        let missing = #expect(throws: NetlinkError.self) {
            try pm.destroySubflow(token: Captured.token, local: SocketEndpoint(Captured.local.address, port: 41999), remote: Captured.remote)
        }
        #expect(missing?.errno == ESRCH)
        #expect(missing?.extAckMessage == "subflow not found")
        #expect(missing?.description == "mptcp_pm SUBFLOW_DESTROY: No such process (errno 3): subflow not found")
        try pm.destroySubflow(token: Captured.token, local: Captured.local, remote: Captured.remote)

        let golden = [Golden.resolveSent, Golden.createSent, Golden.setflagsSent, Golden.badtokenSent, Golden.notfoundSent, Golden.destroySent].map { hex($0[0]) }
        #expect(fake.sent.count == golden.count)
        for (i, (mine, kernel)) in zip(fake.sent, golden).enumerated() {
            #expect(mine == kernel, "request \(i) differs from the captured bytes")
        }
    }

    @Test(arguments: Golden.eventClientReceived + Golden.eventServerReceived)
    func eventsRoundTrip(_ h: String) throws {
        let bytes = hex(h)
        let ms = try NetlinkMessage.decode(bytes)
        #expect(ms.count == 1)
        #expect(ms.flatMap(\.encoded) == bytes, "decode then encode gives the kernel's bytes back")
        let e = try MPTCPEvent(decoding: ms[0])
        #expect(e.token != nil)
    }

    @Test func decodesClientSubflowEvents() throws {
        let es = try Golden.eventClientReceived.map { try MPTCPEvent(decoding: NetlinkMessage.decode(hex($0))[0]) }
        #expect(es.map(\.type) == [.established, .subflowEstablished, .subflowClosed])
        #expect(es[0].local == SocketEndpoint(IPv6Address("fc00:1::1")!, port: 40200))
        let sub = es[1]
        #expect(sub.token == Captured.token)
        #expect(sub.local == Captured.local)
        #expect(sub.remote == Captured.remote)
        #expect(sub.localID == 7 && sub.remoteID == 0)
        #expect(sub.interfaceIndex == 2)
        // Measured: the joining side reports backup=0 in SUB_ESTABLISHED even for a
        // backup join (the flag reaches the peer: see the server's event).
        #expect(sub.backup == false)
        #expect(es[2].type == .subflowClosed && es[2].local == Captured.local)
        #expect(sub.description == "[SUB_ESTABLISHED] token=1936464327 loc_id=7 rem_id=0 local=[fc00:1::1]:41234 remote=[fc00:1::2]:5000 backup=0 ifindex=2")
    }

    @Test func decodesServerEvents() throws {
        let es = try Golden.eventServerReceived.map { try MPTCPEvent(decoding: NetlinkMessage.decode(hex($0))[0]) }
        #expect(es.map(\.type) == [.created, .established, .subflowEstablished, .subflowPriority, .subflowClosed])
        #expect(es[0].serverSide == true)
        #expect(es[0].remote == SocketEndpoint(IPv6Address("fc00:1::1")!, port: 40200))
        #expect(es[2].backup == true, "the peer sees the join's backup flag")
        #expect(es[2].remoteID == 7)
        #expect(es[3].backup == false, "SET_FLAGS nobackup reached the peer as MP_PRIO")
    }

    @Test func requestBuildersMatchKernelBytes() throws {
        // The generic netlink header and attributes of SUBFLOW_DESTROY, without nlmsghdr.
        let golden = hex(Golden.destroySent[0])
        let payload = MPTCPRequest.subflowDestroy(token: Captured.token, local: Captured.local, remote: Captured.remote)
        #expect(Array(golden.dropFirst(16)) == payload)
        let lookup = GenericNetlinkFamily.lookupPayload("mptcp_pm")
        #expect(Array(hex(Golden.resolveSent[0]).dropFirst(16)) == lookup)
    }
}

@Suite struct NetlinkCodecTests {
    @Test func truncatedDatagramsAreErrorsNotCrashes() throws {
        let bytes = hex(Golden.resolveReceived[0])
        for cut in stride(from: 1, to: bytes.count, by: 7) {
            let piece = Array(bytes.prefix(cut))
            if let ms = try? NetlinkMessage.decode(piece) {
                // Only a whole number of whole messages may decode.
                #expect(ms.isEmpty || cut >= 16)
                for m in ms { _ = try? GenericNetlinkFamily(decoding: m) }
            }
        }
        #expect(throws: NetlinkDecodingError.self) { try NetlinkMessage.decode(Array(bytes.prefix(40))) }
    }

    @Test func attributeLengthsAreChecked() throws {
        #expect(throws: NetlinkDecodingError.self) { try NetlinkAttribute.decode([8, 0, 1, 0, 1, 2]) }
        let a = try NetlinkAttribute.decode([5, 0, 1, 0, 9, 0, 0, 0])[0]
        #expect(try a.u8() == 9)
        #expect(throws: NetlinkDecodingError.self) { try a.u32() }
    }

    @Test func sequenceMismatchIsRejected() throws {
        var reply = hex(Golden.createReceived[0])
        reply[8] &+= 5   // nlmsg_seq of the ack
        let fake = FakeTransport(portID: Captured.kernelPort, script: [[reply]])
        let c = NetlinkConnection(transport: fake, firstSequence: Captured.firstSequence)
        let e = #expect(throws: NetlinkError.self) {
            try c.request(type: NetlinkMessageType(rawValue: 0x1c), payload: [10, 1, 0, 0], operation: "test")
        }
        #expect(e?.errno == EPROTO)
    }

    @Test func staleRepliesAreSkippedAndTimeoutsReported() throws {
        let stale = hex(Golden.createReceived[0])   // seq firstSequence+1
        let fake = FakeTransport(portID: Captured.kernelPort, script: [[stale]])
        let c = NetlinkConnection(transport: fake, firstSequence: Captured.firstSequence + 1)
        let e = #expect(throws: NetlinkError.self) {
            try c.request(type: NetlinkMessageType(rawValue: 0x1c), payload: [10, 1, 0, 0], operation: "test")
        }
        #expect(e?.errno == ETIMEDOUT)
    }

    @Test func failedDumpReportsTheErrorFromDone() throws {
        // NLMSG_DONE carrying -EPERM (as a dump refused mid-way would), for our sequence number.
        let seq = Captured.firstSequence + 1
        let done = NetlinkMessage(type: .done, flags: .multi, sequence: seq, portID: Captured.kernelPort, payload: [0xff, 0xff, 0xff, 0xff]).encoded
        let fake = FakeTransport(portID: Captured.kernelPort, script: [[done]])
        let c = NetlinkConnection(transport: fake, firstSequence: Captured.firstSequence)
        let e = #expect(throws: NetlinkError.self) {
            try c.request(type: NetlinkMessageType(rawValue: 20), flags: .dump, payload: [10, 6, 0, 0], operation: "dump")
        }
        #expect(e?.errno == EPERM)
        // An empty dump: DONE with 0.
        let ok = NetlinkMessage(type: .done, flags: .multi, sequence: seq + 1, portID: Captured.kernelPort, payload: [0, 0, 0, 0]).encoded
        let fake2 = FakeTransport(portID: Captured.kernelPort, script: [[ok]])
        let c2 = NetlinkConnection(transport: fake2, firstSequence: seq)
        #expect(try c2.request(type: NetlinkMessageType(rawValue: 20), flags: .dump, payload: [], operation: "dump").isEmpty)
    }

    @Test func nestedLengthIsBackPatched() {
        var w = ByteWriter()
        w.nested(1) { n in n.attribute(2, UInt8(7)) }
        #expect(w.bytes == [12, 0, 1, 0x80, 5, 0, 2, 0, 7, 0, 0, 0])
    }

    @Test func endpointParsing() {
        #expect(SocketEndpoint(parsing: "[fc00::1]:80") == SocketEndpoint(IPv6Address("fc00::1")!, port: 80))
        #expect(SocketEndpoint(parsing: "fc00::1")?.port == 0)
        #expect(SocketEndpoint(parsing: "10.0.0.1:5")?.isIPv4 == true)
        #expect(SocketEndpoint(parsing: "10.0.0.1:5")?.description == "10.0.0.1:5")
        #expect(SocketEndpoint(parsing: "[fc00::1]:99999") == nil)
    }
}
