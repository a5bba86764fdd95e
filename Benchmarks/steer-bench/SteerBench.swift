// Steering install/remove cost: steer N flows then unsteer them, for each
// mechanism, in a network namespace this program creates and deletes.
//   swift build -c release --product steer-bench && .build/release/steer-bench [N...]
// Prints JSON lines: mechanism, flows, install_ms, remove_ms, per_flow_us.
import SRv6Paths
import SubflowSteering
#if canImport(Glibc)
import Glibc
#endif

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
        let counts = CommandLine.arguments.dropFirst().compactMap { Int($0) }
        let sizes = counts.isEmpty ? [1, 100, 1000] : counts
        guard geteuid() == 0 else { print("steer-bench needs root (it creates a network namespace)"); exit(2) }
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
        for mechanism in ["bpf", "route"] {
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
}
