import Foundation
import Testing
import SRv6Paths
@testable import SubflowSteering
import LinuxSystem
import TestSupport

enum Mechanism: String, CaseIterable, Sendable {
    case policyRouting, bpf

    func make(_ t: TwoPathLab) throws -> SRHSteering {
        if self == .policyRouting { try requireSeg6Routes() }
        return try NetworkNamespace.run(in: t.lab.ns("h1")) { () throws -> SRHSteering in
            switch self {
            case .policyRouting: return try PolicyRoutingSteering()
            case .bpf: return try BPFSteering(interface: "h1-r1")
            }
        }
    }
}

/// One MPTCP connection, two subflows: the initial one left on the IGP path
/// (through a), the second steered through b. Both middle links are limited
/// to 50 Mbit/s so the scheduler uses both; each subflow's bytes must show up
/// on its own path only.
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates network namespaces"))
struct EngineeredConnectionTests {
    func prepare(_ tag: String) throws -> TwoPathLab {
        let t = try TwoPathLab(tag)
        for n in ["h1", "h2"] { try t.lab.sysctl(n, "net.mptcp.pm_type", "1") }
        for (n, dev) in [("r1", "r1-a"), ("r1", "r1-b")] {
            try t.lab.exec(n, ["tc", "qdisc", "add", "dev", dev, "root", "tbf", "rate", "50mbit", "burst", "64kb", "latency", "50ms"])
        }
        return t
    }

    @Test(arguments: Mechanism.allCases)
    func eachSubflowFollowsItsPath(mechanism: Mechanism) throws {
        let t = try prepare("ec\(mechanism == .bpf ? "b" : "p")")
        defer { t.lab.destroy() }

        let steering = try mechanism.make(t)
        defer { steering.removeAll() }
        // The sink after the steering: a case skipped there must not leave a thread waiting in accept.
        let sink = try NetworkNamespace.run(in: t.lab.ns("h2")) { try MPTCPSink(listen: SocketEndpoint(.unspecified, port: 5201)) }
        let result = SinkResult.serving(sink, timeout: .seconds(30))
        let size = 12_000_000
        var report: EngineeredConnection.Report? = nil
        let bytes = try t.forwardBytes {
            let c = try NetworkNamespace.run(in: t.lab.ns("h1")) {
                try EngineeredConnection.open(to: SocketEndpoint(t.h2, port: 5201), paths: [[], [t.sidB]], steering: steering)
            }
            #expect(c.subflows.count == 2)
            report = try c.send(totalBytes: size)
            if mechanism == .bpf {
                // The initial subflow (no SRH) connected after open() made the SRH's room toward
                // h2 (reserveHeadroom): it sends with the join's MSS, not 40 bytes more.
                let mss = try c.connection.socket.fullInfo().subflows.map(\.sendMSS)
                #expect(mss.count == 2 && Set(mss) == [1500 - 40 - 40 - 20 - 12], "MSS per subflow: \(mss)")
            }
            c.close()
        }
        #expect(result.finished(within: 30))
        let sinkReport = try #require(try result.get())
        #expect(sinkReport.bytes == UInt64(size))
        #expect(report?.bytes == UInt64(size))
        #expect(sinkReport.multipath)
        #expect(sinkReport.subflows.count == 2, "\(sinkReport.subflows)")
        let r = try #require(report)
        let viaA = r.subflows[0], viaB = r.subflows[1]
        // Both paths carried a real share, and each link carried (about) its own subflow's bytes only.
        #expect(viaA.bytesAcked > UInt64(size / 5) && viaB.bytesAcked > UInt64(size / 5), "\(r.subflows)")
        #expect(bytes.viaA >= Int(viaA.bytesAcked) && bytes.viaA < Int(Double(viaA.bytesAcked) * 1.1) + 200_000,
                "link r1→a carried \(bytes.viaA) bytes for a subflow of \(viaA.bytesAcked)")
        #expect(bytes.viaB >= Int(viaB.bytesAcked) && bytes.viaB < Int(Double(viaB.bytesAcked) * 1.15) + 200_000,
                "link r1→b carried \(bytes.viaB) bytes for a subflow of \(viaB.bytesAcked)")
        // Nothing left behind once the connection is closed and steering removed.
        steering.removeAll()
        #expect(try t.lab.exec("h1", ["ip", "-6", "route", "show", "table", "all", "proto", "83"]).isEmpty)
    }
}

extension EngineeredConnectionTests {
    /// Re-steering a live subflow: one transfer starts via b and is moved to a
    /// mid-way; both links carry a real part of the same connection's bytes.
    @Test(arguments: Mechanism.allCases)
    func resteersALiveSubflow(mechanism: Mechanism) throws {
        let t = try prepare("rs\(mechanism == .bpf ? "b" : "p")")
        defer { t.lab.destroy() }
        let steering = try mechanism.make(t)
        defer { steering.removeAll() }
        // The sink after the steering: a case skipped there must not leave a thread waiting in accept.
        let sink = try NetworkNamespace.run(in: t.lab.ns("h2")) { try MPTCPSink(listen: SocketEndpoint(.unspecified, port: 5202)) }
        let result = SinkResult.serving(sink, timeout: .seconds(30))
        let size = 24_000_000                        // about 4 s at 50 Mbit/s
        let bytes = try t.forwardBytes {
            let c = try NetworkNamespace.run(in: t.lab.ns("h1")) {
                try EngineeredConnection.open(to: SocketEndpoint(t.h2, port: 5202), paths: [[t.sidB]], steering: steering)
            }
            let sent = DispatchSemaphore(value: 0)
            let box = UncheckedSendable(c)
            Thread { _ = try? box.value.send(totalBytes: size); sent.signal() }.start()
            Thread.sleep(forTimeInterval: 1.5)
            try c.resteer(0, waypoints: [t.sidA])       // live: same 4-tuple, new SRH
            #expect(sent.wait(timeout: .now() + 30) == .success)
            c.close()
        }
        #expect(result.finished(within: 30))
        #expect(try result.get()?.bytes == UInt64(size))
        #expect(bytes.viaB > size / 5 && bytes.viaA > size / 5, "via a \(bytes.viaA), via b \(bytes.viaB)")
        #expect(bytes.viaA + bytes.viaB >= size)
    }
}

final class UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ v: T) { value = v }
}
