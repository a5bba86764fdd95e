import ArgumentParser
import SRv6Paths
import SubflowSteering
import Glibc
import LinuxSystem

/// `srte serve`: an MPTCP sink that counts bytes per subflow.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Accept MPTCP connections, read them to the end, and report bytes per subflow.",
        discussion: """
        Listens with IPPROTO_MPTCP (plain TCP clients are served too, as a fallback). When the \
        namespace uses the userspace path manager (net.mptcp.pm_type=1), srte subscribes to \
        mptcp_pm_events while serving: the kernel accepts joins on such a server only while some \
        process on the host subscribes (the check is host-wide, not per namespace).

        --verify checks every byte against the pattern srte's senders write (`srte open`, \
        `srte experiment`): each 8-byte word carries its own stream offset, so a lost, duplicated \
        or reordered byte is reported at its offset, and the exit status is 1.

        With --format json, one JSON object per connection, each on one line.

        Example:
          srte serve --listen :5201 --count 1 --format json --verify
        """
    )

    @Option(help: ArgumentHelp("Address and port to listen on: [ADDR]:PORT or :PORT.", valueName: "[ADDR]:PORT"))
    var listen: String = ":5201"

    @Option(help: "Connections to serve, then exit (default: forever).")
    var count: Int?

    @Option(help: "Seconds to wait for a connection, and for data within one, before giving up.")
    var timeout: Int = 3600

    @Flag(help: "Steer each subflow's replies along the reverse of the segment list its packets arrived with.")
    var reflect = false

    @Option(help: "With --reflect: how replies are steered (route or bpf; default: route where the kernel has seg6 routes, else bpf).")
    var steer: OpenCommand.Steer?

    @Option(help: ArgumentHelp("With --reflect: the interface traffic arrives on (default: the only one besides lo).", valueName: "IFACE"))
    var dev: String?

    @Flag(help: "Check every byte against srte's sender pattern; exit 1 when one is wrong.")
    var verify = false

    @OptionGroup var output: FormatOptions

    func validate() throws {
        if let c = count, c < 1 { throw ValidationError("--count \(c): serve at least one connection") }
        if timeout < 1 { throw ValidationError("--timeout \(timeout): at least one second") }
    }

    func run() throws {
        TerminationGuard.install()
        let endpoint = try parseEndpoint(listen, option: "--listen")
        let sink: MPTCPSink
        do { sink = try MPTCPSink(listen: endpoint) } catch {
            throw InContext("cannot listen on \(endpoint)", error, code: ExitStatus.system)
        }
        var steering: SRHSteering? = nil
        if reflect {
            guard geteuid() == 0 else { throw CLIFailure.system("--reflect installs steering in the kernel: run as root") }
            do {
                let iface = try dev ?? SRHReflector.soleInterface()
                let off = SRv6Reception.disabled(on: [iface])
                guard off.isEmpty else {
                    throw CLIFailure.system("--reflect needs SRv6 reception, but seg6_enabled is 0 on \(off.joined(separator: ", ")): packets with an SRH would be dropped. Run `\(SRv6Reception.fix(off))`")
                }
                let s = try OpenCommand.Steer.make(steer) { iface }.1
                sink.reflector = try SRHReflector(interface: iface, steering: s)
                steering = s
            } catch let e as CLIFailure { throw e } catch { throw InContext("cannot set up --reflect", error, code: ExitStatus.system) }
        }
        let box = UncheckedBox(sink.reflector)
        let token = TerminationGuard.onTermination { box.value?.close() }
        defer { TerminationGuard.remove(token); sink.reflector?.close(); steering?.removeAll() }
        diagnose("srte: listening on \((try? sink.endpoint) ?? endpoint) (MPTCP\(reflect ? ", reflecting SRHs" : ""))")
        var served = 0
        var bad = 0
        while count.map({ served < $0 }) ?? true {
            let r: SinkReport
            do { r = try sink.serveOne(timeout: .seconds(timeout), verify: verify) } catch { throw CLIFailure.system(error) }
            served += 1
            let out = StdoutBuffer()
            switch output.format {
            case .json: out.line(ServeReport.json(r).rendered)
            case .text: out.line(ServeReport.text(r))
            }
            out.flush()
            if verify && !r.verified { bad += 1 }
        }
        if bad > 0 { throw CLIFailure.negative("\(bad) of \(served) connection(s) failed verification") }
    }
}

enum ServeReport {
    static func mbps(_ bytes: UInt64, _ seconds: Double) -> Double {
        seconds > 0 ? (Double(bytes) * 8 / seconds / 1e6 * 100).rounded() / 100 : 0
    }

    static func json(_ r: SinkReport) -> JSON {
        .object([
            ("peer", .string(r.peer.description)),
            ("bytes", .int(Int(r.bytes))),
            ("seconds", .double((r.seconds * 1000).rounded() / 1000)),
            ("mbps", .double(mbps(r.bytes, r.seconds))),
            ("multipath", .bool(r.multipath)),
            ("token", r.token.map { .int(Int($0)) } ?? .null),
            ("verified", r.verification == nil ? .null : .bool(r.verified)),
            ("firstMismatchOffset", r.verification?.firstMismatch.map { .int(Int($0)) } ?? .null),
            ("subflows", .array(r.subflows.map {
                .object([("local", .string($0.local.description)), ("remote", .string($0.remote.description)),
                         ("bytes", .int(Int($0.bytesReceived)))])
            })),
        ])
    }

    static func text(_ r: SinkReport) -> String {
        var lines = ["\(r.peer): \(r.bytes) bytes in \(String(format3: r.seconds)) s = \(mbps(r.bytes, r.seconds)) Mbit/s, "
            + (r.multipath ? "MPTCP, \(r.subflows.count) subflow(s)" : "plain TCP (fallback)")]
        if let v = r.verification {
            lines.append(v.firstMismatch.map { "  verification FAILED: first wrong byte at stream offset \($0)" }
                         ?? "  verified: all \(v.offset) bytes are the sender's pattern, in order")
        }
        let table = Table([.left(44), .left(0), .left(40)], indent: "  ")
        for s in r.subflows {
            let share = r.bytes > 0 ? Double(s.bytesReceived) / Double(r.bytes) * 100 : 0
            lines.append(table.line([s.remote.description, "->", s.local.description, "\(s.bytesReceived) bytes (\(Int(share.rounded()))%)"]))
        }
        return lines.joined(separator: "\n")
    }
}

extension String {
    /// A number with three decimals, without Foundation.
    init(format3 v: Double) {
        let m = (v * 1000).rounded()
        let i = Int(m) / 1000, f = abs(Int(m) % 1000)
        let fs = String(f)
        self = "\(i).\(String(repeating: "0", count: 3 - fs.count))\(fs)"
    }
}
