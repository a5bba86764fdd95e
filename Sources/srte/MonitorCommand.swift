import ArgumentParser
import SRv6Paths
import SubflowSteering

import Glibc
import LinuxSystem

/// `srte monitor`: live path-manager events, like `ip mptcp monitor`, plus new local addresses.
struct MonitorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor",
        abstract: "Print MPTCP path-manager events and local address changes as they happen.",
        discussion: """
        One line per event: connection and subflow events from the `mptcp_pm_events` group \
        (created, established, closed, announced, removed, sub_established, sub_closed, \
        sub_priority, listener_created, listener_closed) and local addresses added or removed \
        (rtnetlink). Runs until interrupted, --count events or --timeout seconds. While it runs, \
        servers on the userspace path manager accept joins (in every namespace: the kernel's \
        check for a subscriber is host-wide). With --format json, one JSON object per line.

        Examples:
          srte monitor
          srte monitor --format json --netns lab-h2 --count 10
        """
    )

    @OptionGroup var namespace: NamespaceOptions

    @OptionGroup var output: FormatOptions

    @Option(help: "Stop after this many events.")
    var count: Int?

    @Option(help: "Stop after this many seconds.")
    var timeout: Double?

    func validate() throws {
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
        if let timeout, !(timeout > 0) { throw ValidationError("--timeout must be positive") }
    }

    func run() throws {
        let monitor = try namespace.inNamespace {
            if let p = mptcpProblem(requireUserspace: false) { throw p }
            return try PathManagerMonitor()
        }
        let out = StdoutBuffer()
        let clock = ContinuousClock()
        let deadline = timeout.map { clock.now + .milliseconds(Int($0 * 1000)) }
        var seen = 0
        while true {
            if let deadline, clock.now >= deadline { break }
            let wait = deadline.map { min($0 - clock.now, .milliseconds(500)) } ?? .milliseconds(500)
            let events: [MonitorEvent]
            events = try monitor.next(timeout: max(wait, .milliseconds(1)))
            for e in events {
                out.line(output.isJSON ? Self.json(e).rendered : Self.text(e))
                seen += 1
                if let count, seen >= count { out.flush(); return }
            }
            out.flush()
        }
    }

    static func text(_ e: MonitorEvent) -> String {
        switch e {
        case .pathManager(let p): return p.description
        case .localAddressAdded(let a): return "[LOCAL_ADDR_ADDED] \(a)"
        case .localAddressRemoved(let a): return "[LOCAL_ADDR_REMOVED] \(a)"
        }
    }

    static func json(_ e: MonitorEvent) -> JSON {
        switch e {
        case .pathManager(let p):
            var o: [(String, JSON)] = [("event", .string(p.type.description))]
            if let v = p.token { o.append(("token", .int(Int(v)))) }
            if let v = p.localID { o.append(("localId", .int(Int(v)))) }
            if let v = p.remoteID { o.append(("remoteId", .int(Int(v)))) }
            if let v = p.local { o.append(("local", .object([("address", .string(v.hostText)), ("port", .int(Int(v.port)))]))) }
            if let v = p.remote { o.append(("remote", .object([("address", .string(v.hostText)), ("port", .int(Int(v.port)))]))) }
            if let v = p.backup { o.append(("backup", .bool(v))) }
            if let v = p.error { o.append(("error", .int(Int(v)))) }
            if let v = p.flags { o.append(("flags", .int(Int(v)))) }
            if let v = p.timeout { o.append(("timeout", .int(Int(v)))) }
            if let v = p.interfaceIndex { o.append(("ifindex", .int(Int(v)))) }
            if let v = p.resetReason { o.append(("resetReason", .int(Int(v)))) }
            if let v = p.resetFlags { o.append(("resetFlags", .int(Int(v)))) }
            if let v = p.serverSide { o.append(("serverSide", .bool(v))) }
            return .object(o)
        case .localAddressAdded(let a), .localAddressRemoved(let a):
            let added: Bool
            if case .localAddressAdded = e { added = true } else { added = false }
            return .object([
                ("event", .string(added ? "LOCAL_ADDR_ADDED" : "LOCAL_ADDR_REMOVED")),
                ("address", .string(SocketEndpoint(a.address, port: 0).hostText)),
                ("prefixLength", .int(Int(a.prefixLength))),
                ("ifindex", .int(Int(a.interfaceIndex))),
                ("flags", .int(Int(a.flags))),
            ])
        }
    }
}
