// mptcp-bench: time from connect() to k established extra subflows between two
// network namespaces, with and without added delay. See README.md. Root only.
//
//   mptcp-bench [--trials N] [--k 1,4,8] [--delay-us 0,5000] [--bridge PATH] [--csv FILE]
//
// --delay-us is the one-way delay the userspace bridge adds in each direction
// (0 = the two namespaces share one veth pair, no bridge).
import Foundation
import SRv6Paths
import SubflowSteering
import LinuxSystem


/// Prints a line at once (stdout may be a pipe).
func say(_ s: String = "") {
    FileHandle.standardOutput.write((s + "\n").data(using: .utf8)!)
}

struct Options {
    var trials = 20
    var ks = [1, 4, 8]
    var delays = [0, 5000]
    var bridge = "Benchmarks/build/delaybridge"
    var csv: String?
}

nonisolated(unsafe) var opt = Options()
var argv = CommandLine.arguments.dropFirst()
while let a = argv.popFirst() {
    func value() -> String {
        guard let v = argv.popFirst() else { fatalError("\(a) needs a value") }
        return v
    }
    switch a {
    case "--trials": opt.trials = Int(value())!
    case "--k": opt.ks = value().split(separator: ",").map { Int($0)! }
    case "--delay-us": opt.delays = value().split(separator: ",").map { Int($0)! }
    case "--bridge": opt.bridge = value()
    case "--csv": opt.csv = value()
    default: fatalError("unknown option \(a)")
    }
}
guard geteuid() == 0 else {
    FileHandle.standardError.write("mptcp-bench needs root (network namespaces, MPTCP path manager)\n".data(using: .utf8)!)
    exit(1)
}

// MARK: lab

@discardableResult
func sh(_ args: [String]) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = args
    let o = Pipe(), e = Pipe()
    p.standardOutput = o
    p.standardError = e
    try p.run()
    let od = o.fileHandleForReading.readDataToEndOfFile(), ed = e.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
        throw NSError(domain: "sh", code: Int(p.terminationStatus), userInfo: [NSLocalizedDescriptionKey: "\(args.joined(separator: " ")): \(String(decoding: ed, as: UTF8.self))"])
    }
    return String(decoding: od, as: UTF8.self)
}

let prefix = "mb\(getpid())-"
nonisolated(unsafe) var created: [String] = []
nonisolated(unsafe) var bridgePID: Int32 = 0

func cleanup() {
    if bridgePID > 0 { kill(bridgePID, SIGTERM); bridgePID = 0 }
    for n in created.reversed() { _ = try? sh(["ip", "netns", "del", n]) }
    created.removeAll()
}
atexit { cleanup() }
for s in [SIGINT, SIGTERM] {
    signal(s) { _ in cleanup(); exit(130) }
}

func ns(_ n: String) -> String { prefix + n }
func x(_ n: String, _ args: [String]) throws { try sh(["ip", "netns", "exec", ns(n)] + args) }

let clientAddr = IPv6Address("fc00:7::1")!
let server = SocketEndpoint(IPv6Address("fc00:7::2")!, port: 5000)

/// Builds c — s (delay 0) or c — r — s with the bridge in r.
func buildLab(delayUS: Int) throws {
    for n in delayUS > 0 ? ["c", "r", "s"] : ["c", "s"] {
        try sh(["ip", "netns", "add", ns(n)])
        created.append(ns(n))
        try x(n, ["ip", "link", "set", "lo", "up"])
    }
    if delayUS > 0 {
        try sh(["ip", "link", "add", "c0", "netns", ns("c"), "type", "veth", "peer", "name", "rc", "netns", ns("r")])
        try sh(["ip", "link", "add", "s0", "netns", ns("s"), "type", "veth", "peer", "name", "rs", "netns", ns("r")])
        for (n, i) in [("c", "c0"), ("s", "s0"), ("r", "rc"), ("r", "rs")] { try x(n, ["ip", "link", "set", i, "up"]) }
    } else {
        try sh(["ip", "link", "add", "c0", "netns", ns("c"), "type", "veth", "peer", "name", "s0", "netns", ns("s")])
        try x("c", ["ip", "link", "set", "c0", "up"])
        try x("s", ["ip", "link", "set", "s0", "up"])
    }
    try x("c", ["ip", "-6", "addr", "add", "fc00:7::1/64", "dev", "c0", "nodad"])
    try x("s", ["ip", "-6", "addr", "add", "fc00:7::2/64", "dev", "s0", "nodad"])
    for n in ["c", "s"] { try x(n, ["sysctl", "-qw", "net.mptcp.pm_type=1"]) }
    if delayUS > 0 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["ip", "netns", "exec", ns("r"), opt.bridge, "rc", "rs", String(delayUS)]
        let o = Pipe()
        p.standardOutput = o
        try p.run()
        bridgePID = p.processIdentifier
        _ = o.fileHandleForReading.availableData   // "ready"
    }
}

func pingRTT() throws -> Double {
    let out = try sh(["ip", "netns", "exec", ns("c"), "ping", "-6", "-c", "10", "-i", "0.05", "-q", server.hostText])
    // rtt min/avg/max/mdev = 0.027/0.035/0.052/0.008 ms
    let nums = out.split(separator: "=").last!.split(separator: "/").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
    return nums[0]   // min, ms
}

// MARK: run

struct Sample { var delayUS: Int; var k: Int; var rttMS: Double; var total: Double; var joins: Double; var fullEst: Double; var requests: Double }
var samples: [Sample] = []

func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }

for delay in opt.delays {
    try buildLab(delayUS: delay)
    let (listener, serverSub) = try NetworkNamespace.run(in: ns("s")) { () throws -> (MPTCPSocket, MPTCPEventSubscription) in
        let l = try MPTCPSocket()
        try l.setOption(level: SOL_SOCKET, name: SO_REUSEADDR, value: 1)
        try l.bind(server)
        try l.listen(backlog: 128)
        return (l, try MPTCPPathManager().subscribe())   // the subscriber that makes s accept joins
    }
    _ = try pingRTT()   // neighbour discovery out of the way
    let rtt = try pingRTT()
    say("delay \(delay) us each way: ping RTT min \(String(format: "%.3f", rtt)) ms")
    for k in opt.ks {
        for trial in 0..<(opt.trials + 1) {   // trial 0 warms up and is discarded
            let s = try NetworkNamespace.run(in: ns("c")) { () throws -> MPTCPSocket in
                let s = try MPTCPSocket()
                try s.bind(SocketEndpoint(clientAddr, port: UInt16(30000 + (trial * 16 + k * 1000 + delay / 100) % 9000)))
                return s
            }
            let conn: MultipathConnection = try NetworkNamespace.run(in: ns("c")) {
                try s.connect(to: server)
                return try MultipathConnection(socket: s)
            }
            let t0 = ContinuousClock.now   // connect() returned (+ subscription set up)
            try s.send([0x21])             // first data: the peer's DSS ack makes the connection fully established
            let tuples = (0..<k).map { _ in SubflowTuple(local: SocketEndpoint(clientAddr, port: 0), remote: server) }
            _ = try conn.openSubflows(tuples, timeout: .seconds(10))
            let t = conn.lastOpenTiming!
            if trial > 0 {
                samples.append(Sample(delayUS: delay, k: k, rttMS: rtt, total: ms(t.allEstablished! - t0), joins: ms(t.allEstablished! - t.firstAccepted!),
                                      fullEst: ms(t.firstAccepted! - t0), requests: ms(t.allRequested! - t.firstAccepted!)))
            }
            // Server side: accept and drop; drain events.
            while (try? listener.waitReadable(timeout: .milliseconds(1))) == true { _ = try? listener.accept() }
            _ = try? serverSub.poll(timeout: .microseconds(1))
            withExtendedLifetime(conn) {}
        }
    }
    cleanup()
}

// MARK: report

func pct(_ xs: [Double], _ p: Double) -> Double {
    let s = xs.sorted()
    return s[min(s.count - 1, Int((Double(s.count - 1) * p).rounded()))]
}

say("")
say("| one-way delay | ping RTT | k | connect→k up: median (p90) | in RTTs | fully established→k up: median (p90) | in RTTs | k requests sent | goal ≤ 1 RTT + 2 ms (from full establishment) |")
say("|---|---|---|---|---|---|---|---|---|")
var csv = "delay_us,k,rtt_ms,connect_to_all_ms,full_to_all_ms,connect_to_full_ms,requests_ms\n"
for delay in opt.delays {
    for k in opt.ks {
        let xs = samples.filter { $0.delayUS == delay && $0.k == k }
        guard let rtt = xs.first?.rttMS else { continue }
        let tot = xs.map(\.total), j = xs.map(\.joins), req = xs.map(\.requests)
        let goal = pct(j, 0.5) <= rtt + 2
        say(String(format: "| %d µs | %.3f ms | %d | %.3f (%.3f) ms | %.2f | %.3f (%.3f) ms | %.2f | %.3f ms | %@ |",
                     delay, rtt, k, pct(tot, 0.5), pct(tot, 0.9), pct(tot, 0.5) / rtt, pct(j, 0.5), pct(j, 0.9), pct(j, 0.5) / rtt,
                     pct(req, 0.5), goal ? "met" : "missed"))
        for x in xs { csv += "\(x.delayUS),\(x.k),\(x.rttMS),\(x.total),\(x.joins),\(x.fullEst),\(x.requests)\n" }
    }
}
if let f = opt.csv { try csv.write(toFile: f, atomically: true, encoding: .utf8) }
