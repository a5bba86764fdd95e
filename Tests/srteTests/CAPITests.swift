import Foundation
import Testing
import TestSupport
import NetworkLab
import LinuxSystem
import SubflowSteering
import PathAgent
import SRv6Paths
import Glibc

/// Runs `argv` to completion; (status, stdout + stderr).
@discardableResult
func runTool(_ argv: [String]) throws -> (status: Int32, out: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = argv
    let o = Pipe()
    p.standardOutput = o
    p.standardError = o
    try p.run()
    let data = o.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// The C library (capi/, built with its Makefile) and the test client compiled with gcc into
/// a world-readable directory, so other users can run them.
struct CAPIBuild {
    let dir: String
    var client: String { dir + "/subflow_client" }
    var legacyClient: String { dir + "/legacy_client" }
    var preload: String { dir + "/libsrte-preload.so" }
    var ootClient: String { dir + "/oot_client" }
    /// Where `make install` put the compatibility headers.
    var compatInstalled: String { dir + "/prefix/include/srte/compat" }

    init() throws {
        dir = "/tmp/srte-capi-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let make = try runTool(["make", "-s", "-C", packageRoot + "/capi", "BUILD=\(dir)"])
        guard make.status == 0 else { throw CAPIBuildError(message: "make: \(make.out)") }
        _ = try compileClient("subflow_client")
        // The legacy program uses neither srte's header nor its library.
        let legacy = try runTool(["gcc", "-Wall", "-Wextra", "-Werror", "-o", legacyClient, packageRoot + "/capi/tests/legacy_client.c"])
        guard legacy.status == 0 else { throw CAPIBuildError(message: "gcc: \(legacy.out)") }
        let install = try runTool(["make", "-s", "-C", packageRoot + "/capi", "BUILD=\(dir)", "PREFIX=\(dir)/prefix", "install"])
        guard install.status == 0 else { throw CAPIBuildError(message: "make install: \(install.out)") }
        // Written against the out-of-tree kernel's <linux/tcp.h>: compiled with the directory
        // `srte run --print-compat-include` names, unchanged.
        let inc = try runTool(["SRTE_COMPAT_INCLUDE=\(compatInstalled)", srteBinary().path, "run", "--print-compat-include"])
        let incDir = inc.out.trimmingCharacters(in: .whitespacesAndNewlines)
        guard inc.status == 0, incDir == compatInstalled else { throw CAPIBuildError(message: "srte run --print-compat-include: \(inc.out)") }
        let oot = try runTool(["gcc", "-Wall", "-Wextra", "-Werror", "-I", incDir, "-o", ootClient, packageRoot + "/capi/tests/oot_client.c"])
        guard oot.status == 0 else { throw CAPIBuildError(message: "gcc: \(oot.out)") }
        for f in [client, legacyClient, preload, ootClient] { chmod(f, 0o755) }
        for d in [dir + "/prefix", dir + "/prefix/include", dir + "/prefix/include/srte", compatInstalled, compatInstalled + "/linux"] { chmod(d, 0o755) }
    }

    /// Compiles `capi/tests/NAME.c` against srte's header and libsrte-mptcp into this build's
    /// directory (world-executable: tests run it as other users too); returns its path.
    func compileClient(_ name: String, pthread: Bool = false) throws -> String {
        let out = dir + "/" + name
        let cc = try runTool(["gcc", "-Wall", "-Wextra", "-Werror"] + (pthread ? ["-pthread"] : []) + ["-I", packageRoot + "/capi/include", "-o", out,
                              packageRoot + "/capi/tests/\(name).c", "-L", dir, "-lsrte-mptcp", "-Wl,-rpath," + dir])
        guard cc.status == 0 else { throw CAPIBuildError(message: "gcc \(name).c: \(cc.out)") }
        chmod(out, 0o755)
        return out
    }

    func remove() { try? FileManager.default.removeItem(atPath: dir) }
}

struct CAPIBuildError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// A policy file (world-readable is not needed: the agent reads it as root).
func agentPolicyFile(_ text: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("srte-capi-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).yaml").path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

/// A lab of the bundled diamond (named `name` and the test process's pid) with `srte agent`
/// started in h1 under the policy `yaml`, its stderr collected. ``close()`` stops the agent and
/// removes the policy file and the lab; a failure while setting up removes what was made.
final class AgentLab {
    let bed: Testbed
    let policy: String
    private(set) var agent: Process
    private(set) var log: Collected

    /// `arguments`: more for `srte agent`.
    init(_ name: String, policy yaml: String, arguments: [String] = []) throws {
        bed = try Testbed.up(try bundledTopology("diamond.yaml"), lab: "\(name)\(getpid() % 100000)")
        do {
            policy = try agentPolicyFile(yaml)
        } catch {
            _ = try? bed.down()
            throw error
        }
        do {
            (agent, log) = try CAPITests().startAgent(bed, policy: policy, arguments: arguments)
        } catch {
            try? FileManager.default.removeItem(atPath: policy)
            _ = try? bed.down()
            throw error
        }
        guard log.wait(for: "started", seconds: 10) else {
            let text = log.text
            close()
            throw CAPIBuildError(message: "the agent did not start: \(text)")
        }
    }

    /// Stops the agent and starts it again under the same policy (waits until it serves).
    func restartAgent() throws {
        agent.terminate()
        agent.waitUntilExit()
        (agent, log) = try CAPITests().startAgent(bed, policy: policy)
        guard log.wait(for: "started", seconds: 10) else { throw CAPIBuildError(message: "the agent did not start again: \(log.text)") }
    }

    func close() {
        if agent.isRunning { agent.terminate(); agent.waitUntilExit() }
        try? FileManager.default.removeItem(atPath: policy)
        _ = try? bed.down()
    }
}

/// srte's C API (capi/) against a running `srte agent`, in a lab of the bundled diamond:
/// programs written from draft-hesmans-mptcp-socket-03's figures, as root and as other users.
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates network namespaces"), .timeLimit(.minutes(4)))
struct CAPITests {
    /// `srte agent` in h1 with `policy`, its stderr collected.
    func startAgent(_ bed: Testbed, policy: String, arguments: [String] = []) throws -> (Process, Collected) {
        try startCollectingStderr(["agent", "--netns", bed.namespace(of: "h1")!, "--policy", policy, "--for", "120"] + arguments)
    }

    /// The client in h1 as `uid` (nil: root), against a fresh `srte serve` in h2.
    /// `environment`: set for the client (`NAME=value`).
    func client(_ bed: Testbed, _ build: CAPIBuild, uid: UInt32?, _ args: [String], environment: [String] = []) throws -> String {
        let serve = try startServe(inNamespace: bed.namespace(of: "h2")!)
        defer { if serve.isRunning { serve.terminate() } }
        Thread.sleep(forTimeInterval: 0.3)
        var argv = ["ip", "netns", "exec", bed.namespace(of: "h1")!]
        if let uid { argv += ["setpriv", "--reuid=\(uid)", "--regid=\(uid)", "--clear-groups"] }
        if !environment.isEmpty { argv += ["env"] + environment }
        argv += [build.client, "fc00:2::2", "5201"] + args
        let r = try runTool(argv)
        serve.waitUntilExit()
        return r.out
    }

    func bytesFromR1(to mid: String, _ before: [Testbed.LinkCounters], _ after: [Testbed.LinkCounters]) -> Int {
        bytesSent(from: "r1", to: mid, before, after)
    }

    @Test func listOpenThroughAWaypointAndCloseAsRootAndAsAnotherUser() throws {
        let build = try CAPIBuild()
        defer { build.remove() }
        let lab = try AgentLab("ca", policy: """
            rules:
              - match: { to: "fc00:2::/64", port: 5201 }
                paths: [direct]
            grants:
              - { uid: 65534, sids: ["fc00:0:b::/48"], subflows: 4 }
            """)
        defer { lab.close() }
        let (bed, log) = (lab.bed, lab.log)

        for uid: UInt32? in [nil, 65534] {
            // Draft-03 Figure 11: Segment List = [::, fc00:0:b::1]. The subflow goes via b,
            // which the IGP never uses toward h2 (it prefers a). Root closes it with FIN, the
            // other user with RST. Root's calls sleep for their answers at once, the other
            // user's poll first (the default).
            let before = try bed.linkCounters()
            let out = try client(bed, build, uid: uid, ["--via", "fc00:0:b::1", "--bytes", "8000000", "--close"] + (uid == nil ? [] : ["--rst"]),
                                 environment: uid == nil ? ["SRTE_MPTCP_SPIN_US=0"] : [])
            let after = try bed.linkCounters()
            let who = uid.map { "uid \($0)" } ?? "root"
            #expect(out.contains("hello uid=\(uid ?? 0)"), "\(who): \(out)")
            #expect(out.contains("ids n=1 1:"), "\(who): \(out)")
            #expect(out.contains("open ok id=2"), "\(who): \(out)\n\(log.text)")
            #expect(out.contains("ids n=2 1:E- 2:E-"), "\(who): the new subflow becomes fully established: \(out)")
            #expect(out.contains("srh=40 seg0=fc00:2::2 seg1=fc00:0:b::1"), "\(who): the tuple carries the SRH, :: completed: \(out)")
            #expect(out.contains("close-rd errno=EOPNOTSUPP"), "\(who): \(out)")
            #expect(out.contains("close ok"), "\(who): \(out)")
            #expect(out.contains("close-last errno=EBUSY"), "\(who): \(out)")
            #expect(out.contains("close-bad errno=EINVAL"), "\(who): \(out)")
            let viaB = bytesFromR1(to: "b", before, after), viaC = bytesFromR1(to: "c", before, after)
            #expect(viaB > 500_000, "\(who): r1 → b carried \(viaB) bytes")
            #expect(viaC < 200_000, "\(who): r1 → c carried \(viaC) bytes")
        }

        // uid 65534's grant names b only; a port below 1024 is root's.
        let c = try client(bed, build, uid: 65534, ["--via", "fc00:0:c::1", "--bytes", "100000"])
        #expect(c.contains("open errno=EACCES") && c.contains("fc00:0:c::1 is not granted"), "\(c)")
        let low = try client(bed, build, uid: 65534, ["--via", "fc00:0:b::1", "--lport", "80", "--bytes", "100000"])
        #expect(low.contains("open errno=EPERM") && low.contains("ip_unprivileged_port_start"), "\(low)")
        let rootLow = try client(bed, build, uid: nil, ["--lport", "80", "--bytes", "100000"])
        #expect(rootLow.contains("open ok") && rootLow.contains("lport=80 srh=0"), "root may use port 80; the rule has no path left: \(rootLow)")
        // A uid without a grant: no SRH, no subflow at all; listing its own connection still works.
        let none = try client(bed, build, uid: 65533, ["--via", "fc00:0:b::1", "--bytes", "100000"])
        #expect(none.contains("hello uid=65533 granted=0"), "\(none)")
        #expect(none.contains("ids n=1"), "\(none)")
        #expect(none.contains("open errno=EACCES") && none.contains("no grant"), "\(none)")

        // `srte agent status` as a user other than root shows only that user's connections.
        let serve = try startServe(inNamespace: bed.namespace(of: "h2")!)
        defer { if serve.isRunning { serve.terminate() } }
        Thread.sleep(forTimeInterval: 0.3)
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = ["ip", "netns", "exec", bed.namespace(of: "h1")!, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            build.client, "fc00:2::2", "5201", "--bytes", "10000", "--hold", "4000"]
        let held = Pipe(), heldOut = Collected()
        holder.standardOutput = held
        held.fileHandleForReading.readabilityHandler = { h in heldOut.append(h.availableData) }
        try holder.run()
        defer { if holder.isRunning { holder.terminate() } }
        #expect(heldOut.wait(for: "holding", seconds: 10), "\(heldOut.text)")
        func status(uid: UInt32?) throws -> [String: Any]? {
            var argv = ["ip", "netns", "exec", bed.namespace(of: "h1")!]
            if let uid { argv += ["setpriv", "--reuid=\(uid)", "--regid=\(uid)", "--clear-groups"] }
            let r = try runTool(argv + [srteBinary().path, "agent", "status", "--format", "json"])
            return try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]
        }
        let asRoot = try status(uid: nil), asOwner = try status(uid: 65534), asOther = try status(uid: 65533)
        #expect((asRoot?["connections"] as? [Any])?.count == 1, "root sees every connection: \(String(describing: asRoot))")
        #expect((asOwner?["connections"] as? [Any])?.count == 1, "uid 65534 sees its own: \(String(describing: asOwner))")
        #expect((asOther?["connections"] as? [Any])?.count == 0, "uid 65533 does not: \(String(describing: asOther))")
        #expect(asOther?["schemaVersion"] as? Int == 1 && (asOther?["rules"] as? [Any])?.count == 1)
        holder.waitUntilExit()
        serve.waitUntilExit()
    }

    /// `srte run`: a program written for the out-of-tree kernel (a plain TCP socket, getsockopt
    /// 66–69 at IPPROTO_TCP) opens a subflow through b with an SRH, as another user.
    @Test func srteRunServesTheLegacyOptions() throws {
        let build = try CAPIBuild()
        defer { build.remove() }
        let lab = try AgentLab("cl", policy: """
            rules:
              - match: { to: "fc00:2::/64", port: 5999 }
                paths: [direct]
            grants:
              - { uid: 65534, sids: ["fc00:0:b::/48"] }
            """)
        defer { lab.close() }
        let (bed, log) = (lab.bed, lab.log)

        func legacy(_ run: Bool) throws -> (String, Int) {
            let serve = try startServe(inNamespace: bed.namespace(of: "h2")!)
            defer { if serve.isRunning { serve.terminate() } }
            Thread.sleep(forTimeInterval: 0.3)
            let before = try bed.linkCounters()
            let prefix = run ? [srteBinary().path, "run", "--preload", build.preload, "--"] : []
            let r = try runTool(["ip", "netns", "exec", bed.namespace(of: "h1")!, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
                                + prefix + [build.legacyClient, "fc00:2::2", "5201", "--via", "fc00:0:b::1", "--bytes", "6000000"])
            serve.waitUntilExit()
            return (r.out, bytesFromR1(to: "b", before, try bed.linkCounters()))
        }
        let (out, viaB) = try legacy(true)
        #expect(out.contains("ids n=1 1:"), "\(out)\n\(log.text)")
        #expect(out.contains("open ok id=2") && out.contains("ids n=2 1:E 2:E"), "\(out)")
        // Opened with local port 0 (as such programs do): the kernel's ephemeral port.
        #expect(out.contains("tuple id=2 lport=") && out.contains(" remote=fc00:2::2") && !out.contains("tuple id=2 lport=0 "), "\(out)")
        #expect(out.contains("close ok"), "\(out)")
        #expect(viaB > 300_000, "r1 → b carried \(viaB) bytes")
        // Without srte run the kernel has no such options (a plain TCP socket: ENOPROTOOPT).
        let (plain, plainViaB) = try legacy(false)
        #expect(plain.contains("ids errno=\(ENOPROTOOPT)") && plain.contains("open errno=\(ENOPROTOOPT)"), "\(plain)")
        #expect(plainViaB < 100_000)
    }

    /// A program written against the out-of-tree kernel's header (compiled with the compatibility
    /// include directory): MPTCP_ENABLED swaps a fresh socket's protocol on the same descriptor,
    /// and is EPERM once connected; scheduler and path manager are names; getsockopt(43) with an
    /// int's length stays upstream's TCP_IS_MPTCP; MPTCP_INFO (45) is emulated from MPTCP_FULL_INFO, MPTCP_SUB_GET/SETSOCKOPT reach the opened subflow; the out-of-tree
    /// mptcp_sub_tuple (odd optlen) and 1-byte mptcp_close_sub_id work, as another user.
    @Test func srteRunServesTheOutOfTreeHeadersOptions() throws {
        let build = try CAPIBuild()
        defer { build.remove() }
        let lab = try AgentLab("co", policy: "rules: []\ngrants:\n  - { uid: 65534, sids: [\"fc00:0:b::/48\"] }\n")
        defer { lab.close() }
        let (bed, log) = (lab.bed, lab.log)
        let serve = try startServe(inNamespace: bed.namespace(of: "h2")!)
        defer { if serve.isRunning { serve.terminate() } }
        Thread.sleep(forTimeInterval: 0.3)
        let r = try runTool(["ip", "netns", "exec", bed.namespace(of: "h1")!, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                             srteBinary().path, "run", "--preload", build.preload, "--", build.ootClient, "fc00:2::2", "5201", "--bytes", "200000"])
        serve.waitUntilExit()
        let out = r.out
        #expect(r.status == 0, "\(out)")
        #expect(out.contains("enabled=1 proto=262"), "\(out)")
        #expect(out.contains("disabled enabled=0 proto=6 nonblock=1 cloexec=1 reuseaddr=1"), "\(out)")
        #expect(out.contains("reenabled enabled=1 proto=262"), "\(out)")
        #expect(out.contains("scheduler=default") && out.contains("set-scheduler ok"), "\(out)")
        #expect(out.contains("set-scheduler-bad errno=\(EINVAL)"), "\(out)")
        #expect(out.contains("pm=netlink"), "the agent's namespace uses the userspace path manager: \(out)")
        #expect(out.contains("is-mptcp=1"), "upstream's TCP_IS_MPTCP answers: \(out)")
        #expect(out.contains("info-flag ok"), "\(out)")
        #expect(out.contains("rto-min-tcp rc=0 us=200000"), "getsockopt(45) with an int's length is the kernel's TCP_RTO_MIN_US: \(out)")
        // MPTCP_INFO from upstream's MPTCP_FULL_INFO: both subflows, the first one's state.
        #expect(out.contains("info subflows=2 sub_info=2 meta_len=48 state=1 initial-state=1 acked=1 received=0 sub0=state:1,lport-set:1,rport:5201 sub1=state:1,lport-set:1,rport:5201"), "\(out)")
        // MPTCP_SUB_SETSOCKOPT / MPTCP_SUB_GETSOCKOPT on the subflow the program opened.
        #expect(out.contains("sub-set ok") && out.contains("sub-get cc=reno len=16"), "\(out)")
        #expect(out.contains("sub-get-fastopen errno=\(EOPNOTSUPP)"), "\(out)")
        #expect(out.contains("late-disable errno=\(EPERM)"), "\(out)")
        #expect(out.contains("tuple-optlen=57") && out.contains("open ok id=2"), "\(out)\n\(log.text)")
        #expect(out.contains("ids n=2 1:E 2:E"), "\(out)")
        #expect(out.contains("tuple id=2 len=57 lport-set=1 remote=fc00:2::2 rport=5201"), "\(out)")
        #expect(out.contains("close-optlen=1") && out.contains("close ok"), "\(out)")
        #expect(out.hasSuffix("ids n=1 1:E\n"), "the subflow is gone: \(out)")
    }

    /// The Python (ctypes) example of Docs/CAPI.md and the Go (cgo) one list, open through b and
    /// close subflows through libsrte-mptcp, as root and as uid 65534.
    @Test func thePythonAndGoExamplesOpenSubflowsAsRootAndAsAnotherUser() throws {
        let build = try CAPIBuild()
        defer { build.remove() }
        let python = try String(contentsOfFile: packageRoot + "/capi/examples/subflows.py", encoding: .utf8)
        let doc = try String(contentsOfFile: packageRoot + "/Docs/CAPI.md", encoding: .utf8)
        #expect(doc.contains(python), "Docs/CAPI.md shows capi/examples/subflows.py verbatim")
        try python.write(toFile: build.dir + "/subflows.py", atomically: true, encoding: .utf8)
        chmod(build.dir + "/subflows.py", 0o644)
        let goBinary = build.dir + "/subflows-go"
        let go = try runTool(["HOME=\(build.dir)", "GOCACHE=\(build.dir)/gocache", "GOFLAGS=-mod=mod", "CGO_ENABLED=1",
                              "CGO_CFLAGS=-I\(packageRoot)/capi/include", "CGO_LDFLAGS=-L\(build.dir) -Wl,-rpath,\(build.dir)",
                              "go", "build", "-o", goBinary, packageRoot + "/capi/examples/go/subflows.go"])
        #expect(go.status == 0, "go build (golang-go, scripts/install-deps.sh): \(go.out)")
        try? FileManager.default.removeItem(atPath: build.dir + "/gocache")
        chmod(goBinary, 0o755)

        let lab = try AgentLab("cp", policy: "rules: []\ngrants:\n  - { uid: 65534, sids: [\"fc00:0:b::/48\"] }\n")
        defer { lab.close() }
        let (bed, log) = (lab.bed, lab.log)
        var programs = [("python", ["SRTE_MPTCP_LIB=\(build.dir)/libsrte-mptcp.so.0", "python3", build.dir + "/subflows.py"])]
        if go.status == 0 { programs.append(("go", [goBinary])) }
        for (name, program) in programs {
            for uid: UInt32? in [nil, 65534] {
                let serve = try startServe(inNamespace: bed.namespace(of: "h2")!)
                defer { if serve.isRunning { serve.terminate() } }
                Thread.sleep(forTimeInterval: 0.3)
                var argv = ["ip", "netns", "exec", bed.namespace(of: "h1")!]
                if let uid { argv += ["setpriv", "--reuid=\(uid)", "--regid=\(uid)", "--clear-groups"] }
                let before = try bed.linkCounters()
                let r = try runTool(argv + ["env"] + program + ["fc00:2::2", "5201", "fc00:0:b::1"])
                serve.waitUntilExit()
                let viaB = bytesFromR1(to: "b", before, try bed.linkCounters())
                let who = "\(name) as \(uid.map { "uid \($0)" } ?? "root")"
                #expect(r.status == 0, "\(who): \(r.out)")
                #expect(r.out.contains("ids n=1 1:"), "\(who): \(r.out)")
                #expect(r.out.contains("open ok id=2") && r.out.contains("ids n=2 1:E 2:E"), "\(who): \(r.out)\n\(log.text)")
                #expect(r.out.contains("close ok"), "\(who): \(r.out)")
                #expect(viaB > 300_000, "\(who): r1 → b carried \(viaB) bytes")
            }
        }
    }

    /// A subflow opened with an SRH and local port 0 (the kernel's port, steered by the agent's
    /// connect-time program inside the open) carries the SRH from its SYN on: dumpcap on h1's
    /// interface sees a SYN from the port the tuple reports with fc00:0:b::1 in its Segment List.
    @Test(.enabled(if: access("/usr/bin/dumpcap", X_OK) == 0 && access("/usr/bin/tshark", X_OK) == 0, "needs dumpcap and tshark"))
    func anOpenedSubflowsSYNCarriesItsSRH() throws {
        let build = try CAPIBuild()
        defer { build.remove() }
        let lab = try AgentLab("cy", policy: "rules: []\ngrants:\n  - { uid: 65534, sids: [\"fc00:0:b::/48\"] }\n")
        defer { lab.close() }
        let bed = lab.bed
        let capture = build.dir + "/open.pcap"
        let dump = try startDumpcap(bed, on: "h1", filter: "ip6 proto 43", snap: 160, stop: ["-a", "duration:8"], to: capture)
        defer { if dump.isRunning { kill(dump.processIdentifier, SIGKILL) }; dump.waitUntilExit() }
        Thread.sleep(forTimeInterval: 1.0)
        let out = try client(bed, build, uid: 65534, ["--via", "fc00:0:b::1", "--bytes", "100000"])
        dump.waitUntilExit()      // (it stops by itself, after 8 s)
        let port = out.split(separator: "\n").first { $0.hasPrefix("tuple id=2 lport=") }
            .flatMap { $0.split(separator: " ").first { $0.hasPrefix("lport=") } }.flatMap { Int($0.dropFirst(6)) }
        #expect(port != nil && port != 0, "\(out)\n\(lab.log.text)")
        let fields = try Subprocess.run(["tshark", "-r", capture, "-T", "fields", "-E", "separator=|", "-e", "tcp.srcport",
                                         "-e", "tcp.flags.syn", "-e", "tcp.flags.ack", "-e", "ipv6.routing.srh.addr"]).stdout
        let syns = fields.split(separator: "\n").map { $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init) }
            .filter { $0.count == 4 && ($0[1] == "1" || $0[1] == "True") && ($0[2] == "0" || $0[2] == "False") }
        #expect(syns.contains { Int($0[0]) == port && $0[3].contains("fc00:0:b::1") }, "SYNs with an SRH: \(syns)")
    }

    /// An open without an SRH on a connection the agent engineers takes the next path of its rule
    /// that no live subflow uses: here the agent's own join via b, once the program closed it;
    /// while that join is open, none (the IGP path).
    @Test func anOpenWithoutAnSRHTakesTheRulesNextUnusedPath() throws {
        let build = try CAPIBuild()
        defer { build.remove() }
        let lab = try AgentLab("cn", policy: """
            rules:
              - match: { to: "fc00:2::/64", port: 5201 }
                paths: [direct, [fc00:0:b::1]]
            grants:
              - { uid: 65534, sids: ["fc00:0:b::/48"] }
            """)
        defer { lab.close() }
        let (bed, log) = (lab.bed, lab.log)
        let out = try client(bed, build, uid: 65534, ["--wait-subflows", "2", "--close-id", "2", "--bytes", "100000"])
        #expect(out.contains("ids n=2 1:E- 2:E-"), "the agent's join via b: \(out)\n\(log.text)")
        #expect(out.contains("close-id ok"), "\(out)")
        #expect(out.contains("open ok id=3"), "\(out)")
        #expect(out.contains("srh=40 seg0=fc00:2::2 seg1=fc00:0:b::1"), "the rule's path via b again: \(out)")
        // With the agent's join via b still open, every path of the rule is in use: the IGP path.
        let busy = try client(bed, build, uid: 65534, ["--wait-subflows", "2", "--bytes", "100000"])
        #expect(busy.contains("ids n=2 1:E- 2:E-") && busy.contains("open ok id=3"), "\(busy)\n\(log.text)")
        #expect(busy.contains("tuple id=3") && busy.contains("srh=0"), "no path of the rule left: \(busy)")
    }

    /// 100,000 malformed and random requests (seeded; about 5 s): each gets an error answer, the
    /// agent keeps serving, and holds no more descriptors afterwards. Sockets a caller may
    /// hold but that are not an MPTCP connection of the agent's namespace are refused.
    @Test func malformedRequestsAreAnsweredWithErrorsAndLeakNothing() throws {
        let lab = try AgentLab("cr", policy: "rules:\n  - match: { to: \"fc00:2::/64\", port: 5999 }\n    paths: [direct]\n")
        defer { lab.close() }
        let (bed, agent) = (lab.bed, lab.agent)
        let cookie = try NetworkNamespace.run(in: bed.namespace(of: "h1")!) { try NetworkNamespace.currentCookie() }
        let path = "/run/srte/agent-\(cookie).sock"
        let agentPID = agent.processIdentifier
        func fdCount() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(agentPID)/fd").count) ?? -1 }

        /// Sends `bytes` (with `fds`), ends the request, returns the answer.
        func ask(_ bytes: [UInt8], fds: [Int32] = [], credentials: Bool = true) throws -> [UInt8] {
            let s = try UnixSocket.connect(to: path)
            defer { close(s) }
            if !bytes.isEmpty || !fds.isEmpty { try UnixSocket.send(s, bytes.isEmpty ? [0x53] : bytes, descriptors: fds, credentials: credentials) }
            shutdown(s, Int32(SHUT_WR))
            return try UnixSocket.readAll(s, timeout: .seconds(5))
        }
        func header(op: UInt8, length: Int, version: UInt8 = 1) -> [UInt8] {
            [0x53, 0x52, 0x54, 0x41, version, op, 0, 0] + withUnsafeBytes(of: UInt32(length).bigEndian, Array.init) + [0, 0, 0, 0]
        }
        func errorOf(_ answer: [UInt8]) -> Int32? {
            guard answer.count >= 16, Array(answer[0..<4]) == [0x53, 0x52, 0x54, 0x41] else { return nil }
            return Int32(bitPattern: UInt32(answer[12]) << 24 | UInt32(answer[13]) << 16 | UInt32(answer[14]) << 8 | UInt32(answer[15]))
        }

        // Hello: the agent's pid and this namespace.
        let hello = try ask(header(op: 1, length: 0))
        #expect(errorOf(hello) == 0 && hello.count == 16 + 28, "\(hello)")
        // Without SCM_CREDENTIALS from the client the kernel attaches them anyway: the accepted
        // socket has SO_PASSCRED from the listener from connect() on, before the agent accepts it.
        let bare = try ask(header(op: 1, length: 0), credentials: false)
        #expect(errorOf(bare) == 0 && bare.count == 16 + 28, "\(String(decoding: bare.dropFirst(16), as: UTF8.self))")
        Thread.sleep(forTimeInterval: 0.3)
        let fdsBefore = fdCount()
        #expect(fdsBefore > 0)

        // Sockets that are not an MPTCP connection of h1: the descriptor is no capability.
        let udp = socket(AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(udp) }
        #expect(errorOf(try ask(header(op: 2, length: 0), fds: [udp])) == ENOPROTOOPT)
        let unconnected = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 262)
        defer { close(unconnected) }
        // This process is in the host's namespace, not h1's.
        #expect(errorOf(try ask(header(op: 2, length: 0), fds: [unconnected])) == EXDEV)
        let inH1 = try NetworkNamespace.run(in: bed.namespace(of: "h1")!) { socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 262) }
        defer { close(inH1) }
        #expect(errorOf(try ask(header(op: 2, length: 0), fds: [inH1])) == ENOTCONN)
        #expect(errorOf(try ask(header(op: 2, length: 0))) == EBADF)
        #expect(errorOf(try ask(header(op: 2, length: 0), fds: [inH1, inH1])) == EBADF)
        #expect(errorOf(try ask(header(op: 200, length: 0), fds: [inH1])) == ENOSYS)
        #expect(errorOf(try ask(header(op: 2, length: 0, version: 7))) == EPROTONOSUPPORT)
        #expect(errorOf(try ask(header(op: 2, length: 100_000))) == EMSGSIZE)

        // Random requests, in batches of 32 connections open at once.
        var rng = SplitMix64(seed: 0x5352_5445)
        let devnull = open("/dev/null", O_RDONLY)
        defer { close(devnull) }
        var answered = 0, errors = 0
        var failures: [String] = []
        let total = 100_000
        var i = 0
        while i < total {
            var batch: [(Int32, String)] = []
            for _ in 0..<min(32, total - i) {
                i += 1
                let kind = rng.next() % 6
                var bytes: [UInt8]
                switch kind {
                case 0:   // random bytes, no magic
                    bytes = (0..<Int(1 + rng.next() % 200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                    if bytes.first == 0x53 { bytes[0] = 0x54 }
                    bytes.append(UInt8(ascii: "\n"))
                case 1:   // a header with a random op and a random body
                    let body = (0..<Int(1 + rng.next() % 120)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                    bytes = header(op: UInt8(truncatingIfNeeded: rng.next() % 8), length: body.count) + body
                case 2:   // a header whose length disagrees with the body
                    let body = (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                    bytes = header(op: 3, length: body.count + 1 + Int(rng.next() % 50)) + body
                case 3:   // cut inside the header
                    bytes = Array(header(op: 2, length: 0)[0..<Int(4 + rng.next() % 11)])
                case 4:   // an open with a random tuple and SRH bytes
                    let body = (0..<Int(48 + rng.next() % 80)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                    bytes = header(op: 3, length: body.count) + body
                default:  // a valid header, random flags / reserved
                    var h = header(op: UInt8(2 + rng.next() % 4), length: 0)
                    h[6] = UInt8(truncatingIfNeeded: rng.next() | 1)
                    bytes = h
                }
                let fds: [Int32] = rng.next() % 3 == 0 ? [] : (rng.next() % 2 == 0 ? [devnull] : [udp])
                let s = try UnixSocket.connect(to: path)
                do { try UnixSocket.send(s, bytes, descriptors: fds, credentials: rng.next() % 4 != 0) } catch {
                    failures.append("send: \(error)")
                }
                shutdown(s, Int32(SHUT_WR))
                batch.append((s, "kind \(kind) \(bytes.prefix(24))"))
            }
            for (s, what) in batch {
                defer { close(s) }
                guard let answer = try? UnixSocket.readAll(s, timeout: .seconds(5)) else { failures.append("no answer: \(what)"); continue }
                answered += 1
                if let e = errorOf(answer) {
                    if e != 0 { errors += 1 } else { failures.append("accepted: \(what)") }
                } else if String(decoding: answer, as: UTF8.self).hasPrefix("{\"error\"") {
                    errors += 1
                } else {
                    failures.append("answer \(answer.prefix(40)) to \(what)")
                }
            }
        }
        #expect(failures.isEmpty, "\(failures.count) bad: \(failures.prefix(5))")
        #expect(answered == total && errors == total)

        // A real connection: random tuples and SRH bytes for open, each answered; a 4-tuple
        // another (plain TCP) connection uses is refused before any steering is installed.
        let mptcpServe = try startServe(inNamespace: bed.namespace(of: "h2")!)
        defer { if mptcpServe.isRunning { mptcpServe.terminate() } }
        let plainServe = try startServe(inNamespace: bed.namespace(of: "h2")!, port: 5202)
        defer { if plainServe.isRunning { plainServe.terminate() } }
        Thread.sleep(forTimeInterval: 0.5)
        let server = try #require(SocketEndpoint(parsing: "[fc00:2::2]:5201"))
        let (conn, plain): (MPTCPSocket, Int32) = try NetworkNamespace.run(in: bed.namespace(of: "h1")!) {
            let c = try MPTCPSocket()
            try c.connect(to: server)
            _ = try c.send([UInt8](repeating: 7, count: 1000))
            let p = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), Int32(IPPROTO_TCP))
            try SocketEndpoint(server.address, port: 5202).withSockaddr { a, l in
                guard Glibc.connect(p, a, l) == 0 else { throw SystemCallError("connect", errno: .current) }
            }
            return (c, p)
        }
        defer { close(plain) }
        Thread.sleep(forTimeInterval: 0.3)
        let plainLocal = try SocketEndpoint.reading("getsockname") { getsockname(plain, $0, $1) }
        func tuple(localPort: UInt16, remotePort: UInt16, srh: [UInt8]) -> [UInt8] {
            var b: [UInt8] = [0, 10, UInt8(srh.count >> 8), UInt8(srh.count & 0xff), 0, 0, 0, 0]
            b += [UInt8(localPort >> 8), UInt8(localPort & 0xff), UInt8(remotePort >> 8), UInt8(remotePort & 0xff)]
            b += [UInt8](repeating: 0, count: 36)
            return b + srh
        }
        let viaB = try SegmentRoutingHeader(path: [try IPv6Address(parsing: "fc00:0:b::1"), .unspecified], nextHeader: 6).encoded()
        let taken = tuple(localPort: plainLocal.port, remotePort: 5202, srh: viaB)
        let takenAnswer = try ask(header(op: 3, length: taken.count) + taken, fds: [conn.fileDescriptor])
        // Refused by the agent's own check (the kernel's SUBFLOW_CREATE would say EADDRINUSE too,
        // but only after the 4-tuple had been steered).
        let takenMessage = String(decoding: takenAnswer.dropFirst(16), as: UTF8.self)
        #expect(errorOf(takenAnswer) == EADDRINUSE && takenMessage.contains("\(plainLocal.port) -> [fc00:2::2]:5202 is in use"), "\(takenMessage)")
        var opened = 0, refusedOpens = 0
        for _ in 0..<150 {
            var srh: [UInt8] = []
            switch rng.next() % 3 {
            case 0: srh = (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            case 1: srh = viaB; srh[Int(rng.next() % UInt64(srh.count))] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
            default: break
            }
            let body = tuple(localPort: UInt16(truncatingIfNeeded: rng.next()), remotePort: rng.next() % 2 == 0 ? 0 : 5201, srh: srh)
            let answer = try ask(header(op: 3, length: body.count) + body, fds: [conn.fileDescriptor])
            guard let e = errorOf(answer) else { failures.append("open: no frame"); continue }
            if e == 0 { opened += 1 } else { refusedOpens += 1 }
        }
        #expect(failures.isEmpty, "\(failures.prefix(5))")
        #expect(opened + refusedOpens == 150, "opened \(opened), refused \(refusedOpens)")
        #expect(opened > 0 && refusedOpens > 0, "valid tuples open, broken SRHs do not: opened \(opened), refused \(refusedOpens)")
        // Options, priority and events on the real connection: malformed bodies are refused with
        // the errno the protocol names; random ones are each answered.
        func be32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.bigEndian, Array.init) }
        func asked(_ op: UInt8, _ body: [UInt8]) throws -> (Int32?, String) {
            let a = try ask(header(op: op, length: body.count) + body, fds: [conn.fileDescriptor])
            return (errorOf(a), String(decoding: a.dropFirst(16), as: UTF8.self))
        }
        #expect(try asked(6, [0, 0, 0, 1]).0 == EINVAL)
        let fastopen = try asked(6, be32(1) + be32(6) + be32(UInt32(TCP_FASTOPEN)) + be32(4))
        #expect(fastopen.0 == EOPNOTSUPP && fastopen.1.contains("TCP_INFO"), "\(fastopen.1)")
        let info = try ask(header(op: 6, length: 16) + be32(1) + be32(6) + be32(UInt32(TCP_INFO)) + be32(8), fds: [conn.fileDescriptor])
        #expect(errorOf(info) == 0 && info.count == 16 + 8 && info[16] == 1, "tcp_info cut to the 8 bytes asked, state ESTABLISHED: \(info)")
        #expect(try asked(6, be32(99) + be32(6) + be32(UInt32(TCP_INFO)) + be32(8)).0 == EINVAL)
        #expect(try asked(7, be32(1) + be32(1)).0 == EINVAL)
        #expect(try asked(7, be32(1) + be32(6) + be32(UInt32(TCP_FASTOPEN)) + [1, 0, 0, 0]).0 == EOPNOTSUPP)
        #expect(try asked(7, be32(1) + be32(6) + be32(UInt32(TCP_NODELAY)) + [1, 0]).0 == EINVAL)
        #expect(try asked(7, be32(1) + be32(6) + be32(UInt32(TCP_CONGESTION)) + Array("nosuchcc".utf8)).0 == ENOENT)
        // Its initial subflow connected after the agent started: the option program reaches it.
        let initial = try asked(7, be32(1) + be32(6) + be32(UInt32(TCP_CONGESTION)) + Array("reno".utf8))
        #expect(initial.0 == 0, "\(initial.1)")
        #expect(try asked(8, be32(1) + be32(2)).0 == EINVAL)
        #expect(try asked(8, be32(99) + be32(1)).0 == EINVAL)
        #expect(try asked(9, [0]).0 == EINVAL)
        // An event stream the client ends at once (ask() shuts its side): answered, then closed by
        // the agent, which keeps no descriptor for it (checked at the end).
        #expect(try asked(9, []).0 == 0)
        var optionAnswers = 0
        for _ in 0..<200 {
            let op = UInt8(6 + rng.next() % 3)
            let body = (0..<Int(rng.next() % 24)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if (try? asked(op, body))?.0 != nil { optionAnswers += 1 }
        }
        #expect(optionAnswers == 200)
        withExtendedLifetime(conn) {}

        // A connection made while the namespace used the in-kernel path manager: the kernel
        // refuses every path-manager command on it, and the answer says why.
        let kernelPMServe = try startServe(inNamespace: bed.namespace(of: "h2")!, port: 5203)
        defer { if kernelPMServe.isRunning { kernelPMServe.terminate() } }
        Thread.sleep(forTimeInterval: 0.5)
        let old: MPTCPSocket = try NetworkNamespace.run(in: bed.namespace(of: "h1")!) {
            try Sysctl.write("net/mptcp/pm_type", "0")
            defer { try? Sysctl.write("net/mptcp/pm_type", "1") }
            let c = try MPTCPSocket()
            try c.connect(to: SocketEndpoint(server.address, port: 5203))
            _ = try c.send([UInt8](repeating: 7, count: 1000))
            return c
        }
        Thread.sleep(forTimeInterval: 0.3)
        let plainOpen = tuple(localPort: 0, remotePort: 0, srh: [])
        let oldAnswer = try ask(header(op: 3, length: plainOpen.count) + plainOpen, fds: [old.fileDescriptor])
        let oldMessage = String(decoding: oldAnswer.dropFirst(16), as: UTF8.self)
        #expect(errorOf(oldAnswer) == EINVAL && oldMessage.contains("net.mptcp.pm_type was not 1"), "\(oldMessage)")
        withExtendedLifetime(old) {}

        // Still serving, and no descriptor kept.
        Thread.sleep(forTimeInterval: 0.5)
        #expect(agent.isRunning)
        #expect(errorOf(try ask(header(op: 1, length: 0))) == 0)
        let st = try runSrte(["agent", "status", "--netns", bed.namespace(of: "h1")!])
        #expect(st.status == 0, "\(st.err)")
        Thread.sleep(forTimeInterval: 0.3)
        #expect(fdCount() == fdsBefore, "the agent held \(fdsBefore) descriptors before, \(fdCount()) after")
    }
}

/// SplitMix64: a seeded generator, so a failure can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// `srte run`'s own errors, without root.
@Suite struct RunCommandTests {
    @Test func aMissingProgramOrShimIsExitTwo() throws {
        let none = try runSrte(["run"])
        #expect(none.status == 2 && none.err.contains("give the program to run"), "\(none.err)")
        let shim = try runSrte(["run", "--preload", "/nonexistent/libsrte-preload.so", "--", "true"])
        #expect(shim.status == 2 && shim.err.contains("/nonexistent/libsrte-preload.so: the shim is missing"), "\(shim.err)")
    }

    @Test func printCompatIncludeNamesAnExistingDirectoryOrSaysWhy() throws {
        let ok = try runTool(["SRTE_COMPAT_INCLUDE=\(packageRoot)/capi/compat", srteBinary().path, "run", "--print-compat-include"])
        #expect(ok.status == 0 && ok.out == "\(packageRoot)/capi/compat\n", "\(ok.out)")
        let missing = try runTool(["SRTE_COMPAT_INCLUDE=/nonexistent", srteBinary().path, "run", "--print-compat-include"])
        #expect(missing.status == 2 && missing.out.contains("SRTE_COMPAT_INCLUDE=/nonexistent: no readable linux/tcp.h"), "\(missing.out)")
        let both = try runSrte(["run", "--print-compat-include", "--", "true"])
        #expect(both.status == 2 && both.err.contains("--print-compat-include takes no program"), "\(both.err)")
    }

    @Test func theProgramReplacesSrte() throws {
        // Any readable file passes as the shim here: `true` never calls the intercepted functions,
        // but the dynamic loader must find a loadable object, so use the C library itself.
        let libc = ["/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6"].first { FileManager.default.isReadableFile(atPath: $0) }
        guard let libc else { return }
        let r = try runSrte(["run", "--preload", libc, "--socket", "/nonexistent.sock", "--", "sh", "-c", "echo \"$LD_PRELOAD $SRTE_AGENT_SOCKET\"; exit 7"])
        #expect(r.status == 7, "the program's exit status: \(r.err)")
        #expect(r.out.contains("\(libc) /nonexistent.sock"), "\(r.out)")
        #expect(r.err.contains("no agent answers at /nonexistent.sock"), "\(r.err)")
        let missing = try runSrte(["run", "--preload", libc, "--", "/nonexistent/program"])
        #expect(missing.status == 127 && missing.err.contains("cannot run /nonexistent/program"), "\(missing.err)")
    }
}
