import Glibc
import ArgumentParser
import LinuxSystem
import NetworkLab

/// `srte`: SRv6 traffic engineering from the shell.
@main
struct Srte: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "srte",
        abstract: "SRv6 traffic engineering: build and check Segment Routing Headers, plan disjoint paths, steer MPTCP subflows.",
        discussion: """
        Data goes to stdout, diagnostics to stderr. Exit status: 0 success, 1 a negative \
        result (e.g. an invalid SRH, no path), 2 unusable input (also an argument check that \
        fails; topology errors name file:line:column, SRH errors a byte offset), 3 a system or \
        kernel error (with the errno and, for netlink, the kernel's message). `srte testbed` \
        adds 4 (the lab does not exist or already exists) and 130 (interrupted). A command \
        line that cannot be parsed at all exits 64.
        """,
        version: "0.1.0",
        subcommands: [
            SRHCommand.self, PlanCommand.self, TopologyCommand.self,
            OpenCommand.self, ServeCommand.self, SubflowsCommand.self, CloseCommand.self, MonitorCommand.self,
            TestbedCommand.self, ExperimentCommand.self, CleanupCommand.self, AgentCommand.self, RunCommand.self,
        ]
    )

    /// Parses, runs, and maps any error to "srte: message" on stderr and its exit status
    /// (``ExitStatus/of(_:)``), in this one place.
    static func main() {
        Glibc.exit(exitStatus(Array(CommandLine.arguments.dropFirst())))
    }

    /// The exit status of `srte ARGUMENTS` (help and parse errors are printed as argument-parser does).
    static func exitStatus(_ arguments: [String]) -> Int32 {
        var command: ParsableCommand
        do {
            command = try parseAsRoot(arguments)
        } catch {
            if ExitStatus.userValidationError(in: error) != nil {
                // An argument check in validate(): the message and the usage, exit 2.
                diagnose(fullMessage(for: error))
                return ExitStatus.unusableInput
            }
            exit(withError: error)
        }
        do {
            try command.run()
            return ExitStatus.success
        } catch where ExitStatus.isArgumentParserOwn(error) {
            exit(withError: error)   // help (`srte help …` runs a command that throws it), CleanExit
        } catch {
            let (code, message) = ExitStatus.of(error)
            if !message.isEmpty { diagnose("srte: \(message)") }
            return code
        }
    }
}
