// SRH bytes of planned disjoint paths, uncompressed vs RFC 9800 NEXT-C-SID containers vs reduced
// SRHs (RFC 8754 §4.1.1), and the payload ceiling of a full frame for each. Pure planning and
// encoding: no kernel, no root.
//
//   csid-bench TOPOLOGY.yaml [PAIRS] [SEED]   → one JSON line per (pair, k, path) on stdout
//
// Two lists per planned path: the planner's (fewest SIDs, or fewest bytes once compressed) and a
// hop-by-hop one (every router strictly between source and destination as a node SID), as an
// operator pinning each hop would send; the planner's lists on these topologies have at most two
// waypoints, the hop-by-hop ones up to the path's length.
//
// Pairs: every ordered pair of hosts, else of routers; more than PAIRS (default 300) are
// sampled with a fixed seed. k = 2, 3, 4, link-disjoint. The topology's C-SIDs are used, or
// F3216 in the /32 of its first locator when it declares none (Topology.compressible()).
import Foundation
import SRv6Paths

let args = CommandLine.arguments
guard args.count >= 2 else {
    FileHandle.standardError.write("usage: csid-bench TOPOLOGY.yaml [PAIRS] [SEED]\n".data(using: .utf8)!)
    exit(2)
}
let file = args[1]
let maxPairs = args.count > 2 ? Int(args[2]) ?? 300 : 300
var seed: UInt64 = args.count > 3 ? UInt64(args[3]) ?? 1 : 1
let text = try String(contentsOfFile: file, encoding: .utf8)
let topology = try Topology(yaml: text, file: file).compressible()

/// The share of a link's rate a subflow's payload can fill in full 1500-byte frames with an SRH of
/// `srh` bytes (the route MTU leaves room for it): IPv6 40, TCP with timestamps 32, MPTCP DSS 24,
/// Ethernet 14 — as `Experiment.payloadShare(mtu:srhBytes:)`.
func payloadShare(_ srh: Int, mtu: Int = 1500) -> Double {
    Double(mtu - srh - 40 - 32 - 24) / Double(mtu + 14)
}

func next(_ seed: inout UInt64) -> UInt64 {       // splitmix64
    seed &+= 0x9e3779b97f4a7c15
    var z = seed
    z = (z ^ (z >> 30)) &* 0xbf58476d1ce4e5b9
    z = (z ^ (z >> 27)) &* 0x94d049bb133111eb
    return z ^ (z >> 31)
}

let hosts = topology.nodes.filter { $0.kind == .host }.map(\.name)
let ends = hosts.count >= 2 ? hosts : topology.nodes.filter { $0.kind == .router }.map(\.name)
var pairs: [(String, String)] = []
for a in ends { for b in ends where a != b { pairs.append((a, b)) } }
if pairs.count > maxPairs {
    for i in 0..<maxPairs { pairs.swapAt(i, i + Int(next(&seed) % UInt64(pairs.count - i))) }
    pairs = Array(pairs.prefix(maxPairs))
}
let planner = DisjointPathPlanner(topology: topology, metric: .igp)
let enc = JSONEncoder()
enc.outputFormatting = [.sortedKeys]
struct Row: Encodable {
    var topology: String, from: String, to: String, k: Int, path: Int
    var waypoints: Int            // SIDs before the destination, fewest-SIDs encoding
    var uncompressed: Int         // SRH bytes, fewest SIDs, whole SIDs
    var csid: Int                 // fewest bytes, NEXT-C-SID containers, full SRH
    var reduced: Int              // the same as a reduced SRH where its first entry is a container
    var entries: Int              // Segment List entries with containers (destination included)
    var ceilingUncompressed: Double, ceilingCSID: Double, ceilingReduced: Double
    var hopWaypoints: Int         // hop-by-hop list: routers between source and destination
    var hopUncompressed: Int, hopCSID: Int, hopReduced: Int
}
for (from, to) in pairs {
    for k in 2...4 {
        guard let plain = try? PlanReport(topology: topology, from: from, to: to, k: k, disjoint: .link, planner: planner),
              let small = try? PlanReport(topology: topology, from: from, to: to, k: k, disjoint: .link, planner: planner, encoding: .fewestBytes),
              plain.paths.count == small.paths.count else { continue }
        for (i, (p, q)) in zip(plain.paths, small.paths).enumerated() {
            let u = p.wire(.off, topology: topology).srhBytes
            let c = q.wire(.full, topology: topology)
            let r = q.wire(.reduced, topology: topology)
            let nodes = p.path.nodes
            let hops = nodes.dropFirst().dropLast().filter { topology.nodes[$0].kind == .router }.compactMap { topology.nodeSID(ofNode: $0) }
            let hopList = hops + [topology.destinationAddress(ofNode: nodes.last!)]
            let hopCompressed = topology.compressed(hopList)
            let hopBytes = { (entries: Int, reduced: Bool) in entries > 1 ? 8 + 16 * (entries - (reduced ? 1 : 0)) : 0 }
            let row = Row(topology: topology.name, from: from, to: to, k: k, path: i, waypoints: p.waypoints.count,
                          uncompressed: u, csid: c.srhBytes, reduced: r.srhBytes, entries: c.entries.count,
                          ceilingUncompressed: payloadShare(u), ceilingCSID: payloadShare(c.srhBytes), ceilingReduced: payloadShare(r.srhBytes),
                          hopWaypoints: hops.count, hopUncompressed: hopBytes(hopList.count, false),
                          hopCSID: hopBytes(hopCompressed.entries.count, false),
                          hopReduced: hopBytes(hopCompressed.entries.count, hopCompressed.reducible))
            print(String(data: try enc.encode(row), encoding: .utf8)!)
        }
    }
}
