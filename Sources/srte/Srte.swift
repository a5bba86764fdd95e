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
        result (e.g. an invalid SRH), 2 unusable input, 3 a system or kernel error.
        """,
        version: "0.1.0",
        subcommands: [
            SRHCommand.self, PlanCommand.self, TopologyCommand.self,
            OpenCommand.self, ServeCommand.self, SubflowsCommand.self, CloseCommand.self, MonitorCommand.self,
            TestbedCommand.self, ExperimentCommand.self, CleanupCommand.self,
        ]
    )
}
