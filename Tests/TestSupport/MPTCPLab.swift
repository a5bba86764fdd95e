import Foundation
import SRv6Paths
import SubflowSteering
import LinuxSystem

/// Two namespaces, client "c" (fc00:1::1, plus fc00:1::11) and server "s"
/// (fc00:1::2), joined by one veth, both on the userspace path manager, with a
/// path-manager event subscription in the server (so it accepts joins) and an
/// MPTCP listener on port 5000. Everything is deleted when the lab goes away.
package final class MPTCPLab: @unchecked Sendable {
    package let lab: TestLab
    package let client = SocketEndpoint(IPv6Address("fc00:1::1")!, port: 0)
    package let client2 = SocketEndpoint(IPv6Address("fc00:1::11")!, port: 0)
    package let server = SocketEndpoint(IPv6Address("fc00:1::2")!, port: 5000)
    package let listener: MPTCPSocket
    package let serverEvents: MPTCPEventSubscription?
    package let serverPM: MPTCPPathManager
    package let clientInterface: Int32

    package init(_ tag: String, serverPMType: Int = 1, clientPMType: Int = 1, serverSubscribes: Bool = true, serverSubflowLimit: Int = 8) throws {
        lab = try TestLab(tag, nodes: ["c", "s"])
        let (ic, isv) = try lab.link("c", "s")
        try lab.exec("c", ["ip", "-6", "addr", "add", "fc00:1::1/64", "dev", ic, "nodad"])
        try lab.exec("c", ["ip", "-6", "addr", "add", "fc00:1::11/64", "dev", ic, "nodad"])
        try lab.exec("s", ["ip", "-6", "addr", "add", "fc00:1::2/64", "dev", isv, "nodad"])
        try lab.sysctl("c", "net.mptcp.pm_type", String(clientPMType))
        try lab.sysctl("s", "net.mptcp.pm_type", String(serverPMType))
        try lab.disableMPTCPBlackhole("c", "s")
        if serverPMType == 0 { try lab.exec("s", ["ip", "mptcp", "limits", "set", "subflows", String(serverSubflowLimit), "add_addr_accepted", "8"]) }
        clientInterface = Int32(try lab.exec("c", ["cat", "/sys/class/net/\(ic)/ifindex"]).trimmingCharacters(in: .whitespacesAndNewlines))!
        let srv = server
        (listener, serverPM, serverEvents) = try NetworkNamespace.run(in: lab.ns("s")) {
            let l = try MPTCPSocket()
            try l.setOption(level: SOL_SOCKET, name: SO_REUSEADDR, value: 1)
            try l.bind(srv)
            try l.listen()
            let pm = try MPTCPPathManager()
            return (l, pm, serverSubscribes ? try pm.subscribe() : nil)
        }
    }

    /// Connects from the client namespace (bound to `from`), accepts on the server.
    package func connect(from: SocketEndpoint? = nil) throws -> (MultipathConnection, MPTCPSocket) {
        let srv = server
        let c = try NetworkNamespace.run(in: lab.ns("c")) { try MultipathConnection.connect(to: srv, from: from ?? client) }
        guard try listener.waitReadable(timeout: .seconds(3)) else { throw TestLab.CommandFailed(command: ["accept"], status: -1, stderr: "no connection to accept") }
        let a = try listener.accept()
        // One byte so the connection is fully established (DSS) before joins.
        try c.socket.send([0x68])
        _ = try a.receive(max: 1)
        return (c, a)
    }

    /// Server-side events for `token` within `timeout` until `stop` says so.
    package func serverEvents(timeout: Duration, until stop: ([MPTCPEvent]) -> Bool) throws -> [MPTCPEvent] {
        var got: [MPTCPEvent] = []
        let clock = ContinuousClock(), deadline = clock.now + timeout
        while clock.now < deadline && !stop(got) {
            got += try serverEvents!.poll(timeout: min(deadline - clock.now, .milliseconds(50)))
        }
        return got
    }

    /// A counter from the server namespace's /proc/net/netstat (e.g. "MPJoinAckRx").
    package func serverCounter(_ name: String) throws -> Int {
        let text = try lab.exec("s", ["cat", "/proc/net/netstat"])
        let lines = text.split(separator: "\n")
        for i in stride(from: 0, to: lines.count - 1, by: 2) {
            let keys = lines[i].split(separator: " "), values = lines[i + 1].split(separator: " ")
            if let k = keys.firstIndex(of: Substring(name)), k < values.count { return Int(values[k]) ?? -1 }
        }
        return -1
    }
}
