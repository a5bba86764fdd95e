import ArgumentParser
import Glibc
import LinuxSystem
import SRv6Paths
internal import CSRH

/// `srte-delay-bridge`: the userspace delay bridge of one lab link.
///
/// `srte testbed up` starts one per delayed link, detached, when the kernel has no netem. The
/// readiness protocol: with `--ready-fd N` the bridge writes one line to descriptor N once both
/// ports are open — `ready`, or `error: REASON` — and closes it; the bridge then forwards
/// until a port disappears (the link namespace is deleted) or it receives SIGTERM.
@main
struct DelayBridgeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "srte-delay-bridge",
        abstract: "Forward frames between two interfaces, each held for a fixed one-way delay.",
        discussion: """
            Started by `srte testbed up` for each delayed link when the kernel has no netem, in the \
            link's own namespace (<lab>+L<i>). Frames keep their virtio-net header, so GSO frames and \
            partial checksums pass unchanged. Run by hand only to debug a lab.
            """)

    @Option(help: ArgumentHelp("Enter this network namespace first (/run/netns/NAME).", valueName: "NAME"))
    var netns: String?

    @Option(name: .customLong("delay-us"), help: "One-way delay in microseconds, each direction.")
    var delayMicroseconds: Int

    @Option(name: .customLong("queue-bytes"), help: "Queue bound per direction, in bytes.")
    var queueBytes: Int = 4 << 20

    @Option(name: .customLong("port-a"), help: "Interface of port A.")
    var portA: String = "porta"

    @Option(name: .customLong("port-b"), help: "Interface of port B.")
    var portB: String = "portb"

    @Option(name: .customLong("ready-fd"), help: "Write `ready` or `error: REASON` and a newline to this descriptor, then close it.")
    var readyFD: Int32?

    @Option(name: .customLong("stats-file"), help: ArgumentHelp(
        "Keep the bridge's counters in this file (one line of JSON, rewritten at most once a second while they change, and at exit): frames forwarded and dropped each way, frames the kernel dropped before the bridge read them, frames that left more than 1 ms late.",
        valueName: "PATH"))
    var statsFile: String?

    func run() throws {
        guard (0...Topology.maxDelay).contains(delayMicroseconds) else {
            report("error: --delay-us \(delayMicroseconds): must be in 0...\(Topology.maxDelay)")
            throw ExitCode(2)
        }
        if let netns {
            do { try NetworkNamespace.enter(netns) } catch {
                report("error: \(error)")
                throw ExitCode(3)
            }
        }
        // Frames should leave on time while the lab's senders keep the CPUs busy.
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, -10)
        // `up` may be gone before it reads the ready line: that write must fail, not kill us.
        signal(SIGPIPE, SIG_IGN)
        let bridge = DelayBridge(portA: portA, portB: portB, delay: .microseconds(delayMicroseconds), queueBytes: queueBytes)
        do {
            let stop = try bridge.run(ready: { report("ready") }, report: statsFile.map { path in { c in try? FileReplacement.write(Array((c.json + "\n").utf8), to: path) } })
            FileHandleStderr.write("srte-delay-bridge: stopped: \(stop)\n")
        } catch {
            report("error: \(error)")
            FileHandleStderr.write("srte-delay-bridge: \(error)\n")
            throw ExitCode(3)
        }
    }

    /// Writes `line` to the ready descriptor (once) and closes it.
    private func report(_ line: String) {
        guard let fd = readyFD, fcntl(fd, F_GETFD) >= 0 else {
            FileHandleStderr.write(line + "\n")
            return
        }
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }
}

/// Standard error, unbuffered.
enum FileHandleStderr {
    static func write(_ s: String) {
        let bytes = Array(s.utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
