import Testing
import Glibc
@testable import LinuxSystem

/// `NetlinkConnection.query`: a request answered by exactly one message, sent without
/// NLM_F_ACK (what the agent's exact sock_diag requests use), against a scripted fake kernel.
@Suite struct NetlinkQueryTests {
    let type = NetlinkMessageType(rawValue: 20)    // SOCK_DIAG_BY_FAMILY

    func reply(sequence: UInt32, payload: [UInt8] = [1, 2, 3, 4]) -> [UInt8] {
        NetlinkMessage(type: type, flags: [], sequence: sequence, portID: 77, payload: payload).encoded
    }

    func error(_ errno: Int32, sequence: UInt32) -> [UInt8] {
        let request = NetlinkMessage(type: type, flags: [.request], sequence: sequence, portID: 0, payload: []).encoded
        return NetlinkMessage(type: .error, flags: [], sequence: sequence, portID: 77,
                              payload: withUnsafeBytes(of: -errno) { Array($0) } + request.prefix(16)).encoded
    }

    @Test func theAnswerIsTheOneMessageAndNoAckIsAsked() throws {
        let fake = FakeTransport(portID: 77, script: [[reply(sequence: 1)]])
        let c = NetlinkConnection(transport: fake)
        let m = try c.query(type: type, payload: [9, 9], operation: "lookup")
        #expect(m.payload == [1, 2, 3, 4] && m.sequence == 1)
        let sent = try NetlinkMessage.decode(fake.sent[0])
        #expect(sent.count == 1 && sent[0].flags == [.request], "NLM_F_REQUEST only: \(sent[0].flags)")
    }

    @Test func aLateReplyToAnEarlierRequestIsSkipped() throws {
        let fake = FakeTransport(portID: 77, script: [[], [reply(sequence: 1, payload: [0]), reply(sequence: 2)]])
        let c = NetlinkConnection(transport: fake)
        #expect(throws: NetlinkError.self) { _ = try c.query(type: type, payload: [], operation: "first") }   // no answer: timed out
        let m = try c.query(type: type, payload: [], operation: "second")
        #expect(m.sequence == 2 && m.payload == [1, 2, 3, 4])
    }

    @Test func anErrorIsThrownWithItsErrno() {
        let fake = FakeTransport(portID: 77, script: [[error(ENOENT, sequence: 1)]])
        let c = NetlinkConnection(transport: fake)
        do {
            _ = try c.query(type: type, payload: [], operation: "lookup")
            Issue.record("no error thrown")
        } catch {
            #expect(error.errno == ENOENT, "\(error)")
        }
    }

    @Test func noAnswerIsATimeout() {
        let fake = FakeTransport(portID: 77, script: [[]])
        let c = NetlinkConnection(transport: fake)
        do {
            _ = try c.query(type: type, payload: [], operation: "lookup")
            Issue.record("no error thrown")
        } catch {
            #expect(error.errno == ETIMEDOUT, "\(error)")
        }
    }
}
