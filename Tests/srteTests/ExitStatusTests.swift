import Foundation
import Glibc
import Testing
import ArgumentParser
@testable import srte
@testable import SRv6Paths
@testable import LinuxSystem
import SubflowSteering
import NetworkLab

/// The one mapping from errors to exit statuses (`ExitStatus.of`), with constructed errors: no
/// root, no kernel.
@Suite struct ExitStatusTests {
    @Test func srhErrors() {
        // A header Linux would refuse: a negative result, with the byte offset.
        let invalid = ExitStatus.of(SRHError(.segmentsLeftBeyondLastEntry, offset: 3, "segments left 2 is beyond last entry 1"))
        #expect(invalid.code == 1)
        #expect(invalid.message == "not a valid SRH: segments left 2 is beyond last entry 1 (segmentsLeftBeyondLastEntry, byte offset 3)")
        // Input that cannot be built or read: unusable input.
        #expect(ExitStatus.of(SRHError(.tooManySegments, offset: 0, "too many")).code == 2)
        #expect(ExitStatus.of(SRHError(.invalidHex, offset: 2, "'x' at character 3 is not a hex digit")).code == 2)
        #expect(ExitStatus.of(SRHError(.invalidKeyID, offset: 0, "key id 0")).code == 2)
    }

    @Test func topologyAndPlanningErrors() {
        let t = ExitStatus.of(TopologyError(file: "bad.yaml", line: 5, column: 23, "link to unknown node 'r2'"))
        #expect(t.code == 2 && t.message == "bad.yaml:5:23: link to unknown node 'r2'")
        #expect(ExitStatus.of(PlanReport.Failure(message: "unknown node 'x'", isBadRequest: true)).code == 2)
        #expect(ExitStatus.of(PlanReport.Failure(message: "needs 3 SIDs, maximum SID depth 1", isBadRequest: false)).code == 1)
        #expect(ExitStatus.of(DisjointPathPlanner.PlanError(message: "same endpoints")).code == 2)
        #expect(ExitStatus.of(EncodingError(message: "cannot encode")).code == 1)
        #expect(ExitStatus.of(Topology.UnitError(message: "not a rate")).code == 2)
        #expect(ExitStatus.of(CLIFailure.negative("no path from a to b")) == (1, "no path from a to b"))
    }

    @Test func testbedErrors() {
        #expect(ExitStatus.of(TestbedError(.invalidInput, "cannot name a lab 'a/b'")) == (2, "cannot name a lab 'a/b'"))
        #expect(ExitStatus.of(TestbedError(.system, "ip failed")).code == 3)
        #expect(ExitStatus.of(TestbedError(.state, "lab x already exists")).code == 4)
        #expect(ExitStatus.of(TestbedError(.interrupted, "interrupted by SIGTERM")).code == 130)
    }

    @Test func subflowAndSteeringErrors() {
        #expect(ExitStatus.of(SubflowError(.badArgument, "bad tuple")).code == 2)
        #expect(ExitStatus.of(SubflowError(.invalidID, "no subflow 9")).code == 2)
        #expect(ExitStatus.of(SubflowError(.notUserspacePathManager, "run sysctl -w net.mptcp.pm_type=1")).code == 3)
        #expect(ExitStatus.of(SteeringError("attach tc program", errno: EPERM)).code == 3)
    }

    @Test func systemErrorsCarryErrnoAndTheKernelsMessage() {
        let n = ExitStatus.of(NetlinkError(operation: "mptcp_pm SUBFLOW_DESTROY", errno: ESRCH, extAckMessage: "subflow not found"))
        #expect(n.code == 3)
        #expect(n.message.contains("errno \(ESRCH)") && n.message.contains("subflow not found"), "\(n.message)")
        let perm = ExitStatus.of(NetlinkError(operation: "mptcp_pm GET_ADDR", errno: EPERM))
        #expect(perm.code == 3 && perm.message.contains("CAP_NET_ADMIN"))
        let s = ExitStatus.of(SystemCallError("socket(AF_INET6)", errno: EACCES))
        #expect(s.code == 3 && s.message.contains("errno \(EACCES)"))
        let p = ExitStatus.of(SubprocessError(argv: ["ip"], message: "ip not found (install iproute2)"))
        #expect(p == (3, "ip not found (install iproute2)"))
    }

    @Test func argumentErrors() {
        #expect(ExitStatus.of(ValidationError("-k must be at least 1")) == (2, "-k must be at least 1"))
        // A check in validate() reaches main wrapped by argument-parser: still exit 2.
        #expect(throws: (any Error).self) { try Srte.parseAsRoot(["srh", "build"]) }
        do { _ = try Srte.parseAsRoot(["srh", "build"]); Issue.record("parsed") } catch {
            #expect(ExitStatus.userValidationError(in: error)?.message.contains("at least one --segment") == true)
            #expect(ExitStatus.of(error).code == 2)
        }
        // An unparseable command line is argument-parser's own error, not a validation error.
        do { _ = try Srte.parseAsRoot(["srh", "frobnicate"]); Issue.record("parsed") } catch {
            #expect(ExitStatus.userValidationError(in: error) == nil)
        }
        #expect(ExitStatus.of(ExitCode(7)) == (7, ""))
    }

    @Test func contextKeepsTheCodeUnlessOverridden() {
        let e = InContext("--segment #2", IPv6AddressError(text: "1::2::3", position: 4, reason: "a second '::'"))
        #expect(ExitStatus.of(e).code == 2)
        #expect(ExitStatus.of(e).message.hasPrefix("--segment #2: invalid IPv6 address '1::2::3'"))
        #expect(ExitStatus.of(InContext("cannot listen on [::]:80", SubflowError(.badArgument, "x"), code: 3)).code == 3)
    }
}

/// `srte testbed`: one way to name a lab (`--lab`), the old spellings still parsed.
@Suite struct LabOptionTests {
    @Test(arguments: ["up", "down", "status", "exec", "link", "stats"])
    func helpNamesTheLabWithLab(subcommand: String) throws {
        let h = try runSrte(["testbed", subcommand, "--help"])
        #expect(h.status == 0)
        #expect(h.out.contains("--lab <NAME>"), "testbed \(subcommand) --help lacks --lab: \(h.out)")
        #expect(!h.out.contains("--name"), "the old spelling is hidden")
    }

    @Test func formatIsTextOrJSON() throws {
        for sub in ["up", "status", "stats"] {
            let h = try runSrte(["testbed", sub, "--help"])
            #expect(h.out.contains("--format <text|json>"), "testbed \(sub)")
        }
    }

    @Test func oldSpellingsStillParse() throws {
        let down = try #require(try Srte.parseAsRoot(["testbed", "down", "old"]) as? TestbedCommand.Down)
        #expect(try down.lab.resolve(down.legacyLab) == "old")
        let status = try #require(try Srte.parseAsRoot(["testbed", "status", "--lab", "new", "--format", "json"]) as? TestbedCommand.Status)
        #expect(try status.lab.resolve(status.legacyLab) == "new" && status.output.format == .json)
        let up = try #require(try Srte.parseAsRoot(["testbed", "up", "t.yaml", "--name", "n"]) as? TestbedCommand.Up)
        #expect(try up.lab.named(up.legacyName, spelledAs: "--name") == "n")
        // Two different names: refused in validate() (exit 2).
        #expect(throws: (any Error).self) { try Srte.parseAsRoot(["testbed", "stats", "a", "--lab", "b"]) }
        let r = try runSrte(["testbed", "status", "a", "--lab", "b"])
        #expect(r.status == 2 && r.err.contains("name different labs"), "\(r.err)")
    }

    @Test func execNeedsACommand() throws {
        let r = try runSrte(["testbed", "exec", "--lab", "x", "h1"])
        #expect(r.status == 2)
        #expect(r.err.contains("give a command after --"))
    }
}

/// Help that says what is true.
@Suite struct HelpTextTests {
    @Test func userspacePathManagerJoinsNeedASubscriber() throws {
        for cmd in [["serve"], ["monitor"], ["testbed", "up"]] {
            let h = try runSrte(cmd + ["--help"])
            #expect(h.out.contains("mptcp_pm_events"), "\(cmd) help lacks the subscriber rule")
        }
    }

    @Test func noDelayBridgeSubcommand() throws {
        for cmd in [["--help"], ["testbed", "--help"], ["testbed", "up", "--help"], ["experiment", "--help"]] {
            let h = try runSrte(cmd)
            // Named only as the executable, never as a subcommand.
            let lines = h.out.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            #expect(!lines.contains { $0.hasPrefix("delay-bridge") }, "\(cmd)")
            #expect(!h.out.contains("testbed delay-bridge"), "\(cmd)")
        }
        #expect(try runSrte(["testbed", "delay-bridge"]).status == 64)
    }

    @Test func rootHelpStatesTheExitStatuses() throws {
        // Help wraps lines: compare with single spaces.
        let h = try runSrte(["--help"]).out.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for s in ["0 success", "1 a negative", "2 unusable input", "3 a system or kernel error"] {
            #expect(h.contains(s), "root help lacks \(s)")
        }
    }
}
