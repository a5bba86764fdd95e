import ArgumentParser
import SRv6Paths
import SubflowSteering

import Glibc
import LinuxSystem

/// Options shared by the MPTCP subcommands.
struct NamespaceOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Run in network namespace NAME (/run/netns/NAME, as `ip netns` names it) instead of the current one.", valueName: "NAME"))
    var netns: String?

    /// Runs `body` inside the namespace (or here). A namespace that cannot be entered is
    /// unusable input (exit 2).
    func inNamespace<T>(_ body: () throws -> T) throws -> T {
        guard let netns else { return try body() }
        do {
            return try NetworkNamespace.run(in: netns, body)
        } catch let e as SystemCallError {
            throw CLIFailure.input("network namespace \(netns): \(e.reason)\(e.errno == ENOENT ? " (see `ip netns list`)" : "")")
        }
    }
}

/// The namespace's MPTCP problem as one sentence, or nil when fine.
func mptcpProblem(requireUserspace: Bool) -> SubflowError? {
    do { try MPTCPNamespaceState.check() } catch {
        if error.kind == .notUserspacePathManager && !requireUserspace { return nil }
        return error
    }
    return nil
}

/// `srte subflows`: every MPTCP subflow in the namespace.
struct SubflowsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "subflows",
        abstract: "List MPTCP subflows in this network namespace: tuple, ids, backup flag, state, bytes.",
        discussion: """
        Reads the kernel's socket diagnostics (sock_diag, as `ss -tiM` does), so it sees the \
        connections of every process. `id` is the local address id the path manager uses \
        (0 = the initial subflow's address); `backup` is this side's flag, `peer-backup` the peer's.

        Examples:
          srte subflows
          srte subflows --token 1936464327 --format json
          srte subflows --netns lab-h1
        """
    )

    @OptionGroup var namespace: NamespaceOptions

    @Option(help: "Only the connection with this token (mptcpi_token).")
    var token: UInt32?

    @OptionGroup var output: FormatOptions

    func run() throws {
        let all = try namespace.inNamespace {
            if let p = mptcpProblem(requireUserspace: false) { throw p }
            return try SubflowDiagnostics.all()
        }
        let list = all.filter { token == nil || $0.token == token }
        let out = StdoutBuffer()
        if output.isJSON {
            out.line(JSON.object([
                ("schemaVersion", .int(1)),
                ("subflows", .array(list.map(Self.json))),
            ]).rendered)
            return
        }
        if list.isEmpty {
            diagnose(token == nil ? "srte: no MPTCP subflows in this network namespace" : "srte: no subflows with token \(token!)")
            return
        }
        out.line(Self.table.line(["token", "local", "remote", "id", "rem-id", "backup", "state", "sent", "received"]))
        for s in list {
            out.line(Self.table.line([String(s.token), s.local.description, s.remote.description, String(s.localID), String(s.remoteID),
                                      s.backup ? "yes" : (s.peerBackup ? "peer" : "no"), Self.stateName(s.tcpState, s.fullyEstablished),
                                      String(s.bytesSent), String(s.bytesReceived)]))
        }
    }

    static let table = Table([11, 26, 26, 3, 6, 6, 11, 12, 12].map(Table.Column.left))

    static func stateName(_ s: UInt8, _ fully: Bool) -> String {
        let names: [UInt8: String] = [1: "established", 2: "syn-sent", 3: "syn-recv", 4: "fin-wait1", 5: "fin-wait2", 6: "time-wait",
                                      7: "close", 8: "close-wait", 9: "last-ack", 10: "listen", 11: "closing"]
        let n = names[s] ?? "state-\(s)"
        return s == 1 && !fully ? "joining" : n
    }

    static func json(_ s: SubflowDiagnostics) -> JSON {
        .object([
            ("token", .int(Int(s.token))),
            ("local", .object([("address", .string(s.local.hostText)), ("port", .int(Int(s.local.port)))])),
            ("remote", .object([("address", .string(s.remote.hostText)), ("port", .int(Int(s.remote.port)))])),
            ("id", .int(Int(s.localID))),
            ("remoteId", .int(Int(s.remoteID))),
            ("backup", .bool(s.backup)),
            ("peerBackup", .bool(s.peerBackup)),
            ("state", .string(stateName(s.tcpState, s.fullyEstablished))),
            ("bytesSent", .int(Int(s.bytesSent))),
            ("bytesReceived", .int(Int(s.bytesReceived))),
        ])
    }
}

/// `srte close`: close one subflow through the userspace path manager.
struct CloseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "close",
        abstract: "Close one MPTCP subflow (MPTCP_CLOSE_SUB_ID) through the userspace path manager.",
        discussion: """
        The subflow is named by its connection token and 4-tuple, as `srte subflows` shows them. \
        Upstream Linux closes it gracefully (SUBFLOW_DESTROY: FIN on that subflow); --reset \
        (RST) is refused because the kernel offers no way to ask for it. Needs root and \
        net.mptcp.pm_type=1 in the namespace.

        Example:
          srte close --token 1936464327 --local '[fc00:1::1]:41234' --remote '[fc00:1::2]:5000'
        """
    )

    @OptionGroup var namespace: NamespaceOptions

    @Option(help: "The connection's token (from `srte subflows`).")
    var token: UInt32

    @Option(help: ArgumentHelp("Local end: [ADDR]:PORT or a.b.c.d:PORT.", valueName: "ENDPOINT"))
    var local: String

    @Option(help: ArgumentHelp("Remote end: [ADDR]:PORT or a.b.c.d:PORT.", valueName: "ENDPOINT"))
    var remote: String

    @Flag(help: "Ask for an RST instead of a FIN (not supported upstream).")
    var reset = false

    func run() throws {
        guard let l = SocketEndpoint(parsing: local), l.port != 0 else { throw CLIFailure.input("--local '\(local)' is not [ADDR]:PORT with a port") }
        guard let r = SocketEndpoint(parsing: remote), r.port != 0 else { throw CLIFailure.input("--remote '\(remote)' is not [ADDR]:PORT with a port") }
        if reset {
            throw CLIFailure.system("closing a subflow with RST is not supported by this kernel: SUBFLOW_DESTROY always closes gracefully (drop --reset)")
        }
        do {
            try namespace.inNamespace {
                if let p = mptcpProblem(requireUserspace: true) { throw p }
                let pm = try MPTCPPathManager()
                try pm.destroySubflow(token: token, local: l, remote: r)
            }
        } catch let e as NetlinkError where e.errno == ESRCH || (e.errno == EINVAL && e.extAckMessage == "invalid token") {
            throw CLIFailure.negative("\(e)")   // no such subflow or connection: a negative result
        }
        diagnose("srte: closed subflow \(l) → \(r) of connection \(token)")
    }
}
