import Testing
import SRv6Paths
@testable import SubflowSteering
import LinuxSystem
import TestSupport

/// Records what it is asked to steer (no kernel).
final class RecordingSteering: SRHSteering {
    var steeredFlows: [FourTuple: SegmentRoutingHeader] = [:]
    func steer(_ flow: FourTuple, along srh: SegmentRoutingHeader) throws { steeredFlows[flow] = srh }
    func unsteer(_ flow: FourTuple) throws { steeredFlows[flow] = nil }
    func removeAll() { steeredFlows.removeAll() }
}

/// `equalSRHLength`: every subflow's SRH has the wire length of the longest list; the padding
/// is a PadN TLV the kernel accepts, and the segments are exactly the planned ones.
struct EqualSRHLengthTests {
    let dst = IPv6Address(high: 0xfc00_0002_0000_0000, low: 2)
    let sidB = IPv6Address(high: 0xfc00_0000_000b_0000, low: 1)
    let sidC = IPv6Address(high: 0xfc00_0000_000c_0000, low: 1)

    func tuple(_ port: UInt16) -> FourTuple {
        FourTuple(local: IPv6Address(high: 0xfc00_0001_0000_0000, low: 1), localPort: port, remote: dst, remotePort: 5201)
    }

    @Test func shorterListsArePaddedToTheLongest() throws {
        let s = RecordingSteering()
        let remote = SocketEndpoint(dst, port: 5201)
        let paths: [[IPv6Address]] = [[], [sidB], [sidB, sidC]]
        for (i, p) in paths.enumerated() {
            try EngineeredConnection.steerIfNeeded(s, tuple(UInt16(40000 + i)), p, remote, padTo: 3)
        }
        let srhs = (0..<3).map { s.steeredFlows[tuple(UInt16(40000 + $0))]! }
        let wires = try srhs.map { try $0.encoded() }
        #expect(Set(wires.map(\.count)) == [8 + 16 * 3])
        #expect(srhs.map(\.segments) == [[dst], [sidB, dst], [sidB, sidC, dst]])
        for w in wires { #expect(throws: Never.self) { try SegmentRoutingHeader.validate(w) } }
        #expect(srhs[2].tlvs.isEmpty && !srhs[0].tlvs.isEmpty)
    }

    @Test func withoutPaddingAPathWithoutWaypointsIsNotSteered() throws {
        let s = RecordingSteering()
        try EngineeredConnection.steerIfNeeded(s, tuple(40000), [], SocketEndpoint(dst, port: 5201))
        #expect(s.steeredFlows.isEmpty)
    }
}
