import Foundation
import Testing
import SRv6Paths
@testable import SubflowSteering
@testable import LinuxSystem
import TestSupport

/// Captures the golden netlink bytes used by NetlinkGoldenTests from the running
/// kernel. Opt-in: `SRTE_CAPTURE_GOLDEN=/tmp/golden.txt swift test --filter GoldenCapture`
/// (root). Writes lines "name sent|received hex".
@Suite(.enabled(if: isRoot && ProcessInfo.processInfo.environment["SRTE_CAPTURE_GOLDEN"] != nil, "set SRTE_CAPTURE_GOLDEN=FILE (root) to capture golden bytes"))
struct GoldenCapture {
    @Test func capture() throws {
        let out = ProcessInfo.processInfo.environment["SRTE_CAPTURE_GOLDEN"]!
        let log = LockedLog()
        let lab = try MPTCPLab("gold")
        let (c, accepted) = try lab.connect(from: SocketEndpoint(lab.client.address, port: 40200))
        log.name = "resolve"
        let pm = try NetworkNamespace.run(in: lab.lab.ns("c")) { () throws -> MPTCPPathManager in
            let conn = try NetlinkConnection(.generic)
            conn.trace = { sent, b in log.add("\(log.name) \(sent ? "sent" : "received") \(b.map { String(format: "%02x", $0) }.joined())") }
            return try MPTCPPathManager(connection: conn)
        }
        pm.setTrace { sent, b in log.add("\(log.name) \(sent ? "sent" : "received") \(b.map { String(format: "%02x", $0) }.joined())") }
        log.name = "create"
        try pm.createSubflow(token: c.token, localID: 7, local: SocketEndpoint(lab.client.address, port: 41234), remote: lab.server, interfaceIndex: lab.clientInterface, backup: true)
        Thread.sleep(forTimeInterval: 0.2)
        log.name = "setflags"
        try pm.setBackup(token: c.token, local: SocketEndpoint(lab.client.address, port: 41234), remote: lab.server, backup: false)
        log.name = "badtoken"
        _ = try? pm.createSubflow(token: c.token &+ 1, localID: 8, local: SocketEndpoint(lab.client.address, port: 41235), remote: lab.server)
        log.name = "notfound"
        _ = try? pm.destroySubflow(token: c.token, local: SocketEndpoint(lab.client.address, port: 41999), remote: lab.server)
        log.name = "destroy"
        try pm.destroySubflow(token: c.token, local: SocketEndpoint(lab.client.address, port: 41234), remote: lab.server)
        Thread.sleep(forTimeInterval: 0.2)
        for e in c.subscription.subscription.receiveAllRaw() { log.add("event-client received \(e.map { String(format: "%02x", $0) }.joined())") }
        for e in lab.serverEvents!.subscription.receiveAllRaw() { log.add("event-server received \(e.map { String(format: "%02x", $0) }.joined())") }
        withExtendedLifetime(accepted) {}
        try log.lines.joined(separator: "\n").write(toFile: out, atomically: true, encoding: .utf8)
    }
}

final class LockedLog: @unchecked Sendable {
    private let l = NSLock()
    private var _lines: [String] = []
    private var _name = ""
    var name: String { get { l.lock(); defer { l.unlock() }; return _name } set { l.lock(); _name = newValue; l.unlock() } }
    func add(_ s: String) { l.lock(); _lines.append(s); l.unlock() }
    var lines: [String] { l.lock(); defer { l.unlock() }; return _lines }
}
