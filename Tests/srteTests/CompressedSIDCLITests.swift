import Foundation
import Testing
import SRv6Paths
import TestSupport

/// `srte srh build/decode/validate` with C-SIDs (RFC 9800 NEXT-C-SID) and reduced SRHs.
@Suite struct CompressedSIDCLITests {
    let csid = ["--csid-block", "fc00:0::/32", "--csid-length", "16"]

    @Test func buildPacksContainersAndLeavesTheHostWhole() throws {
        let b = try runSrte(["srh", "build"] + csid + ["--segment", "fc00:0:1::", "--segment", "fc00:0:2::",
                                                       "--segment", "fc00:0:b::1", "--segment", "fc00:2::2"])
        #expect(b.status == 0, "\(b.err)")
        let hex = b.out.trimmingCharacters(in: .whitespacesAndNewlines)
        let srh = try SegmentRoutingHeader(decoding: try Hex.decode(hex))
        #expect(srh.segments.map(\.description) == ["fc00:0:1:2::", "fc00:0:b::1", "fc00:2::2"])
        // --uncompressed keeps a node's SID whole, which splits the container.
        let u = try runSrte(["srh", "build"] + csid + ["--segment", "fc00:0:1::", "--segment", "fc00:0:2::",
                                                       "--segment", "fc00:2::2", "--uncompressed", "fc00:0:2::", "--format", "json"])
        #expect(u.status == 0, "\(u.err)")
        #expect(u.out.contains("\"segments\": [\"fc00:0:1::\", \"fc00:0:2::\", \"fc00:2::2\"]"), "\(u.out)")
        // Classic SIDs (locator + 1) do not compress, and srte says why.
        let c = try runSrte(["srh", "build"] + csid + ["--segment", "fc00:0:1::1", "--segment", "fc00:2::2"])
        #expect(c.status == 0)
        #expect(c.err.contains("no segment was compressed"), "\(c.err)")
    }

    @Test func reducedBuildDecodesBack() throws {
        let b = try runSrte(["srh", "build", "--reduced"] + csid + ["--segment", "fc00:0:1::", "--segment", "fc00:0:2::",
                                                                   "--segment", "fc00:2::2"])
        #expect(b.status == 0, "\(b.err)")
        let hex = b.out.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(hex == "3b02040100000000" + "fc000002000000000000000000000002")     // SL 1 = LE 0 + 1
        #expect(b.err.contains("Destination Address fc00:0:1:2::"), "\(b.err)")
        let d = try runSrte(["srh", "decode", hex, "--destination", "fc00:0:1:2::"] + csid)
        #expect(d.status == 0, "\(d.err)")
        #expect(d.out.contains("reduced         yes"), "\(d.out)")
        #expect(d.out.contains("D. fc00:0:1:2::"), "\(d.out)")
        #expect(d.out.contains("container of 2 C-SIDs: 1 2 → fc00:0:1::, fc00:0:2::"), "\(d.out)")
        let j = try runSrte(["srh", "decode", hex, "--destination", "fc00:0:1:2::", "--format", "json"] + csid)
        #expect(j.status == 0)
        #expect(j.out.contains("\"reduced\": true, \"destination\": \"fc00:0:1:2::\""), "\(j.out)")
        #expect(j.out.contains("\"containers\": [{\"segment\": \"fc00:0:1:2::\", \"onWire\": false, \"csids\": [\"1\", \"2\"], \"sids\": [\"fc00:0:1::\", \"fc00:0:2::\"]}]"), "\(j.out)")
        // Without the destination the decoder says where the first segment is.
        let n = try runSrte(["srh", "decode", hex])
        #expect(n.out.contains("not in the header: give --destination"), "\(n.out)")
        // setsockopt's rules reject a reduced header; the reduced ones accept it.
        #expect(try runSrte(["srh", "validate", hex]).status == 1)
        let v = try runSrte(["srh", "validate", "--reduced", hex])
        #expect(v.status == 0 && v.out.hasPrefix("valid"), "\(v.out)")
    }

    @Test func reducedValidationNamesTheByte() throws {
        // Segments left 2 with last entry 0: beyond last entry + 1 even for a reduced header.
        let v = try runSrte(["srh", "validate", "--reduced", "3b02040200000000fc000002000000000000000000000002"])
        #expect(v.status == 1)
        #expect(v.out.contains("segmentsLeftBeyondReducedList, byte offset 3"), "\(v.out)")
    }

    @Test(arguments: [
        (["srh", "build", "--csid-length", "16", "--segment", "fc00::1"], "--csid-length needs --csid-block"),
        (["srh", "build", "--csid-block", "fc00::/32", "--csid-length", "12", "--segment", "fc00::1"], "multiple of 8"),
        (["srh", "build", "--csid-block", "fc00::/130", "--segment", "fc00::1"], "--csid-block"),
        (["srh", "build", "--csid-block", "fc00::/120", "--csid-length", "16", "--segment", "fc00::1"], "does not fit"),
        (["srh", "build", "--reduced", "--segment", "fc00::1"], "at least two segments"),
        (["srh", "build", "--reduced", "--segments-left", "0", "--segment", "fc00::1", "--segment", "fc00::2"], "--segments-left cannot be given with --reduced"),
        (["srh", "build", "--uncompressed", "fc00::1", "--segment", "fc00::1"], "--uncompressed only matters with --csid-block"),
        (["srh", "build", "--csid-block", "fc00::/32", "--segments-left", "2", "--segment", "fc00:0:1::", "--segment", "fc00:0:2::", "--segment", "fc00:2::2"], "beyond the compressed list"),
        (["srh", "validate", "--reduced", "--kernel", "3b00040000000000"], "cannot be combined with --reduced"),
    ])
    func badInputIsNamed(args: [String], expected: String) throws {
        let r = try runSrte(args)
        #expect(r.status == 2, "\(args): exit \(r.status), \(r.err)")
        #expect(r.err.contains(expected), "\(args): \(r.err)")
    }

    /// `srte plan --fewest-bytes` on the diamond with C-SIDs, b without (only the kernel's End).
    @Test func planFewestBytes() throws {
        let text = try String(contentsOfFile: packageRoot + "/topologies/diamond.yaml", encoding: .utf8)
            .replacingOccurrences(of: "defaults:", with: "csid: { block: \"fc00:0::/32\", length: 16 }\ndefaults:")
            .replacingOccurrences(of: "b:  { locator: \"fc00:0:b::/48\" }", with: "b:  { locator: \"fc00:0:b::/48\", csid: none }")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("srte-csid-\(getpid()).yaml").path
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let r = try runSrte(["plan", file, "--from", "h1", "--to", "h2", "-k", "3", "--disjoint", "node", "--fewest-bytes"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("fc00:0:b::1, fc00:2::2"), "\(r.out)")                  // b stays whole
        #expect(r.out.contains("40 B (reduced 24)  fc00:0:c:: [c], fc00:2::2"), "\(r.out)")
        let j = try runSrte(["plan", file, "--from", "h1", "--to", "h2", "-k", "3", "--disjoint", "node", "--fewest-bytes", "--format", "json"])
        #expect(j.status == 0)
        #expect(j.out.contains("\"reducedSRHBytes\": 24"), "\(j.out)")
        // Without C-SIDs in the file the option says what is missing.
        let n = try runSrte(["plan", packageRoot + "/topologies/diamond.yaml", "--from", "h1", "--to", "h2", "--fewest-bytes"])
        #expect(n.status == 2)
        #expect(n.err.contains("--fewest-bytes needs C-SIDs"), "\(n.err)")
    }

    @Test func helpTeaches() throws {
        let h = try runSrte(["srh", "build", "--help"])
        #expect(h.out.contains("--csid-block"))
        #expect(h.out.contains("NEXT-C-SID"))
        #expect(h.out.contains("ipv6_srh_rcv"))
    }
}
