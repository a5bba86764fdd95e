import Foundation
import Testing
@testable import SubflowSteering
import NetworkLab
import LinuxSystem
import SRv6Paths
import TestSupport

/// Argument handling of the MPTCP subcommands (no root, no kernel needed).
@Suite struct MPTCPCLITests {
    @Test func closeRejectsEndpointsWithoutPort() throws {
        let r = try runSrte(["close", "--token", "1", "--local", "fc00::1", "--remote", "[fc00::2]:80"])
        #expect(r.status == 2)
        #expect(r.err == "srte: --local 'fc00::1' is not [ADDR]:PORT with a port\n")
    }

    @Test func closeWithResetIsRefusedUpstream() throws {
        let r = try runSrte(["close", "--token", "1", "--local", "[fc00::1]:4", "--remote", "[fc00::2]:80", "--reset"])
        #expect(r.status == 3)
        #expect(r.err.contains("RST is not supported by this kernel"))
    }

    @Test func hexFormatIsAValidationError() throws {
        let r = try runSrte(["subflows", "--format", "hex"])
        #expect(r.status != 0)
        #expect(r.err.contains("--format hex is not available here"))
        let m = try runSrte(["monitor", "--count", "0"])
        #expect(m.status != 0)
        #expect(m.err.contains("--count must be at least 1"))
    }

    @Test func unknownNamespaceIsOneLine() throws {
        let r = try runSrte(["subflows", "--netns", "srte-no-such-namespace"])
        #expect(r.status == 2)
        #expect(r.err.split(separator: "\n").count == 1)
        #expect(r.err.contains("srte-no-such-namespace"))
    }

    @Test func helpListsTheCommands() throws {
        let r = try runSrte(["--help"])
        for c in ["subflows", "close", "monitor"] { #expect(r.out.contains(c)) }
    }
}
