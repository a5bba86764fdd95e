// Steering benchmarks, in network namespaces this program creates and deletes.
//   steer-bench install [N...]          steer N flows then unsteer them, per mechanism
//   steer-bench throughput [RUNS] [SEC] one TCP flow h1 -> r -> h2 over veth for SEC seconds:
//                                       no steering, policy routing, BPF (SRH [r's End SID, h2]),
//                                       modes interleaved, RUNS rounds
// Prints JSON lines.
import SRv6Paths
import SubflowSteering
import LinuxSystem
import Glibc

func sh(_ args: [String]) -> Int32 {
    var pid: pid_t = 0
    let argv = args.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    guard posix_spawnp(&pid, args[0], nil, nil, argv, environ) == 0 else { return -1 }
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    return status
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) * 1e3 + Double(ts.tv_nsec) / 1e6
}

@main
struct SteerBench {
    static func main() throws {
        guard geteuid() == 0 else { print("steer-bench needs root (it creates network namespaces)"); exit(2) }
        if CommandLine.arguments.dropFirst().first == "throughput" {
            let a = CommandLine.arguments.dropFirst(2).compactMap { Double($0) }
            try throughput(runs: Int(a.first ?? 5), seconds: a.count > 1 ? a[1] : 5)
            return
        }
        let counts = CommandLine.arguments.dropFirst().filter { $0 != "install" }.compactMap { Int($0) }
        let sizes = counts.isEmpty ? [1, 100, 1000] : counts
        let ns = "srtebench\(getpid())"
        guard sh(["ip", "netns", "add", ns]) == 0 else { print("ip netns add failed"); exit(1) }
        defer { _ = sh(["ip", "netns", "del", ns]) }
        for cmd in [["ip", "link", "add", "sb0", "type", "veth", "peer", "name", "sb1"], ["ip", "link", "set", "sb0", "up"],
                    ["ip", "link", "set", "sb1", "up"], ["ip", "-6", "addr", "add", "fc00:99::1/64", "dev", "sb0", "nodad"],
                    ["ip", "-6", "route", "add", "fc00:2::/64", "via", "fc00:99::2", "dev", "sb0"]] {
            _ = sh(["ip", "netns", "exec", ns] + cmd)
        }
        let local = IPv6Address("fc00:99::1")!, remote = IPv6Address("fc00:2::2")!
        let srh = try SegmentRoutingHeader(path: [IPv6Address("fc00:0:b::1")!, IPv6Address("fc00:0:c::1")!, remote], nextHeader: 6)
        for mechanism in routeSupported ? ["bpf", "route"] : ["bpf"] {
            for n in sizes {
                let s0 = now()
                let steering: SRHSteering = try NetworkNamespace.run(in: ns) {
                    mechanism == "bpf" ? try BPFSteering(interface: "sb0") as SRHSteering : try PolicyRoutingSteering() as SRHSteering
                }
                let setup = now() - s0
                let flows = (0..<n).map { FourTuple(local: local, localPort: UInt16(20000 + $0), remote: remote, remotePort: 5201) }
                let t0 = now()
                for f in flows { try steering.steer(f, along: srh) }
                let t1 = now()
                for f in flows { try steering.unsteer(f) }
                let t2 = now()
                steering.removeAll()
                let install = t1 - t0, remove = t2 - t1
                print(#"{"mechanism": "\#(mechanism)", "flows": \#(n), "setup_ms": \#(round(setup * 1000) / 1000), "install_ms": \#(round(install * 1000) / 1000), "remove_ms": \#(round(remove * 1000) / 1000), "install_per_flow_us": \#(round(install / Double(n) * 1e4) / 10), "remove_per_flow_us": \#(round(remove / Double(n) * 1e4) / 10)}"#)
            }
        }
    }

    /// Whether policy routing can run here (seg6 routes); said once on stderr when not.
    static let routeSupported: Bool = {
        guard let p = PolicyRoutingSteering.kernelProblem() else { return true }
        let note = "steer-bench: no seg6 routes in this kernel (\(p)): policy routing skipped\n"
        _ = note.withCString { write(2, $0, strlen($0)) }
        return false
    }()

    /// One TCP flow per mode and round through h1 - r - h2; r is an SRv6 router.
    static func throughput(runs: Int, seconds: Double) throws {
        let lab = "stb\(getpid())"
        let nodes = ["h1", "r", "h2"]
        defer { for n in nodes { _ = sh(["ip", "netns", "del", "\(lab)-\(n)"]) } }
        for n in nodes { _ = sh(["ip", "netns", "add", "\(lab)-\(n)"]); _ = sh(["ip", "-n", "\(lab)-\(n)", "link", "set", "lo", "up"]) }
        func x(_ n: String, _ a: [String]) { _ = sh(["ip", "netns", "exec", "\(lab)-\(n)"] + a) }
        _ = sh(["ip", "link", "add", "h1-r", "netns", "\(lab)-h1", "type", "veth", "peer", "name", "r-h1", "netns", "\(lab)-r"])
        _ = sh(["ip", "link", "add", "r-h2", "netns", "\(lab)-r", "type", "veth", "peer", "name", "h2-r", "netns", "\(lab)-h2"])
        for (n, d) in [("h1", "h1-r"), ("r", "r-h1"), ("r", "r-h2"), ("h2", "h2-r")] { x(n, ["ip", "link", "set", d, "up"]) }
        x("h1", ["ip", "-6", "addr", "add", "fc00:10::1/64", "dev", "h1-r", "nodad"])
        x("r", ["ip", "-6", "addr", "add", "fc00:10::2/64", "dev", "r-h1", "nodad"])
        x("r", ["ip", "-6", "addr", "add", "fc00:20::1/64", "dev", "r-h2", "nodad"])
        x("h2", ["ip", "-6", "addr", "add", "fc00:20::2/64", "dev", "h2-r", "nodad"])
        x("h1", ["ip", "-6", "route", "add", "default", "via", "fc00:10::2"])
        x("h2", ["ip", "-6", "route", "add", "default", "via", "fc00:20::1"])
        x("r", ["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1", "net.ipv6.conf.all.seg6_enabled=1", "net.ipv6.conf.r-h1.seg6_enabled=1"])
        // End by the kernel's own SRH processing (the SID is a local address of r): works with
        // or without seg6local (CONFIG_IPV6_SEG6_LWTUNNEL).
        x("r", ["ip", "-6", "addr", "add", "fc00:0:1::1/128", "dev", "lo"])
        x("h2", ["sysctl", "-qw", "net.ipv6.conf.all.seg6_enabled=1", "net.ipv6.conf.h2-r.seg6_enabled=1"])
        x("h1", ["ping", "-6", "-c1", "-w5", "fc00:20::2"])
        let h1 = IPv6Address("fc00:10::1")!, h2 = IPv6Address("fc00:20::2")!, sid = IPv6Address("fc00:0:1::1")!
        let srh = try SegmentRoutingHeader(path: [sid, h2], nextHeader: 6)
        var port: UInt16 = 30000
        let modes = routeSupported ? ["none", "route", "bpf"] : ["none", "bpf"]
        for round in 1...runs {
            for mode in modes {
                port += 1
                let flow = FourTuple(local: h1, localPort: port, remote: h2, remotePort: 5300 + port % 100)
                let steering: SRHSteering? = try NetworkNamespace.run(in: "\(lab)-h1") {
                    switch mode {
                    case "route": return try PolicyRoutingSteering()
                    case "bpf": return try BPFSteering(interface: "h1-r")
                    default: return nil
                    }
                }
                try steering?.steer(flow, along: srh)
                let mbps = try transfer(lab: lab, flow: flow, seconds: seconds)
                steering?.removeAll()
                print(#"{"mode": "\#(mode)", "run": \#(round), "mbps": \#((mbps * 10).rounded() / 10)}"#)
            }
        }
    }

    /// Sends for `seconds` from h1 to h2; returns the receiver's Mbit/s.
    static func transfer(lab: String, flow: FourTuple, seconds: Double) throws -> Double {
        func sa(_ a: IPv6Address, _ p: UInt16) -> sockaddr_in6 {
            var s = sockaddr_in6()
            s.sin6_family = sa_family_t(AF_INET6)
            s.sin6_port = p.bigEndian
            withUnsafeMutableBytes(of: &s.sin6_addr) { $0.copyBytes(from: a.bytes) }
            return s
        }
        let listener = try NetworkNamespace.run(in: "\(lab)-h2") { () -> Int32 in
            let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, 4)
            var a = sa(.unspecified, flow.remotePort)
            _ = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
            listen(fd, 1)
            return fd
        }
        defer { close(listener) }
        let client = try NetworkNamespace.run(in: "\(lab)-h1") { () -> Int32 in
            let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
            var a = sa(flow.localAddress, flow.localPort)
            _ = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
            return fd
        }
        defer { close(client) }
        final class Counter: @unchecked Sendable { var bytes = 0; var secs = 0.0 }
        let c = Counter()
        var tid = pthread_t()
        let box = Unmanaged.passRetained(Box { 
            let conn = accept(listener, nil, nil)
            var buf = [UInt8](repeating: 0, count: 1 << 18)
            let t0 = now()
            while true { let n = recv(conn, &buf, buf.count, 0); if n <= 0 { break }; c.bytes += n }
            c.secs = (now() - t0) / 1000
            close(conn)
        }).toOpaque()
        pthread_create(&tid, nil, { p in (Unmanaged<Box>.fromOpaque(p!).takeRetainedValue()).f(); return nil }, box)
        var dst = sa(flow.remoteAddress, flow.remotePort)
        guard withUnsafePointer(to: &dst, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }) == 0 else {
            throw SteeringError("connect", errno: errno)
        }
        let block = [UInt8](repeating: 1, count: 1 << 16)
        let t0 = now()
        while now() - t0 < seconds * 1000 { _ = block.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }
        shutdown(client, Int32(SHUT_WR))
        pthread_join(tid, nil)
        return Double(c.bytes) * 8 / c.secs / 1e6
    }
}

final class Box { let f: () -> Void; init(_ f: @escaping () -> Void) { self.f = f } }
