import Foundation
import Testing
@testable import SubflowSteering
import NetworkLab
import LinuxSystem
import SRv6Paths
import TestSupport

/// `srte experiment` argument errors: refused before any lab exists.
@Suite(.enabled(if: geteuid() == 0, "srte experiment refuses to start without root"))
struct ExperimentCLITests {
    let diamond = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path + "/topologies/diamond.yaml"

    @Test(arguments: [
        (["--fail", "r1-b"], "expected A-B@T"),
        (["--fail", "r1-b@soon"], "is not a time"),
        (["--fail", "r1-x@5s"], "is not two node names"),
        (["--fail", "r1-b@0s"], "is not a time"),
        (["--stall-timeout", "5"], "--stall-timeout 5"),
        (["--default-bandwidth", "50Mbits"], "--default-bandwidth 50Mbits"),
        (["--mtu", "1200"], "--mtu 1200: mtu must be in 1280...65535 bytes"),
    ])
    func badArgumentsAreExitTwo(args: [String], message: String) throws {
        let r = try runSrte(["experiment", diamond, "--lab", "xcli"] + args)
        #expect(r.status == 2, "\(r.err)")
        #expect(r.err.contains(message), "\(r.err)")
        #expect(access("/run/netns/xcli-h1", F_OK) != 0)
    }

    @Test(arguments: [
        (["--fail", "a-b@2s"], "has no link between 'a' and 'b'"),
        (["--fail", "r1-b@12s"], "must fall inside the 10.0 s run"),
    ])
    func impossibleFailuresAreRefusedBeforeTheLab(args: [String], message: String) throws {
        let r = try runSrte(["experiment", diamond, "--lab", "xcli2"] + args)
        #expect(r.status == 3, "\(r.err)")
        #expect(r.err.contains(message), "\(r.err)")
        #expect(access("/run/netns/xcli2-h1", F_OK) != 0)
    }

    /// `--delay bridge` reaches the lab: the report says so, and no namespace or bridge is left.
    @Test(.timeLimit(.minutes(2))) func delayPassesThroughToTheLab() throws {
        let lab = "xcd\(getpid() % 10000)"
        let r = try runSrte(["experiment", diamond, "--lab", lab, "--seconds", "1", "--delay", "bridge", "--format", "json"])
        #expect(r.status == 0, "\(r.err)")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        #expect(obj["delay"] as? String == "bridge")
        #expect((obj["notes"] as? [String])?.contains { $0.contains("8 userspace delay bridges") } == true, "\(obj["notes"] ?? "")")
        #expect(access("/run/netns/\(lab)-h1", F_OK) != 0 && access("/run/netns/\(lab)+L0", F_OK) != 0)
        let h = try runSrte(["experiment", "--help"])
        #expect(h.out.contains("--delay"))
    }

    /// `--traffic iperf3`: unmodified iperf3 through mptcpize, the engineered run's subflows opened
    /// by `srte agent`; the report has the same throughput fields, and the engineered run spread
    /// over the three middle links.
    @Test(.enabled(if: Iperf3Tools.available, "needs iperf3 and mptcpize"), .timeLimit(.minutes(3)))
    func iperf3TrafficIsEngineeredByTheAgent() throws {
        let lab = "xci\(getpid() % 10000)"
        let r = try runSrte(["experiment", diamond, "--lab", lab, "--seconds", "3", "--traffic", "iperf3", "--format", "json"])
        #expect(r.status == 0, "\(r.err)")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any], "\(r.out)")
        #expect(obj["traffic"] as? String == "iperf3")
        for key in ["singlePathMbps", "unsteeredMbps", "aggregateMbps", "steadyMbps", "payloadCeilingMbps"] {
            #expect((obj[key] as? Double ?? 0) > 0, "\(key): \(obj[key] ?? "missing")")
        }
        // No rate is asserted (the delay bridges share this machine's CPUs); where the bytes went is.
        let links = obj["links"] as? [[String: Any]] ?? []
        for mid in ["a", "b", "c"] {
            let l = links.first { $0["a"] as? String == "r1" && $0["b"] as? String == mid }
            #expect((l?["bytesAToB"] as? Int ?? 0) > 2_000_000, "r1 → \(mid): \(l ?? [:])")
        }
        #expect((obj["notes"] as? [String])?.contains { $0.contains("srte agent engineered") } == true, "\(obj["notes"] ?? "")")
        #expect(access("/run/netns/\(lab)-h1", F_OK) != 0 && access("/run/netns/\(lab)+L0", F_OK) != 0)

        let bad = try runSrte(["experiment", diamond, "--lab", lab, "--traffic", "iperf3", "--fail", "r1-b@1s"])
        #expect(bad.status == 2 && bad.err.contains("--traffic srte"), "\(bad.err)")
    }

    /// `--traffic iperf3 --compress reduced`: the agent plans the same paths from the lab's
    /// topology (C-SIDs added) and sends them as containers in reduced SRHs; the routers' C-SID
    /// counters are not visible here, the report's SRH sizes and segments and the links are.
    @Test(.enabled(if: Iperf3Tools.available, "needs iperf3 and mptcpize"), .timeLimit(.minutes(3)))
    func iperf3TrafficWithReducedContainers() throws {
        let lab = "xcr\(getpid() % 10000)"
        let r = try runSrte(["experiment", diamond, "--lab", lab, "--seconds", "3", "--traffic", "iperf3", "--delay", "off",
                             "--compress", "reduced", "--format", "json"])
        #expect(r.status == 0, "\(r.err)")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any], "\(r.out)")
        #expect(obj["compression"] as? String == "reduced")
        #expect(obj["srhBytes"] as? [Int] == [0, 24, 24], "\(obj["srhBytes"] ?? "missing")")
        let segments = (obj["paths"] as? [[String: Any]] ?? []).map { $0["segments"] as? [String] ?? [] }
        #expect(segments == [["fc00:2::2"], ["fc00:0:b::", "fc00:2::2"], ["fc00:0:c::", "fc00:2::2"]], "\(segments)")
        let links = obj["links"] as? [[String: Any]] ?? []
        for mid in ["a", "b", "c"] {
            let l = links.first { $0["a"] as? String == "r1" && $0["b"] as? String == mid }
            #expect((l?["bytesAToB"] as? Int ?? 0) > 2_000_000, "r1 → \(mid): \(l ?? [:])")
        }
        #expect(access("/run/netns/\(lab)-h1", F_OK) != 0)
    }

    @Test func helpTeachesFailureAndRecovery() throws {
        let h = try runSrte(["experiment", "--help"])
        for s in ["--fail", "--keep", "--stall-timeout", "--cc", "--default-bandwidth", "--mtu", "make-before-break", "r1-b@5s"] {
            #expect(h.out.contains(s), "help lacks \(s)")
        }
        let o = try runSrte(["open", "--help"])
        for s in ["--keep", "--stall-timeout", "--cc", "serve --verify"] { #expect(o.out.contains(s), "open help lacks \(s)") }
        let v = try runSrte(["serve", "--help"])
        #expect(v.out.contains("--verify"))
    }
}

@Suite struct OpenKeepCLITests {
    @Test func keepNeedsATopology() throws {
        let r = try runSrte(["open", "--to", "[fc00:2::2]:5201", "--path", "direct", "--keep"])
        #expect(r.status == 2, "\(r.err)")
        #expect(r.err.contains("--keep re-plans around failures: it needs --topology"), "\(r.err)")
    }
}
