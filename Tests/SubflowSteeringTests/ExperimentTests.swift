import Foundation
import Testing
import SRv6Paths
@testable import SubflowSteering

/// A short `srte experiment` on the bundled diamond: the engineered subflows
/// must carry the traffic on their own paths, the unsteered ones must stay on
/// the IGP path (via a), and the lab must be gone afterwards.
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates network namespaces"), .timeLimit(.minutes(2)))
struct ExperimentTests {
    @Test(arguments: [Experiment.Steering.route, .bpf])
    func diamondEngineeredPathsCarryTheTraffic(steering: Experiment.Steering) throws {
        var e = Experiment(topology: try bundledTopology("diamond.yaml"))
        e.seconds = 3
        e.steering = steering
        e.lab = "xt\(getpid() % 10000)\(steering == .bpf ? "b" : "r")"
        let r = try e.run()
        #expect(r.k == 3)
        #expect(r.paths.map { $0.hops[2] } == ["a", "b", "c"])
        // Each engineered path carried a real share, close to its 50 Mbit/s bottleneck.
        for p in r.paths { #expect(p.mbps > 30 && p.mbps < 52, "\(p.hops): \(p.mbps) Mbit/s") }
        #expect(r.capacityMbps == 150)
        #expect(r.aggregateMbps > 2 * r.unsteeredMbps, "engineered \(r.aggregateMbps), unsteered \(r.unsteeredMbps)")
        #expect(r.unsteeredMbps < 52 && r.singlePathMbps < 52)
        // The middle links each carried about a third of the engineered bytes.
        let middle = r.links.filter { ["a", "b", "c"].contains($0.b) && $0.a == "r1" }
        #expect(middle.count == 3, "\(r.links)")
        for l in middle { #expect(l.bytesAToB > 5_000_000, "\(l)") }
        // Nothing left behind.
        #expect(!FileManager.default.fileExists(atPath: "/run/srte/testbed/\(e.lab!).json"))
        #expect(!NetworkNamespace.exists("\(e.lab!)-h1"))
    }
}
