import Foundation
import Testing
import LinuxSystem
import TestSupport

/// `srte plan --format iproute2` on a topology with C-SIDs (RFC 9800): the ingress routes carry
/// the compressed lists, and the routers of the planned paths get the `seg6local` routes that
/// NEXT-C-SID needs (`action End flavors next-csid lblen L nflen N`, End.X with `nh6` and flavors).
@Suite struct IPRoute2ExportTests {
    /// The diamond with F3216 C-SIDs in fc00:0::/32; b keeps the kernel's End only (`csid: none`).
    func csidDiamond() throws -> String {
        let text = try String(contentsOfFile: packageRoot + "/topologies/diamond.yaml", encoding: .utf8)
            .replacingOccurrences(of: "defaults:", with: "csid: { block: \"fc00:0::/32\", length: 16 }\ndefaults:")
            .replacingOccurrences(of: "b:  { locator: \"fc00:0:b::/48\" }", with: "b:  { locator: \"fc00:0:b::/48\", csid: none }")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("srte-export-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).yaml").path
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    func export(_ file: String, fewestBytes: Bool = true) throws -> [String] {
        let r = try runSrte(["plan", file, "--from", "h1", "--to", "h2", "-k", "3", "--disjoint", "node", "--format", "iproute2"]
                            + (fewestBytes ? ["--fewest-bytes"] : []))
        #expect(r.status == 0, "\(r.err)")
        return r.out.split(separator: "\n").map(String.init)
    }

    @Test func routersGetNextCSIDRoutes() throws {
        let file = try csidDiamond()
        defer { try? FileManager.default.removeItem(atPath: file) }
        let lines = try export(file)
        let text = lines.joined(separator: "\n")
        // Ingress: compressed lists (c's End C-SID as a container; b's SID whole).
        #expect(lines.contains("ip -6 route add fc00:2::2/128 table 102 encap seg6 mode encap segs fc00:0:b::1,fc00:2::2 dev IFACE_r1"), "\(text)")
        #expect(lines.contains("ip -6 route add fc00:2::2/128 table 103 encap seg6 mode encap segs fc00:0:c::,fc00:2::2 dev IFACE_r1"), "\(text)")
        #expect(text.contains("mode encap.red"))
        // r1: its End C-SID on block + C-SID (/48), one End.X C-SID per link from its local range
        // (file order: h1 e001, a e002, b e003, c e004), besides its whole SIDs.
        let flavor = "flavors next-csid lblen 32 nflen 16"
        for line in ["ip -6 route add fc00:0:1::1/128 encap seg6local action End dev lo",
                     "ip -6 route add fc00:0:1::/48 encap seg6local action End \(flavor) dev lo",
                     "ip -6 route add fc00:0:e001::/48 encap seg6local action End.X nh6 NH6_h1 \(flavor) dev IFACE_h1",
                     "ip -6 route add fc00:0:e002::/48 encap seg6local action End.X nh6 NH6_a \(flavor) dev IFACE_a",
                     "ip -6 route add fc00:0:e003::/48 encap seg6local action End.X nh6 NH6_b \(flavor) dev IFACE_b",
                     "ip -6 route add fc00:0:e004::/48 encap seg6local action End.X nh6 NH6_c \(flavor) dev IFACE_c",
                     "ip -6 route add fc00:0:c::/48 encap seg6local action End \(flavor) dev lo",
                     "ip -6 route add fc00:0:e001::/48 encap seg6local action End.X nh6 NH6_r1 \(flavor) dev IFACE_r1",
                     "ip -6 route add fc00:0:2::/48 encap seg6local action End \(flavor) dev lo"] {
            #expect(lines.contains(line), "missing: \(line)\n\(text)")
        }
        // Every router of a path has a section; b only its whole SIDs (no flavors).
        for r in ["r1", "a", "b", "c", "r2"] { #expect(lines.contains("# router \(r)"), "\(r)") }
        let b = lines.drop { $0 != "# router b" }.dropFirst().prefix { !$0.hasPrefix("# router") }
        #expect(b.contains("ip -6 route add fc00:0:b::1/128 encap seg6local action End dev lo"), "\(b)")
        #expect(!b.contains { $0.contains("next-csid") }, "\(b)")
        #expect(b.contains { $0.contains("csid: none") })
        // Hosts get none.
        #expect(!lines.contains("# router h1") && !lines.contains("# router h2"))

        // Without --fewest-bytes the lists are the fewest SIDs, whole; the routers' routes stay.
        let plain = try export(file, fewestBytes: false)
        #expect(plain.contains("ip -6 route add fc00:2::2/128 table 103 encap seg6 mode encap segs fc00:0:c::1,fc00:2::2 dev IFACE_r1"), "\(plain)")
        #expect(plain.contains("ip -6 route add fc00:0:c::/48 encap seg6local action End \(flavor) dev lo"))

        // A topology without C-SIDs: only the ingress, as before.
        let none = try runSrte(["plan", packageRoot + "/topologies/diamond.yaml", "--from", "h1", "--to", "h2", "-k", "3", "--format", "iproute2"])
        #expect(none.status == 0 && !none.out.contains("seg6local"), "\(none.out)")
    }

    /// iproute2 itself parses every emitted line once the placeholders are filled in: in a
    /// scratch namespace each `ip -6 route add` either succeeds (a kernel with seg6local) or is
    /// refused by the kernel ("lwt encapsulation type not supported"), never by ip's parser.
    @Test(.enabled(if: isRoot, "needs root: creates a network namespace"))
    func iproute2ParsesEveryLine() throws {
        let file = try csidDiamond()
        defer { try? FileManager.default.removeItem(atPath: file) }
        var lines = try export(file).filter { $0.hasPrefix("ip -6 route add ") }
        // The reduced alternative the export names in a comment, too.
        lines += lines.filter { $0.contains("mode encap segs") }.map { $0.replacingOccurrences(of: "mode encap segs", with: "mode encap.red segs") }
        #expect(lines.filter { $0.contains("seg6local") }.count >= 20, "\(lines)")
        let lab = try TestLab("exp", nodes: ["r", "n"])
        defer { lab.destroy() }
        let (dev, _) = try lab.link("r", "n")
        try lab.exec("r", ["ip", "-6", "addr", "add", "fc00:99::1/64", "dev", dev, "nodad"])
        for line in lines {
            var args = line.split(separator: " ").map(String.init)
            args = args.map { a in
                if a.hasPrefix("IFACE_") { return dev }
                if a.hasPrefix("NH6_") { return "fc00:99::2" }
                return a
            }
            args.insert(contentsOf: ["-n", lab.ns("r")], at: 1)
            let r = try Subprocess.run(args)
            let kernelRefused = r.status == 2 && r.stderr.contains("lwt encapsulation type not supported")
            #expect(r.status == 0 || kernelRefused, "\(args.joined(separator: " ")): status \(r.status): \(r.stderr)")
        }
        // The check can fail: a misspelt flavor is ip's own error.
        let bad = try Subprocess.run(["ip", "-n", lab.ns("r"), "-6", "route", "add", "fc00:0:1::/48", "encap", "seg6local", "action", "End",
                                      "flavors", "nextcsid", "dev", "lo"])
        #expect(bad.status != 0 && !bad.stderr.contains("lwt encapsulation type not supported"), "\(bad.stderr)")
    }
}
