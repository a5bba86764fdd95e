import ArgumentParser
import SubflowSteering
import LinuxSystem
import PathAgent

/// `srte cleanup`: removes steering state left by an srte process that was killed.
struct CleanupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cleanup",
        abstract: "Remove srte's policy rules and routes (proto 83) left in this network namespace.",
        discussion: """
        srte removes what it installs on exit, SIGINT, SIGTERM and SIGHUP, and the kernel removes \
        its BPF programs when the process dies. Only SIGKILL (or a crash) can leave policy rules \
        and routes behind: they are tagged proto 83 (`ip -6 rule`, `ip -6 route show table all \
        proto 83`), and this command removes them. A killed `srte agent` leaves its control \
        socket and, with --set-pm, the path-manager switch (recorded in \
        /run/srte/agent-<namespace cookie>.state): both are undone here when that agent no longer \
        runs. A killed `srte open` leaves srte's local ports (40000-40999) in \
        net.ipv4.ip_local_reserved_ports: removed here when no srte process uses them and srte \
        added them. Run it in the namespace where srte ran, or give --netns.
        """
    )

    @Option(help: ArgumentHelp("Clean up in this network namespace (/run/netns/NAME).", valueName: "NAME"))
    var netns: String?

    func run() throws {
        if let netns {
            do { try NetworkNamespace.enter(netns) } catch { throw CLIFailure.system("network namespace \(netns): \(error)") }
        }
        let n = try PolicyRoutingSteering.removeLeftovers()
        diagnose("srte: removed \(n.rules) rule(s) and \(n.routes) route(s)")
        for line in AgentStateFile.cleanUpAfterDeadAgent() { diagnose("srte: \(line)") }
        if let range = PortReservation.cleanUp() {
            diagnose("srte: removed srte's local ports \(range) from net.ipv4.ip_local_reserved_ports (no srte process uses them)")
        }
    }
}
