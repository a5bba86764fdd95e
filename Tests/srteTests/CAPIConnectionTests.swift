import Foundation
import Testing
import TestSupport
import NetworkLab
import LinuxSystem
import Glibc

/// The C API's control connection to the agent: one per thread, kept from call to call,
/// reconnected transparently when the agent restarted, never shared with a forked child
/// (capi/tests/conn_client.c, in h1 of a diamond lab).
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates network namespaces"), .timeLimit(.minutes(3)))
struct CAPIConnectionTests {
    @Test func callsOnOneThreadShareAConnectionThatSurvivesAnAgentRestartAndNoChildInheritsIt() throws {
        let build = try CAPIBuild()
        defer { build.remove() }
        let client = try build.compileClient("conn_client", pthread: true)
        let lab = try AgentLab("cn", policy: "rules:\n  - match: { to: \"fc00:2::/64\", port: 5999 }\n    paths: [direct]\n")
        defer { lab.close() }
        let bed = lab.bed
        let serve = try startServe(inNamespace: bed.namespace(of: "h2")!)
        defer { if serve.isRunning { serve.terminate() } }
        Thread.sleep(forTimeInterval: 0.3)

        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["ip", "netns", "exec", bed.namespace(of: "h1")!, client, "fc00:2::2", "5201"]
        let input = Pipe(), output = Pipe(), out = Collected()
        p.standardInput = input
        p.standardOutput = output
        p.standardError = output
        output.fileHandleForReading.readabilityHandler = { h in out.append(h.availableData) }
        try p.run()
        defer { if p.isRunning { p.terminate() } }
        #expect(out.wait(for: "ready", seconds: 20), "\(out.text)")
        let first = out.text
        // Ten calls, one connection; a second thread has its own, closed when the thread ends;
        // a call with a socket goes over the same connection.
        #expect(first.contains("calls n=10 ok sockets=1") && first.contains("same=1"), "\(first)")
        #expect(first.contains("thread sockets=2") && first.contains("joined sockets=1"), "\(first)")
        #expect(first.contains("ids n=1 conn-same=1"), "\(first)")

        // The agent restarts while the client holds its connection.
        try lab.restartAgent()
        signal(SIGPIPE, SIG_IGN)     // the client may have ended already: the test reports it
        if p.isRunning { input.fileHandleForWriting.write(Data("go\n".utf8)) }
        let deadline = Date().addingTimeInterval(20)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        #expect(!p.isRunning, "the client did not finish: \(out.text)")
        let text = out.text
        #expect(text.contains("after-restart hello pid=\(lab.agent.processIdentifier) ids n=1 sockets=1") && text.contains("new=1"),
                "the next calls reach the new agent on a new connection, without an error: \(text)")
        // fork(): the child finds no copy of the parent's connection and opens its own.
        #expect(text.contains("fork child-inherited=0 before=0 child-hello ok child-sockets=1"), "\(text)")
        // A child the fork handlers did not see: the inherited connection is not used (it is
        // another process's), and not closed either.
        #expect(text.contains("raw-fork child-inherited=1 before=1 child-hello ok child-sockets=2"), "\(text)")
        // The parent keeps its connection.
        #expect(text.contains("parent sockets=1 conn-same=1 hello ok conn-after=1"), "\(text)")
        // The program closed the connection's descriptor and opened a file on its number: the
        // library connects again and never writes to the file.
        #expect(text.contains("reused-number hello ok file-intact=1 sockets=1 new=1"), "\(text)")
        serve.terminate()
    }

    /// At the protocol level: a connection whose requests carry the keep flag (header flags bit
    /// 0) carries requests one after another, each answered on its own with the flag echoed (a
    /// refused one does not end the connection); a request without the flag, or a frame whose
    /// end cannot be told, is answered and ends it (end of file), as before the flag existed.
    @Test func oneConnectionCarriesRequestsWhileTheyAskToKeepIt() throws {
        let lab = try AgentLab("cm", policy: "rules:\n  - match: { to: \"fc00:2::/64\", port: 5999 }\n    paths: [direct]\n")
        defer { lab.close() }
        let bed = lab.bed
        let cookie = try NetworkNamespace.run(in: bed.namespace(of: "h1")!) { try NetworkNamespace.currentCookie() }
        let path = "/run/srte/agent-\(cookie).sock"
        func header(op: UInt8, length: Int, flags: UInt8 = 1) -> [UInt8] {
            [0x53, 0x52, 0x54, 0x41, 1, op, 0, flags] + withUnsafeBytes(of: UInt32(length).bigEndian, Array.init) + [0, 0, 0, 0]
        }
        /// One answer on `s`: (op, flags, error, body length), read exactly.
        func answer(_ s: Int32) -> (op: UInt8, flags: UInt8, error: Int32, length: Int)? {
            var h = [UInt8](repeating: 0, count: 16)
            guard recv(s, &h, 16, Int32(MSG_WAITALL)) == 16, Array(h[0..<4]) == [0x53, 0x52, 0x54, 0x41] else { return nil }
            let length = Int(UInt32(h[8]) << 24 | UInt32(h[9]) << 16 | UInt32(h[10]) << 8 | UInt32(h[11]))
            var body = [UInt8](repeating: 0, count: max(1, length))
            if length > 0 { guard recv(s, &body, length, Int32(MSG_WAITALL)) == length else { return nil } }
            return (h[5], h[7], Int32(bitPattern: UInt32(h[12]) << 24 | UInt32(h[13]) << 16 | UInt32(h[14]) << 8 | UInt32(h[15])), length)
        }
        func connect() throws -> Int32 {
            let s = try UnixSocket.connect(to: path)
            var tv = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            return s
        }
        func ended(_ s: Int32) -> Bool {
            var byte: UInt8 = 0
            return recv(s, &byte, 1, 0) == 0
        }
        let s = try connect()
        defer { close(s) }
        try UnixSocket.send(s, header(op: 1, length: 0), credentials: true)
        let first = answer(s)
        #expect(first?.op == 1 && first?.error == 0 && first?.length == 28 && first?.flags == 1, "\(String(describing: first))")
        try UnixSocket.send(s, header(op: 1, length: 0, flags: 3), credentials: true)
        let refused = answer(s)
        #expect(refused?.op == 1 && refused?.error == EINVAL && refused?.flags == 1, "only bit 0 is a flag: \(String(describing: refused))")
        // Two requests in one write: both answered, in order.
        try UnixSocket.send(s, header(op: 200, length: 0) + header(op: 1, length: 0), credentials: true)
        let unknown = answer(s), second = answer(s)
        #expect(unknown?.op == 200 && unknown?.error == ENOSYS, "\(String(describing: unknown))")
        #expect(second?.op == 1 && second?.error == 0, "\(String(describing: second))")
        // A length beyond the limit: answered without the flag, then the connection ends.
        try UnixSocket.send(s, header(op: 2, length: 100_000), credentials: true)
        let big = answer(s)
        #expect(big?.error == EMSGSIZE && big?.flags == 0, "\(String(describing: big))")
        #expect(ended(s), "the agent closes the connection after a frame it cannot delimit")

        // Without the flag: one answer, then end of file (a client that reads to the end works).
        let once = try connect()
        defer { close(once) }
        try UnixSocket.send(once, header(op: 1, length: 0, flags: 0), credentials: true)
        let only = answer(once)
        #expect(only?.error == 0 && only?.flags == 0, "\(String(describing: only))")
        #expect(ended(once), "without the flag the connection ends after the answer")
    }

    /// The C API against an agent that closes after each answer and refuses any flag (as agents
    /// before the keep flag did): a fake speaking that protocol on SRTE_AGENT_SOCKET. Every
    /// call succeeds, and the library holds no connection between calls.
    @Test func theCAPIFallsBackToAConnectionPerCallWithAnAgentThatDoesNotKeepThem() throws {
        let build = try CAPIBuild()
        defer { build.remove() }
        let client = try build.compileClient("conn_client", pthread: true)
        let path = build.dir + "/old-agent.sock"
        let listener = try UnixSocket.listen(at: path, mode: 0o600)
        defer { close(listener); unlink(path) }
        let served = Collected()
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            defer { done.signal() }
            var flagged = 0, plain = 0
            for _ in 0..<7 {      // 1 refused + 5 served, and a spare
                var p = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
                guard poll(&p, 1, 5000) > 0 else { break }
                let c = accept(listener, nil, nil)
                guard c >= 0 else { break }
                var h = [UInt8](repeating: 0, count: 16)
                _ = recv(c, &h, 16, Int32(MSG_WAITALL))
                var out: [UInt8] = [0x53, 0x52, 0x54, 0x41, 1, h[5], 0, 0]
                if h[6] != 0 || h[7] != 0 {
                    let msg = Array("the header's flags (bytes 6-7) and reserved word (bytes 12-15) must be 0".utf8)
                    out += withUnsafeBytes(of: UInt32(msg.count).bigEndian, Array.init) + withUnsafeBytes(of: EINVAL.bigEndian, Array.init) + msg
                    flagged += 1
                } else {
                    out += withUnsafeBytes(of: UInt32(28).bigEndian, Array.init) + [0, 0, 0, 0] + [0, 1, 0, 1] + [UInt8](repeating: 0, count: 24)
                    plain += 1
                }
                _ = out.withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                close(c)
                served.append(Data("flagged=\(flagged) plain=\(plain)\n".utf8))
                if plain == 5 { break }
            }
        }
        let r = try runTool(["SRTE_AGENT_SOCKET=\(path)", client, "--hellos", "5"])
        done.wait()
        #expect(r.out.contains("hellos n=5 ok=5 errno=0 sockets=0"), "\(r.out)")
        #expect(served.text.contains("flagged=1 plain=5"), "one refused request, then five on connections of their own: \(served.text)")
    }
}
