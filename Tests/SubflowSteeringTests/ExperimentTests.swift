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
        if steering == .route { try requireSeg6Routes() }
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
        // The rate after the first second leaves the ramp-up out: at least the whole run's.
        let steady = try #require(r.steadyMbps)
        #expect(steady >= r.aggregateMbps * 0.97 && steady < 155, "steady \(steady), whole run \(r.aggregateMbps)")
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

    /// Between routers with several interfaces (r1 → r2), BPF steering inserts the SRH after
    /// the stack routed by the destination; the program must send each subflow out toward its
    /// first segment, or all three would leave r1 toward a.
    @Test func bpfSteeringFromARouterLeavesByEachPathsInterface() throws {
        var e = Experiment(topology: try bundledTopology("diamond.yaml"))
        e.from = "r1"
        e.to = "r2"
        e.seconds = 3
        e.steering = .bpf
        e.delay = .off
        e.lab = "xr\(getpid() % 10000)"
        let r = try e.run()
        #expect(r.k == 3)
        for m in ["a", "b", "c"] {
            let l = r.links.first { $0.a == "r1" && $0.b == m }
            #expect((l?.bytesAToB ?? 0) > 5_000_000, "r1 → \(m): \(String(describing: l))")
        }
        #expect(r.aggregateMbps > 2 * r.unsteeredMbps, "engineered \(r.aggregateMbps), unsteered \(r.unsteeredMbps)")
        #expect(r.verified)
    }

    /// `--fail r1-b@2s --keep` with k = 2 (paths via a and b; c idle): the subflow via b stalls,
    /// a replacement via c is up within 1 s of the failure, and the sink verifies every byte.
    @Test(arguments: [Experiment.Steering.route, .bpf])
    func failoverReplacesTheBrokenPathWithinOneSecond(steering: Experiment.Steering) throws {
        if steering == .route { try requireSeg6Routes() }
        var e = Experiment(topology: try bundledTopology("diamond.yaml"))
        e.seconds = 5
        e.k = 2
        e.steering = steering
        e.failure = Experiment.Failure(a: "r1", b: "b", at: 2)
        e.keep = true
        e.lab = "xf\(getpid() % 10000)\(steering == .bpf ? "b" : "r")"
        let r = try e.run()
        let f = try #require(r.failure)
        #expect(f.at >= 2 && f.at < 2.2)
        let replaced = try #require(f.replacedAfter, "no replacement: \(f.events)")
        #expect(replaced < 1.0, "replacement established \(replaced) s after the failure")
        #expect(r.paths.count == 3)
        #expect(r.paths.map { $0.hops[2] } == ["a", "b", "c"])
        #expect(!r.paths[1].active && r.paths[2].replaces == 1)
        // Before the failure b carried its share; after it, c did.
        #expect(r.paths[1].series.contains { $0[0] < 2 && $0[1] > 30 }, "\(r.paths[1].series)")
        #expect(r.paths[2].series.contains { $0[0] > 3 && $0[1] > 30 }, "\(r.paths[2].series)")
        #expect(r.links.contains { $0.a == "r1" && $0.b == "c" && $0.bytesAToB > 2_000_000 }, "\(r.links)")
        #expect(r.verified, "sink verification failed after \(r.engineeredBytes) bytes")
        #expect(!NetworkNamespace.exists("\(e.lab!)-h1"))
    }

    /// Without --keep the failure is only recorded: no replacement, the bytes still all arrive.
    @Test func failureWithoutKeepIsNotReplaced() throws {
        var e = Experiment(topology: try bundledTopology("diamond.yaml"))
        e.seconds = 4
        e.k = 2
        e.failure = Experiment.Failure(a: "r1", b: "b", at: 1.5)
        e.lab = "xn\(getpid() % 10000)"
        let r = try e.run()
        #expect(r.paths.count == 2)
        #expect(r.failure?.replacedAfter == nil)
        #expect(r.verified)
    }

    @Test func failureOnAMissingLinkIsRefusedBeforeTheLab() throws {
        var e = Experiment(topology: try bundledTopology("diamond.yaml"))
        e.failure = Experiment.Failure(a: "a", b: "b", at: 2)
        e.lab = "xm\(getpid() % 10000)"
        #expect(throws: SubflowError.self) { try e.run() }
        #expect(!NetworkNamespace.exists("\(e.lab!)-h1"))
    }
}
