import Foundation
import Testing
import SubflowSteering
import SRv6Paths
import LinuxSystem

/// Whether privileged (root, network-namespace) tests can run here.
package let isRoot = geteuid() == 0

/// A set of network namespaces created by one test and always deleted again.
///
/// Names are `st<pid>-<tag>-<node>` so parallel tests and leftovers from a
/// killed run are told apart; ``TestLab/sweepStale()`` removes namespaces of
/// dead test processes.
package final class TestLab: @unchecked Sendable {
    package let prefix: String
    private(set) var namespaces: [String] = []

    /// Creates namespaces named after `nodes` (with loopback up).
    package init(_ tag: String, nodes: [String]) throws {
        TestLab.sweepStale()
        prefix = "st\(getpid())-\(tag)-"
        do {
            for n in nodes {
                let name = prefix + n
                try TestLab.sh(["ip", "netns", "add", name])
                namespaces.append(name)
                try exec(n, ["ip", "link", "set", "lo", "up"])
            }
        } catch {
            destroy()
            throw error
        }
    }

    deinit { destroy() }

    /// Full namespace name of `node`.
    package func ns(_ node: String) -> String { prefix + node }

    /// Runs a command inside `node`'s namespace; throws with its stderr on failure.
    @discardableResult
    package func exec(_ node: String, _ args: [String], stdin: String? = nil) throws -> String {
        try TestLab.sh(["ip", "netns", "exec", ns(node)] + args, stdin: stdin)
    }

    /// Connects `a` and `b` with a veth pair named `a-b`/`b-a` (truncated to 15 chars).
    package func link(_ a: String, _ b: String) throws -> (String, String) {
        let ia = String("\(a)-\(b)".prefix(15)), ib = String("\(b)-\(a)".prefix(15))
        try TestLab.sh(["ip", "link", "add", ia, "netns", ns(a), "type", "veth", "peer", "name", ib, "netns", ns(b)])
        try exec(a, ["ip", "link", "set", ia, "up"])
        try exec(b, ["ip", "link", "set", ib, "up"])
        return (ia, ib)
    }

    /// Sets a sysctl inside `node`.
    package func sysctl(_ node: String, _ key: String, _ value: String) throws {
        try exec(node, ["sysctl", "-qw", "\(key)=\(value)"])
    }

    /// `net.mptcp.blackhole_timeout=0` in `nodes` (a per-namespace sysctl, Linux 6.12+; skipped
    /// where the kernel lacks it): otherwise one lost MPTCP SYN makes the kernel open the
    /// namespace's later MPTCP connections as plain TCP for an hour.
    package func disableMPTCPBlackhole(_ nodes: String...) throws {
        guard FileManager.default.fileExists(atPath: "/proc/sys/net/mptcp/blackhole_timeout") else { return }
        for n in nodes { try sysctl(n, "net.mptcp.blackhole_timeout", "0") }
    }

    /// Deletes every namespace this lab created (idempotent).
    package func destroy() {
        for n in namespaces.reversed() { _ = try? TestLab.sh(["ip", "netns", "del", n]) }
        namespaces.removeAll()
    }

    /// Deletes `st<pid>-…` namespaces whose process no longer exists.
    package static func sweepStale() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/run/netns") else { return }
        for n in names where n.hasPrefix("st") {
            let digits = n.dropFirst(2).prefix { $0.isNumber }
            guard let pid = Int32(digits), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            _ = try? sh(["ip", "netns", "del", n])
        }
    }

    package struct CommandFailed: Error, CustomStringConvertible {
        package var command: [String]
        package var status: Int32
        package var stderr: String
        package var description: String { "\(command.joined(separator: " ")) exited \(status): \(stderr)" }
    }

    /// Runs a command (searched in PATH), returns stdout; throws with stderr on a non-zero exit.
    @discardableResult
    package static func sh(_ args: [String], stdin: String? = nil) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        let inPipe = Pipe()
        p.standardInput = inPipe
        try p.run()
        if let stdin { inPipe.fileHandleForWriting.write(Data(stdin.utf8)) }
        try? inPipe.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw CommandFailed(command: args, status: p.terminationStatus, stderr: String(decoding: e, as: UTF8.self))
        }
        return String(decoding: o, as: UTF8.self)
    }
}

/// The kernel's message when it has no seg6 routes (`CONFIG_IPV6_SEG6_LWTUNNEL`: `encap seg6`
/// and `seg6local`), probed once in the test process's namespace; `nil` when it has them.
package let seg6RoutesProblem: String? = isRoot ? PolicyRoutingSteering.kernelProblem() : nil

/// Cancels the current test (case) with the reason when the kernel has no seg6 routes: the
/// policy-routing mechanism cannot work there, and `PolicyRoutingSteering()` says so (tested by
/// `PolicyRoutingSteeringTests.missingSeg6RoutesAreNamed`).
package func requireSeg6Routes() throws {
    if let p = seg6RoutesProblem {
        try Test.cancel("skipped: this kernel has no seg6 routes (CONFIG_IPV6_SEG6_LWTUNNEL; the kernel said: \(p))")
    }
}

/// What `ip sr hmac show` printed when the kernel has no SRv6 HMAC (`CONFIG_IPV6_SEG6_HMAC`);
/// `nil` when it has it (or when not root: those suites are skipped anyway).
package let seg6HMACProblem: String? = {
    guard isRoot else { return nil }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["ip", "sr", "hmac", "show"]
    let err = Pipe()
    p.standardOutput = FileHandle.nullDevice
    p.standardError = err
    guard (try? p.run()) != nil else { return "cannot run ip" }
    let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    return p.terminationStatus == 0 ? nil : "`ip sr hmac show` said: " + text.trimmingCharacters(in: .whitespacesAndNewlines)
}()
