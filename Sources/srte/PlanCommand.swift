import Glibc
import ArgumentParser
import Foundation
import SRv6Paths
import LinuxSystem

extension Disjointness: ExpressibleByArgument {}
extension PathMetric: ExpressibleByArgument {}

/// `srte plan`: k disjoint min-cost paths and their segment lists.
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Plan k disjoint minimum-cost paths between two nodes and encode each as an SRv6 segment list.",
        discussion: """
        Link and node modes are optimal (successive shortest paths with potentials; node mode on a \
        node-split graph). SRLG mode is a heuristic that never returns paths sharing an SRLG. A host \
        with a single link shares it and its gateway with every path, so disjointness then applies \
        beyond the gateway; --strict applies the literal definition. Each segment list has the fewest \
        SIDs that force its path over ECMP IGP shortest paths and is checked by simulating forwarding. \
        TOPOLOGY is a YAML topology file (or srte-topology/1 .json, Topology Zoo .gml). Exit \
        status: 0 paths found (possibly fewer than k, with a note on stderr), 1 no path or a path \
        that needs more SIDs than the MSD, 2 unusable input (errors name file:line:column). \
        Guide: Docs/Planner.md.

        --fewest-bytes chooses, for a topology with C-SIDs (csid: in the file, RFC 9800 \
        NEXT-C-SID), the segment list that takes the fewest SRH bytes once compressed into \
        containers, and shows the compressed list and the SRH size (full, and reduced when its \
        first entry is a container). The routers of a container must run End with NEXT-C-SID: \
        see Docs/CompressedSIDs.md. --compress reduced minimises the bytes of a reduced SRH \
        instead (RFC 8754 reduced SRH: a first entry that is a container travels only as the \
        Destination Address, 16 bytes less); --compress full is --fewest-bytes. With --format json \
        each path has "wire": the Destination Address it leaves with, the SRH in hex and the \
        bytes saved against whole SIDs.
        """
    )

    @Argument(help: "The topology file (YAML; .json for srte-topology/1; .gml for Topology Zoo).")
    var topologyFile: String?

    @Option(name: .customLong("topology"), help: "The topology file (alternative to the argument).")
    var topologyOption: String?

    @Option(name: .long, help: "Source node.")
    var from: String

    @Option(name: .long, help: "Destination node.")
    var to: String

    @Option(name: .customShort("k"), help: "Number of paths.")
    var k: Int = 2

    @Option(help: "Disjointness: link, node or srlg.")
    var disjoint: Disjointness = .link

    @Option(help: "Metric to minimise and that IGP forwarding follows: igp, te or delay.")
    var metric: PathMetric = .igp

    @Option(help: "Maximum SID depth (default: the source's msd, then the topology's).")
    var msd: Int?

    @Flag(help: "Choose segment lists for the fewest SRH bytes with the topology's C-SIDs (RFC 9800), not the fewest SIDs.")
    var fewestBytes = false

    @Option(help: ArgumentHelp("How the lists are sent, and so what they are chosen for: off (whole SIDs, the fewest SIDs), full (RFC 9800 containers in a full SRH, the fewest bytes; = --fewest-bytes) or reduced (the fewest bytes of a reduced SRH).", valueName: "MODE"))
    var compress: SRHCompression?

    @Flag(help: "Literal disjointness even for single-homed hosts (no host-gateway rule).")
    var strict = false

    @Option(help: "Output: text, json, dot or iproute2.")
    var format: PlanFormat = .text

    @Option(help: "Also render the DOT picture to this SVG file with Graphviz 'dot'.")
    var svg: String?

    enum PlanFormat: String, ExpressibleByArgument, CaseIterable {
        case text, json, dot, iproute2
    }

    func validate() throws {
        if topologyFile == nil && topologyOption == nil { throw ValidationError("give a topology file") }
        if topologyFile != nil && topologyOption != nil { throw ValidationError("give the topology file once") }
        if k < 1 { throw ValidationError("-k must be at least 1") }
        if let msd, msd < 1 { throw ValidationError("--msd must be at least 1") }
        if fewestBytes, let compress, compress != .full {
            throw ValidationError("--fewest-bytes is --compress full: it contradicts --compress \(compress)")
        }
    }

    /// `--compress`, or full for `--fewest-bytes`, or off.
    var compression: SRHCompression { compress ?? (fewestBytes ? .full : .off) }

    func run() throws {
        let topology = try loadTopology(topologyFile ?? topologyOption!)
        if compression != .off && topology.csid == nil && !topology.nodes.contains(where: { if case .own = $0.csid { return true }; return false }) {
            let option = fewestBytes ? "--fewest-bytes" : "--compress \(compression)"
            throw CLIFailure.input("\(option) needs C-SIDs: give the topology file a csid: { block: \"fc00:0::/32\", length: 16 } (Docs/Planner.md)")
        }
        let report = try PlanReport(topology: topology, from: from, to: to, k: k, disjoint: disjoint,
                                    metric: metric, msd: msd, strict: strict, encoding: compression.encoding)
        let out = StdoutBuffer()
        switch format {
        case .text: out.line(report.text())
        case .json: out.line(report.json())
        case .dot: out.line(report.dot())
        case .iproute2: out.line(report.iproute2())
        }
        out.flush()
        if format != .text { for n in report.notes { diagnose("srte: note: \(n)") } }
        if let svg { try renderSVG(report.dot(), to: svg) }
        if report.paths.isEmpty { throw CLIFailure.negative("no path from \(from) to \(to)") }
    }
}

/// Reads a topology file: YAML, srte-topology/1 JSON (`.json`) or Topology Zoo GML (`.gml`).
func loadTopology(_ path: String) throws -> Topology {
    let text = try readTextFile(path)
    if path.hasSuffix(".json") { return try Topology(srteTopologyJSON: text, file: path) }
    if path.hasSuffix(".gml") { return try Topology(gml: text, file: path, metric: .distance) }
    return try Topology(yaml: text, file: path)
}

/// A `--default-bandwidth` value in bit/s.
func parseRate(_ text: String, option: String = "--default-bandwidth") throws -> Int {
    do { return try Topology.parseBandwidth(text) } catch { throw InContext("\(option) \(text)", error) }
}

/// The topology with every link at `--mtu` bytes.
func settingMTU(_ bytes: Int, of topology: Topology) throws -> Topology {
    do { return try topology.settingMTU(bytes) } catch { throw InContext("--mtu \(bytes)", error) }
}

/// The whole file as UTF-8 text.
func readTextFile(_ path: String) throws -> String {
    guard let f = fopen(path, "rb") else {
        throw CLIFailure.input("\(path): \(Errno.current.message)")
    }
    defer { fclose(f) }
    var bytes: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = fread(&buf, 1, buf.count, f)
        if n <= 0 { break }
        bytes += buf[0..<n]
    }
    if ferror(f) != 0 { throw CLIFailure.input("\(path): read error") }
    return String(decoding: bytes, as: UTF8.self)
}

/// Writes text to a file (replacing it).
func writeTextFile(_ path: String, _ text: String) throws {
    guard let f = fopen(path, "wb") else {
        throw CLIFailure.system("\(path): \(Errno.current.message)")
    }
    defer { fclose(f) }
    let bytes = Array(text.utf8)
    if fwrite(bytes, 1, bytes.count, f) != bytes.count {
        throw CLIFailure.system("\(path): write error")
    }
}

/// Renders DOT to SVG with Graphviz `dot`, if installed.
func renderSVG(_ dot: String, to path: String) throws {
    let candidates = ["/usr/bin/dot", "/usr/local/bin/dot", "/opt/homebrew/bin/dot"]
    guard let exe = candidates.first(where: { access($0, X_OK) == 0 }) else {
        throw CLIFailure.system("--svg needs Graphviz 'dot' (apt-get install graphviz); the DOT text is available with --format dot")
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = ["-Tsvg", "-o", path]
    let input = Pipe()
    p.standardInput = input
    try p.run()
    input.fileHandleForWriting.write(Data(dot.utf8))
    try input.fileHandleForWriting.close()
    p.waitUntilExit()
    if p.terminationStatus != 0 {
        throw CLIFailure.system("dot failed (status \(p.terminationStatus)) writing \(path)")
    }
    diagnose("srte: wrote \(path)")
}
