import Foundation
import SRv6Paths

/// Two paths between h1 and h2: r1 → a → r2 (the IGP path) and r1 → b → r2.
/// a and b are SRv6 routers with End SIDs fc00:0:a::1 and fc00:0:b::1.
/// Steering a flow along [fc00:0:b::1, h2] must move its bytes from a to b,
/// which the per-link counters show.
package final class TwoPathLab {
    package let lab: TestLab
    package let h1 = try! IPv6Address(parsing: "fc00:10::1")
    package let h2 = try! IPv6Address(parsing: "fc00:20::2")
    package let sidA = try! IPv6Address(parsing: "fc00:0:a::1")
    package let sidB = try! IPv6Address(parsing: "fc00:0:b::1")

    package init(_ tag: String) throws {
        lab = try TestLab(tag, nodes: ["h1", "r1", "a", "b", "r2", "h2"])
        do { try build() } catch { lab.destroy(); throw error }
    }

    private func build() throws {
        let links: [(String, String, String, String, String)] = [
            // a, b, subnet, a's host part, b's host part
            ("h1", "r1", "fc00:10::", "1", "2"), ("r1", "a", "fc00:11::", "1", "2"), ("r1", "b", "fc00:12::", "1", "2"),
            ("a", "r2", "fc00:13::", "1", "2"), ("b", "r2", "fc00:14::", "1", "2"), ("r2", "h2", "fc00:20::", "1", "2"),
        ]
        for (x, y, net, hx, hy) in links {
            let (ix, iy) = try lab.link(x, y)
            try lab.exec(x, ["ip", "-6", "addr", "add", "\(net)\(hx)/64", "dev", ix, "nodad"])
            try lab.exec(y, ["ip", "-6", "addr", "add", "\(net)\(hy)/64", "dev", iy, "nodad"])
        }
        for n in ["r1", "a", "b", "r2", "h2", "h1"] {
            try lab.sysctl(n, "net.ipv6.conf.all.forwarding", n.hasPrefix("h") ? "0" : "1")
            try lab.sysctl(n, "net.ipv6.conf.all.seg6_enabled", "1")
            try lab.sysctl(n, "net.ipv6.conf.default.seg6_enabled", "1")
        }
        for (n, dev) in [("h2", "h2-r2"), ("a", "a-r1"), ("b", "b-r1"), ("r2", "r2-a"), ("r2", "r2-b"), ("r1", "r1-h1")] {
            try lab.sysctl(n, "net.ipv6.conf.\(dev).seg6_enabled", "1")
        }
        let routes: [(String, [String])] = [
            ("h1", ["default", "via", "fc00:10::2"]),
            ("h2", ["default", "via", "fc00:20::1"]),
            ("r1", ["fc00:20::/64", "via", "fc00:11::2"]),          // IGP path: via a
            ("r1", ["fc00:0:a::/48", "via", "fc00:11::2"]),
            ("r1", ["fc00:0:b::/48", "via", "fc00:12::2"]),
            ("a", ["fc00:20::/64", "via", "fc00:13::2"]), ("a", ["fc00:10::/64", "via", "fc00:11::1"]),
            ("b", ["fc00:20::/64", "via", "fc00:14::2"]), ("b", ["fc00:10::/64", "via", "fc00:12::1"]),
            ("r2", ["fc00:10::/64", "via", "fc00:13::1"]),          // replies: via a
        ]
        for (n, r) in routes { try lab.exec(n, ["ip", "-6", "route", "add"] + r) }
        // End without seg6local (which needs CONFIG_IPV6_SEG6_LWTUNNEL): the SID is a local
        // address, and the kernel's own SRH processing (ipv6_srh_rcv, seg6_enabled on the
        // arriving interface) moves to the next segment and forwards.
        try lab.exec("a", ["ip", "-6", "addr", "add", "fc00:0:a::1/128", "dev", "lo"])
        try lab.exec("b", ["ip", "-6", "addr", "add", "fc00:0:b::1/128", "dev", "lo"])
        try lab.disableMPTCPBlackhole("h1", "h2")
        try lab.exec("h1", ["ping", "-6", "-c", "1", "-w", "5", "fc00:20::2"])
    }

    /// Bytes received on `node`'s interface `dev`.
    package func rxBytes(_ node: String, _ dev: String) throws -> Int {
        Int(try lab.exec(node, ["cat", "/sys/class/net/\(dev)/statistics/rx_bytes"]).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    /// (bytes r1 sent toward a, bytes r1 sent toward b) while `body` runs.
    package func forwardBytes(_ body: () throws -> Void) throws -> (viaA: Int, viaB: Int) {
        let a0 = try rxBytes("a", "a-r1"), b0 = try rxBytes("b", "b-r1")
        try body()
        return (try rxBytes("a", "a-r1") - a0, try rxBytes("b", "b-r1") - b0)
    }
}
