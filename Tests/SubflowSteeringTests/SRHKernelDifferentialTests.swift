import Testing
import SRv6Paths
@testable import SubflowSteering
import LinuxSystem
import TestSupport

/// srte's validator against the running kernel: `setsockopt(IPV6_RTHDR)`
/// accepts exactly what `seg6_validate_srh` accepts. Every generated input must
/// get the same verdict from both.
@Suite struct SRHKernelDifferentialTests {
    @Test(arguments: [UInt64(1), 2, 3, 4, 5])
    func agreesWithKernel(seed: UInt64) throws {
        let kernel = try KernelSRHCheck()
        let inputs = SRHCorpus.inputs(count: 4000, seed: seed)
        var accepted = 0
        var kinds: [String: Int] = [:]
        for (i, bytes) in inputs.enumerated() {
            let ours: SRHError?
            do { try SegmentRoutingHeader.validate(bytes); ours = nil } catch { ours = error }
            let theirs = try kernel.accepts(bytes)
            #expect(theirs == (ours == nil),
                    "seed \(seed) input \(i): kernel \(theirs ? "accepts" : "rejects"), srte says \(ours?.description ?? "valid"): \(Hex.encode(bytes))")
            if theirs != (ours == nil) { return }
            if let ours { kinds[ours.kind.rawValue, default: 0] += 1 } else {
                accepted += 1
                // What both accept decodes and re-encodes to the same bytes.
                let srh = try SegmentRoutingHeader(decoding: bytes)
                #expect(try srh.encoded() == bytes, "seed \(seed) input \(i) does not round-trip")
            }
        }
        // The corpus must exercise both verdicts and every kernel check.
        #expect(accepted > inputs.count / 5, "only \(accepted) valid inputs")
        #expect(inputs.count - accepted > inputs.count / 5, "only \(inputs.count - accepted) invalid inputs")
        let expectedKinds: [SRHError.Kind] = [.truncated, .lengthNotMultipleOf8, .headerLengthBeyondData,
                                              .unsupportedRoutingType, .lengthMismatch, .segmentsLeftBeyondLastEntry,
                                              .lastEntryBeyondHeader, .tlvTruncated, .tlvOverrun]
        for k in expectedKinds {
            #expect(kinds[k.rawValue, default: 0] > 0, "seed \(seed): no input rejected as \(k)")
        }
    }

    /// Inputs over 2040 bytes are rejected by length first, by both.
    @Test func tooLongAgrees() throws {
        let kernel = try KernelSRHCheck()
        var b = [UInt8](repeating: 0, count: 2048)
        b[1] = 255; b[2] = 4
        #expect(try kernel.accepts(b) == false)
        #expect(throws: SRHError.self) { try SegmentRoutingHeader.validate(b) }
        // The largest SRH: 127 segments = 2040 bytes, accepted by both; one more TLV is too long.
        let path = (1...127).map { IPv6Address(high: 0xfc00_0000_0000_0000 | UInt64($0) << 16, low: 1) }
        #expect(throws: SRHError.self) { try SegmentRoutingHeader(path: path, tlvs: [.padding(8)]) }
        let srh = try SegmentRoutingHeader(path: path)
        let wire = try srh.encoded()
        #expect(wire.count == 2040)
        #expect(try kernel.accepts(wire))
        try SegmentRoutingHeader.validate(wire)
    }
}
