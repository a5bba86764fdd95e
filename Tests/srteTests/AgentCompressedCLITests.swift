import Foundation
import Glibc
import Testing
import LinuxSystem
import NetworkLab
import SRv6Paths
import TestSupport


/// `srte agent` with a topology that declares C-SIDs: an unmodified program's MPTCP connection
/// gets its planned paths as RFC 9800 containers, in reduced SRHs by default, from the SYN on —
/// the initial subflow and the join — and the bytes on the wire show it: a capture on h1's link
/// (every SRH packet's Destination Address, Segments Left, Last Entry and Segment List), the
/// routers' per-SID counters (the NEXT-C-SID End and End.X C-SIDs count, the whole SIDs do not)
/// and the link counters (each path carries its share; the IGP's link a–b nothing).
@Suite(.serialized, .enabled(if: isRoot && access("/usr/bin/dumpcap", X_OK) == 0 && access("/usr/bin/tshark", X_OK) == 0,
                             "needs root (network namespaces, BPF), dumpcap and tshark"),
       .timeLimit(.minutes(4)))
struct AgentCompressedCLITests {
    struct Captured { var da: IPv6Address?; var segmentsLeft: Int?; var lastEntry: Int?; var list: [IPv6Address?]; var syn: Bool }

    /// tshark's fields per packet: Destination Address, Segments Left, Last Entry, Segment
    /// List, SYN and ACK flags.
    static func parse(_ text: String) -> [Captured] {
        var out: [Captured] = []
        for line in text.split(separator: "\n") {
            let f: [String] = line.split(separator: "|", omittingEmptySubsequences: false).map { String($0) }
            guard f.count == 6 else { continue }
            let list: [IPv6Address?] = f[3].split(separator: ",").map { IPv6Address(String($0)) }
            let syn = f[4] == "1" || f[4] == "True", ack = f[5] == "1" || f[5] == "True"
            out.append(Captured(da: IPv6Address(f[0]), segmentsLeft: Int(f[1]), lastEntry: Int(f[2]), list: list, syn: syn && !ack))
        }
        return out
    }

    @Test func theAgentSendsCompressedListsFromTheSYNOn() throws {
        let topology = try Topology(yaml: trapCSIDYAML)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("srte-trap-\(getpid()).yaml").path
        try trapCSIDYAML.write(toFile: file, atomically: true, encoding: .utf8)
        defer { unlink(file) }
        let bed = try Testbed.up(topology, lab: "ac\(getpid() % 100000)")
        defer { _ = try? bed.down() }
        let h2 = IPv6Address("fc00:2::2")!
        // End C-SID then End.X C-SID (local range, file order of the router's links: a's third
        // link is a–t, s's third is s–b).
        let containers: Set<IPv6Address> = [IPv6Address("fc00:0:a:e003::")!, IPv6Address("fc00:0:1:e003::")!]
        var srhBytesSeen: [String: Set<Int>] = [:]

        for mode in ["reduced", "full", "off"] {
            let capture = FileManager.default.temporaryDirectory.appendingPathComponent("srte-agent-csid-\(getpid())-\(mode).pcapng").path
            defer { unlink(capture) }
            let (agent, log) = try startCollectingStderr(
                ["agent", "--netns", bed.namespace(of: "h1")!, "--topology", file, "--node", "h1", "-k", "2",
                 "--to", "fc00:2::/64", "--port", "5201", "--for", "30"] + (mode == "reduced" ? [] : ["--compress", mode]))
            defer { if agent.isRunning { agent.terminate() }; agent.waitUntilExit() }
            #expect(log.wait(for: "started", seconds: 10), "\(log.text)")
            // At start the agent says how it packs each planned destination's lists.
            let bytes = mode == "reduced" ? "24,24" : "40,40"
            #expect(log.wait(for: "srh=\(bytes)", seconds: 5) && log.text.contains("compress=\(mode)"), "\(log.text)")
            let serve = try startServe(inNamespace: bed.namespace(of: "h2")!)
            defer { if serve.isRunning { serve.terminate() } }
            let dump = try startDumpcap(bed, on: "h1", filter: "ip6 proto 43", snap: 128, stop: ["-c", "4000", "-a", "duration:25"], to: capture)
            defer { if dump.isRunning { kill(dump.processIdentifier, SIGKILL) }; dump.waitUntilExit() }
            Thread.sleep(forTimeInterval: 1.0)

            let linksBefore = try bed.linkCounters(), sidsBefore = try bed.sidCounters()
            let r = try bed.exec("h1", ["python3", "-c", pythonMPTCPClient(to: "\(h2)", port: 5201, bytes: 12_000_000)])
            #expect(r.status == 0, "\(mode): \(r.stderr)")
            serve.waitUntilExit()
            #expect(serve.terminationStatus == 0, "\(mode): srte serve got every byte")
            let linksAfter = try bed.linkCounters(), sidsAfter = try bed.sidCounters()
            dump.waitUntilExit()      // (it stops by itself: 4,000 packets, or 25 s)

            // Both planned paths carried a share; the IGP's own link a–b (and t's way back to b) nothing.
            for (x, y) in [("s", "a"), ("a", "t"), ("s", "b"), ("b", "t")] {
                #expect(bytesSent(from: x, to: y, linksBefore, linksAfter) > 2_000_000, "\(mode): \(x) → \(y) carried \(bytesSent(from: x, to: y, linksBefore, linksAfter))")
            }
            #expect(bytesSent(from: "a", to: "b", linksBefore, linksAfter) < 200_000, "\(mode): a → b is the IGP's path, not a planned one")

            // Which SIDs processed the packets: C-SIDs when compressed, whole SIDs when off.
            var counted: [String: UInt64] = [:]
            for (x, y) in zip(sidsBefore, sidsAfter) where y.packets > x.packets { counted["\(y.node) \(y.sid)"] = y.packets - x.packets }
            let csidKeys = ["a fc00:0:a::", "a fc00:0:e003::", "s fc00:0:1::", "s fc00:0:e003::"]
            if mode == "off" {
                #expect(csidKeys.allSatisfy { counted[$0] == nil }, "off: no C-SID counted: \(counted)")
                #expect(counted.count == 2 && counted.values.allSatisfy { $0 > 1000 }, "off: two whole End.X SIDs: \(counted)")
            } else {
                for k in csidKeys { #expect((counted[k] ?? 0) > 1000, "\(mode): \(k) processed \(counted[k] ?? 0) packets: \(counted)") }
                #expect(counted.count == 4, "\(mode): only the four C-SIDs: \(counted)")
            }

            // The capture: the first 4,000 packets with an SRH, SYNs included.
            let out = try Subprocess.run(["tshark", "-r", capture, "-T", "fields", "-E", "separator=|", "-e", "ipv6.dst",
                                          "-e", "ipv6.routing.segleft", "-e", "ipv6.routing.srh.last_entry",
                                          "-e", "ipv6.routing.srh.addr", "-e", "tcp.flags.syn", "-e", "tcp.flags.ack"])
            let rows: [Captured] = Self.parse(out.stdout)
            #expect(rows.count > 1000, "\(mode): captured \(rows.count) packets with an SRH")
            let das: Set<IPv6Address> = Set(rows.compactMap { $0.da })
            // Two SYNs with an SRH: the initial subflow's and the join's, one per path.
            let syns: [Captured] = rows.filter { $0.syn }
            let synDAs: Set<IPv6Address> = Set(syns.compactMap { $0.da })
            #expect(synDAs == das && das.count == 2, "\(mode): SYNs to \(synDAs); all packets to \(das)")
            let sizes: [Int] = rows.compactMap { (c: Captured) -> Int? in c.lastEntry.map { 8 + 16 * ($0 + 1) } }
            srhBytesSeen[mode] = Set(sizes)
            if ProcessInfo.processInfo.environment["SRTE_MEASURE"] != nil {
                func perPacket(_ x: String, _ y: String) -> String {
                    let i = linksAfter.firstIndex { $0.a == x && $0.b == y }!
                    let bytes = (linksAfter[i].endA?.txBytes ?? 0) - (linksBefore[i].endA?.txBytes ?? 0)
                    let packets = linksAfter[i].packetsAToB - linksBefore[i].packetsAToB
                    return "\(x)→\(y) \(bytes) B in \(packets) frames = \(String(format: "%.1f", Double(bytes) / Double(max(packets, 1)))) B/frame"
                }
                print("measure \(mode): SRH \(Set(sizes)) B; \(perPacket("s", "a")); \(perPacket("s", "b")); \(perPacket("a", "t")); \(perPacket("b", "t"))")
            }
            switch mode {
            case "reduced":
                #expect(das == containers, "\(das)")
                let bad = rows.filter { (c: Captured) -> Bool in !(c.segmentsLeft == 1 && c.lastEntry == 0 && c.list == [h2]) }
                #expect(bad.isEmpty, "reduced: SL 1 = LE + 1, [h2]; not so: \(bad.count), e.g. \(String(describing: bad.first))")
                #expect(log.text.contains("(reduced SRH)"), "\(log.text)")
            case "full":
                #expect(das == containers, "\(das)")
                let bad = rows.filter { (c: Captured) -> Bool in
                    !(c.segmentsLeft == 1 && c.lastEntry == 1 && c.list.count == 2 && c.list[0] == h2 && c.list[1] == c.da)
                }
                #expect(bad.isEmpty, "full: [h2, container]; not so: \(bad.count), e.g. \(String(describing: bad.first))")
            default:
                #expect(das.isDisjoint(with: containers), "\(das)")
                let prefixes: [String] = ["fc00:0:a:", "fc00:0:1:"]
                #expect(das.allSatisfy { (a: IPv6Address) -> Bool in prefixes.contains { a.description.hasPrefix($0) } }, "\(das)")
                let bad = rows.filter { (c: Captured) -> Bool in !(c.segmentsLeft == 1 && c.lastEntry == 1) }
                #expect(bad.isEmpty, "off: whole SIDs, e.g. \(String(describing: bad.first))")
            }
        }
        // SRH bytes per packet (no TLVs: 8 + 16 per Segment List entry).
        // A reflecting agent refuses compression, naming why (before it installs anything).
        let refused = try runSrte(["agent", "--reflect", "--topology", file, "--node", "h1", "--compress", "reduced", "--for", "1"])
        #expect(refused.status != 0 && refused.err.contains("compress reduced with --reflect"), "\(refused.err)")
        #expect(srhBytesSeen == ["reduced": [24], "full": [40], "off": [40]], "\(srhBytesSeen)")
    }
}

/// `keep` with compression: the replacement of a failed subflow is re-planned for the fewest
/// bytes and sent like the rule's paths, a container in a reduced SRH.
@Suite(.serialized, .enabled(if: isRoot, "needs root (network namespaces, BPF)"), .timeLimit(.minutes(3)))
struct AgentCompressedKeepTests {
    @Test func theReplacementIsCompressedToo() throws {
        // The lab's routers get F3216 C-SIDs (srte testbed up --csid); the policy asks for them too.
        let bed = try Testbed.up(try bundledTopology("diamond.yaml").compressible(), lab: "ak\(getpid() % 100000)")
        defer { _ = try? bed.down() }
        let h1 = bed.namespace(of: "h1")!
        let policy = FileManager.default.temporaryDirectory.appendingPathComponent("srte-agent-keep-csid-\(getpid()).yaml").path
        try """
            rules:
              - match: { to: "fc00:2::/64", port: 5201 }
                plan: { topology: \(packageRoot)/topologies/diamond.yaml, from: h1, k: 2, disjoint: node, compress: reduced }
                keep: true
            """.write(toFile: policy, atomically: true, encoding: .utf8)
        defer { unlink(policy) }
        let (agent, log) = try startCollectingStderr(["agent", "--netns", h1, "--policy", policy, "--for", "40"])
        defer { if agent.isRunning { agent.terminate() }; agent.waitUntilExit() }
        #expect(log.wait(for: "started", seconds: 10), "\(log.text)")
        let serve = try startServe(inNamespace: bed.namespace(of: "h2")!)
        defer { if serve.isRunning { serve.terminate() } }
        Thread.sleep(forTimeInterval: 0.5)
        let client = try startPython(inNamespace: h1, pausingMPTCPClient(to: "fc00:2::2", port: 5201, first: 3_000_000, pause: 0, then: 12_000_000))
        defer { if client.isRunning { client.terminate() } }
        #expect(log.wait(for: "fc00:0:b:: (reduced SRH)", seconds: 10), "the join via b: \(log.text)")
        Thread.sleep(forTimeInterval: 0.3)
        let sidsBefore = try bed.sidCounters(), linksBefore = try bed.linkCounters()
        _ = try bed.setLinks(between: "r1", and: "b", up: false)
        #expect(log.wait(for: "replaced", seconds: 10), "\(log.text)")
        client.waitUntilExit()
        serve.waitUntilExit()
        #expect(client.terminationStatus == 0)
        let sidsAfter = try bed.sidCounters(), linksAfter = try bed.linkCounters()
        // Re-planned around r1–b: via c, c's End C-SID as Destination Address, reduced.
        #expect(log.text.contains("replaced token=") && log.text.contains("path=fc00:0:c:: (reduced SRH) failed=fc00:0:b:: (reduced SRH)"), "\(log.text)")
        var counted: [String: UInt64] = [:]
        for (x, y) in zip(sidsBefore, sidsAfter) where y.packets > x.packets { counted["\(y.node) \(y.sid)"] = y.packets - x.packets }
        #expect((counted["c fc00:0:c::"] ?? 0) > 500, "c's End C-SID processed the replacement's packets: \(counted)")
        #expect(counted["c fc00:0:c::1"] == nil, "c's whole SID did not: \(counted)")
        #expect(bytesSent(from: "r1", to: "c", linksBefore, linksAfter) > 1_000_000)
    }
}

/// The agent's compression options on the command line.
@Suite struct AgentCompressOptionTests {
    @Test func compressNeedsPlannedPaths() throws {
        let r = try runSrte(["agent", "--to", "fc00:2::/64", "--path", "direct", "--compress", "reduced"])
        #expect(r.status == 2 && r.err.contains("--compress packs planned lists"), "\(r.err)")
        let p = try runSrte(["agent", "--policy", "/nonexistent.yaml", "--compress", "off"])
        #expect(p.status == 2 && p.err.contains("not both"), "\(p.err)")
        let h = try runSrte(["agent", "run", "--help"])
        #expect(h.out.contains("--compress") && h.out.contains("reduced SRH"), "\(h.out)")
    }

    @Test func checkShowsTheCompression() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("srte-agent-compress-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try trapCSIDYAML.write(toFile: dir.appendingPathComponent("trap.yaml").path, atomically: true, encoding: .utf8)
        let policy = dir.appendingPathComponent("policy.yaml").path
        try """
            rules:
              - match: { to: "fc00:2::/64" }
                plan: { topology: trap.yaml, from: h1, k: 2, compress: full }
            """.write(toFile: policy, atomically: true, encoding: .utf8)
        let c = try runSrte(["agent", "check", policy])
        #expect(c.status == 0 && c.out.contains("compress full"), "\(c.out)\(c.err)")
        let j = try runSrte(["agent", "check", policy, "--format", "json"])
        #expect(j.out.contains("\"compress\": \"full\""), "\(j.out)")
    }
}
