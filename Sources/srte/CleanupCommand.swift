import ArgumentParser
import SubflowSteering
import LinuxSystem

/// `srte cleanup`: removes steering state left by an srte process that was killed.
struct CleanupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cleanup",
        abstract: "Remove srte's policy rules and routes (proto 83) left in this network namespace.",
        discussion: """
        srte removes what it installs on exit, SIGINT, SIGTERM and SIGHUP, and the kernel removes \
        its BPF programs when the process dies. Only SIGKILL (or a crash) can leave policy rules \
        and routes behind: they are tagged proto 83 (`ip -6 rule`, `ip -6 route show table all \
        proto 83`), and this command removes them. Run it in the namespace where srte ran.
        """
    )

    func run() throws {
        let n = try PolicyRoutingSteering.removeLeftovers()
        diagnose("srte: removed \(n.rules) rule(s) and \(n.routes) route(s)")
    }
}
