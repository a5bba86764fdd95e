import Foundation
import Testing
import TestSupport
import NetworkLab
import Glibc

/// The C API's control connection to the agent: one per thread, kept from call to call,
/// reconnected transparently when the agent restarted, never shared with a forked child
/// (capi/tests/conn_client.c, in h1 of a diamond lab).
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates network namespaces"), .timeLimit(.minutes(3)))
struct CAPIConnectionTests {
    func startAgent(_ bed: Testbed, policy: String) throws -> (Process, Collected) {
        let p = Process()
        p.executableURL = srteBinary()
        p.arguments = ["agent", "--netns", bed.namespace(of: "h1")!, "--policy", policy, "--for", "120"]
        let err = Pipe(), collected = Collected()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        err.fileHandleForReading.readabilityHandler = { h in collected.append(h.availableData) }
        try p.run()
        return (p, collected)
    }

    @Test func callsOnOneThreadShareAConnectionThatSurvivesAnAgentRestartAndNoChildInheritsIt() throws {
        let build = try CAPIBuild()
        defer { build.remove() }
        let client = build.dir + "/conn_client"
        let cc = try runTool(["gcc", "-Wall", "-Wextra", "-Werror", "-pthread", "-I", packageRoot + "/capi/include", "-o", client,
                              packageRoot + "/capi/tests/conn_client.c", "-L", build.dir, "-lsrte-mptcp", "-Wl,-rpath," + build.dir])
        #expect(cc.status == 0, "\(cc.out)")
        let bed = try Testbed.up(try bundledTopology("diamond.yaml"), lab: "cn\(getpid() % 100000)")
        defer { _ = try? bed.down() }
        let policy = try agentPolicyFile("rules:\n  - match: { to: \"fc00:2::/64\", port: 5999 }\n    paths: [direct]\n")
        defer { try? FileManager.default.removeItem(atPath: policy) }
        var (agent, log) = try startAgent(bed, policy: policy)
        defer { if agent.isRunning { agent.terminate(); agent.waitUntilExit() } }
        #expect(log.wait(for: "started", seconds: 10), "\(log.text)")
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
        agent.terminate()
        agent.waitUntilExit()
        (agent, log) = try startAgent(bed, policy: policy)
        #expect(log.wait(for: "started", seconds: 10), "\(log.text)")
        signal(SIGPIPE, SIG_IGN)     // the client may have ended already: the test reports it
        if p.isRunning { input.fileHandleForWriting.write(Data("go\n".utf8)) }
        let deadline = Date().addingTimeInterval(20)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        #expect(!p.isRunning, "the client did not finish: \(out.text)")
        let text = out.text
        #expect(text.contains("after-restart hello pid=\(agent.processIdentifier) ids n=1 sockets=1") && text.contains("new=1"),
                "the next calls reach the new agent on a new connection, without an error: \(text)")
        // fork(): the child finds no copy of the parent's connection and opens its own.
        #expect(text.contains("fork child-inherited=0 before=0 child-hello ok child-sockets=1"), "\(text)")
        // A child the fork handlers did not see: the inherited connection is not used (it is
        // another process's), and not closed either.
        #expect(text.contains("raw-fork child-inherited=1 before=1 child-hello ok child-sockets=2"), "\(text)")
        // The parent keeps its connection.
        #expect(text.contains("parent sockets=1 conn-same=1 hello ok conn-after=1"), "\(text)")
        serve.terminate()
    }
}
