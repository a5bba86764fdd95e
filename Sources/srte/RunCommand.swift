import Foundation
import Glibc
import ArgumentParser
import LinuxSystem
import PathAgent

/// `srte run`: an unmodified program with the draft's legacy socket options served by the agent.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a program whose TCP sockets become MPTCP and whose draft-hesmans-mptcp-socket options the agent serves.",
        discussion: """
        Starts PROGRAM with srte's LD_PRELOAD shim (libsrte-preload.so, built and installed by \
        scripts/install.sh PREFIX into PREFIX/lib/srte). The shim turns the program's TCP stream \
        sockets into MPTCP sockets (plain TCP where MPTCP is unavailable; SRTE_PRELOAD_TCP=1 \
        turns this off) and answers the socket options of draft-hesmans-mptcp-socket-03 with the \
        numbers of the out-of-tree kernel — getsockopt at IPPROTO_TCP, 66 MPTCP_GET_SUB_IDS, 67 \
        MPTCP_CLOSE_SUB_ID, 68 MPTCP_GET_SUB_TUPLE, 69 MPTCP_OPEN_SUB_TUPLE (with an SRH) — \
        through the srte agent of the program's network namespace, so a program written for \
        that kernel works on upstream Linux and without root. 71 MPTCP_SUB_GETSOCKOPT and 72 \
        MPTCP_SUB_SETSOCKOPT reach one subflow's options as far as upstream allows (TCP_INFO, \
        TCP_CONGESTION, SO_MARK, IPV6_TCLASS…; the rest is EOPNOTSUPP). What the program may do is the agent's `grants:` \
        (Docs/AgentProtocol.md). srte itself is replaced by the program (exec): the exit status \
        is the program's.

        The out-of-tree kernel's 42 MPTCP_ENABLED, 43 MPTCP_SCHEDULER, 44 MPTCP_PATH_MANAGER \
        and 45 MPTCP_INFO (upstream's TCP_AO_REPAIR, TCP_IS_MPTCP, TCP_RTO_MAX_MS, \
        TCP_RTO_MIN_US) are answered by the shim on the sockets it manages (MPTCP_INFO filled \
        from upstream's MPTCP_FULL_INFO); the table is in Docs/CAPI.md.

        --print-compat-include prints a directory whose linux/tcp.h adds that kernel's \
        constants and structs to the system's header, so a program written against it compiles \
        unchanged (do not combine it with <linux/mptcp.h>).

        Example:
          srte agent --policy policy.yaml &            # root, once per namespace
          srte run -- ./legacy-client fc00:2::2 5201   # any user
          cc -I"$(srte run --print-compat-include)" -o prog prog.c && srte run -- ./prog
        """)

    @Flag(name: .customLong("print-compat-include"), help: ArgumentHelp("Print the directory of the out-of-tree kernel's compatibility linux/tcp.h (for -I) and exit (default: $SRTE_COMPAT_INCLUDE, else include/srte/compat beside srte's prefix, /usr/local/include/srte/compat, /usr/include/srte/compat)."))
    var printCompatInclude = false

    @Option(help: ArgumentHelp("The shim (default: $SRTE_PRELOAD, else lib/srte/libsrte-preload.so beside srte's prefix, /usr/local/lib/srte, /usr/lib/srte).", valueName: "PATH"))
    var preload: String?

    @Option(help: ArgumentHelp("The agent's control socket (default: the program's namespace's, /run/srte/agent-<netns cookie>.sock).", valueName: "PATH"))
    var socket: String?

    @Argument(parsing: .captureForPassthrough, help: ArgumentHelp("The program and its arguments (after --).", valueName: "PROGRAM"))
    var command: [String] = []

    func validate() throws {
        if printCompatInclude {
            guard command.isEmpty else { throw ValidationError("--print-compat-include takes no program") }
            return
        }
        let argv = command.first == "--" ? Array(command.dropFirst()) : command
        guard !argv.isEmpty else { throw ValidationError("give the program to run: srte run -- PROGRAM [ARGS...]") }
    }

    /// Where the shim is, by the documented search order.
    static func findPreload(_ explicit: String?) -> String? {
        if let explicit { return explicit }
        if let env = ProcessInfo.processInfo.environment["SRTE_PRELOAD"], !env.isEmpty { return env }
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let candidates = [exe.appendingPathComponent("../lib/srte/libsrte-preload.so").standardized.path,
                          "/usr/local/lib/srte/libsrte-preload.so", "/usr/lib/srte/libsrte-preload.so"]
        return candidates.first { FileManager.default.isReadableFile(atPath: $0) }
    }

    /// The compatibility include directory, by the documented search order: the first that holds
    /// linux/tcp.h.
    static func findCompatInclude() -> String? {
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        var candidates = [exe.appendingPathComponent("../include/srte/compat").standardized.path,
                          "/usr/local/include/srte/compat", "/usr/include/srte/compat"]
        if let env = ProcessInfo.processInfo.environment["SRTE_COMPAT_INCLUDE"], !env.isEmpty { candidates = [env] }
        return candidates.first { FileManager.default.isReadableFile(atPath: $0 + "/linux/tcp.h") }
    }

    func run() throws {
        if printCompatInclude {
            guard let dir = Self.findCompatInclude() else {
                let env = ProcessInfo.processInfo.environment["SRTE_COMPAT_INCLUDE"] ?? ""
                throw CLIFailure.input(env.isEmpty
                    ? "srte's compatibility headers are not installed: run `scripts/install.sh PREFIX` (it puts PREFIX/include/srte/compat/linux/tcp.h), or set SRTE_COMPAT_INCLUDE"
                    : "SRTE_COMPAT_INCLUDE=\(env): no readable linux/tcp.h in that directory")
            }
            print(dir)
            return
        }
        let argv = command.first == "--" ? Array(command.dropFirst()) : command
        guard let shim = Self.findPreload(preload) else {
            throw CLIFailure.input("srte's LD_PRELOAD shim is not installed: run `scripts/install.sh PREFIX` (it puts PREFIX/lib/srte/libsrte-preload.so), or give --preload PATH or SRTE_PRELOAD")
        }
        guard FileManager.default.isReadableFile(atPath: shim) else {
            throw CLIFailure.input("\(shim): the shim is missing or not readable")
        }
        let path: String
        if let socket { path = socket } else if let env = ProcessInfo.processInfo.environment["SRTE_AGENT_SOCKET"], !env.isEmpty {
            path = env
        } else {
            path = Agent.defaultControlPath(namespaceCookie: try NetworkNamespace.currentCookie())
        }
        if let fd = try? UnixSocket.connect(to: path) { close(fd) } else {
            diagnose("srte run: warning: no agent answers at \(path): the program's subflow options will fail with ECONNREFUSED (start `srte agent` as root in this namespace)")
        }
        let old = ProcessInfo.processInfo.environment["LD_PRELOAD"] ?? ""
        setenv("LD_PRELOAD", old.isEmpty ? shim : shim + ":" + old, 1)
        if let socket { setenv("SRTE_AGENT_SOCKET", socket, 1) }
        let cArgs = argv.map { strdup($0) } + [nil]
        execvp(argv[0], cArgs)
        let e = Errno.current
        throw CLIFailure(message: "cannot run \(argv[0]): \(e.message)", code: e == ENOENT ? 127 : 126)
    }
}
