// srte-bench: times the SRv6Paths planner on the anchors' srte-topology/1 files and prints one
// JSON line per (op, k, disjointness), in the anchors' format (see Benchmarks/planner/README.md).
//
//   srte-bench data/isp-10k.json [--reps 5] [--k 2,4] [--disjoint link,node] [--budget 60]
//
// Anchors: srte.dijkstra (one full ECMP Dijkstra), srte.ssp (planning), srte.ssp+enc (planning +
// segment-list encoding + forwarding check of every path).
import Glibc
import SRv6Paths

func fail(_ message: String) -> Never {
    let b = Array((message + "\n").utf8)
    _ = b.withUnsafeBytes { write(2, $0.baseAddress!, $0.count) }
    exit(2)
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func peakRSSMiB() -> Double {
    var u = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
    return Double(u.ru_maxrss) / 1024
}

func readFile(_ path: String) -> String {
    guard let f = fopen(path, "rb") else { fatalError("cannot open \(path)") }
    defer { fclose(f) }
    var bytes: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let n = fread(&buf, 1, buf.count, f)
        if n <= 0 { break }
        bytes += buf[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func r4(_ x: Double) -> String {
    // Four significant-ish digits, like the anchors' round(x, 4).
    let v = (x * 10000).rounded() / 10000
    return String(v)
}

func main() throws {
    let args = Array(CommandLine.arguments.dropFirst())
    guard let file = args.first else {
        fail("usage: srte-bench FILE.json [--reps N] [--k 2,4] [--disjoint link,node] [--budget S]")
    }
    var reps = 5
    var ks = [2, 4]
    var modes: [Disjointness] = [.link, .node]
    var budget = 60.0
    var i = 1
    while i < args.count {
        switch args[i] {
        case "--reps": reps = Int(args[i + 1])!; i += 2
        case "--k": ks = args[i + 1].split(separator: ",").map { Int($0)! }; i += 2
        case "--disjoint": modes = args[i + 1].split(separator: ",").map { Disjointness(rawValue: String($0))! }; i += 2
        case "--budget": budget = Double(args[i + 1])!; i += 2
        default: fail("unknown argument \(args[i])")
        }
    }

    let t0 = now()
    let (topology, namePairs): (Topology, [(from: String, to: String)])
    do { (topology, namePairs) = try Topology.importSRTETopologyJSON(readFile(file), file: file) } catch {
        fail("\(error)")
    }
    let loadS = now() - t0
    let tb = now()
    let planner = DisjointPathPlanner(topology: topology, metric: .igp)
    let encoder = SegmentEncoder(planner: planner)
    let pairs = namePairs.map { (topology.index(of: $0.from)!, topology.index(of: $0.to)!) }
    // Build both residual networks (lazy) outside the timed runs.
    for m in modes { _ = try planner.plan(from: pairs[0].0, to: pairs[0].1, k: 1, disjoint: m) }
    let buildS = now() - tb
    let spf = ShortestPaths(graph: planner.graph)

    func emit(_ anchor: String, op: String, k: Int?, mode: Disjointness?, samples: [Double], found: [Int], costs: [Int], note: String? = nil) {
        var s = "{\"anchor\": \"\(anchor)\", \"topology\": \"\(topology.name)\", \"nodes\": \(topology.nodes.count), \"links\": \(topology.links.count), "
        s += "\"op\": \"\(op)\", \"k\": \(k.map(String.init) ?? "null"), \"disjoint\": \(mode.map { "\"\($0.rawValue)\"" } ?? "null"), "
        s += "\"load_s\": \(r4(loadS)), \"build_s\": \(r4(buildS)), \"samples\": \(samples.count), "
        s += "\"median_ms\": \(r4(median(samples) * 1000)), \"min_ms\": \(r4(samples.min()! * 1000)), "
        s += "\"found\": \(found.isEmpty ? "null" : "[\(found.map(String.init).joined(separator: ", "))]"), "
        s += "\"total_costs\": \(costs.isEmpty ? "null" : "[\(costs.map(String.init).joined(separator: ", "))]"), "
        s += "\"peak_rss_mib\": \(r4(peakRSSMiB())), \"note\": \(note.map { "\"\($0)\"" } ?? "null")}"
        print(s)
        fflush(nil)
    }

    let jobs = 1 + ks.count * modes.count * 2
    var jobIndex = 0
    func jobBudget() -> Double { (budget - (now() - t0)) / Double(max(1, jobs - jobIndex)) }

    // Dijkstra: one full single-source ECMP shortest-path computation.
    do {
        var samples: [Double] = []
        let start = now(), share = jobBudget()
        outer: for _ in 0..<reps {
            for (s, _) in pairs {
                let a = now()
                spf.run(from: s)
                samples.append(now() - a)
                if now() - start > share { break outer }
            }
        }
        emit("srte.dijkstra", op: "dijkstra", k: nil, mode: nil, samples: samples, found: [], costs: [])
        jobIndex += 1
    }

    for k in ks {
        for mode in modes {
            for withEncoding in [false, true] {
                var samples: [Double] = []
                var found: [Int] = [], costs: [Int] = []
                var failures = 0
                let start = now(), share = jobBudget()
                outer: for r in 0..<reps {
                    for (s, t) in pairs {
                        let a = now()
                        let plan = try planner.plan(from: s, to: t, k: k, disjoint: mode)
                        if withEncoding {
                            for p in plan.paths {
                                do { _ = try encoder.encode(p) } catch { failures += 1 }
                            }
                        }
                        samples.append(now() - a)
                        if r == 0 {
                            found.append(plan.paths.count)
                            costs.append(plan.totalCost)
                        }
                        if now() - start > share && r > 0 { break outer }
                    }
                }
                emit(withEncoding ? "srte.ssp+enc" : "srte.ssp", op: "disjoint", k: k, mode: mode, samples: samples,
                     found: found, costs: costs, note: failures > 0 ? "\(failures) encoding failures" : nil)
                jobIndex += 1
            }
        }
    }
}

try main()
