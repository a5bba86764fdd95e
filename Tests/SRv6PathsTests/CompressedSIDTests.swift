import Testing
@testable import SRv6Paths
import TestSupport

private func a(_ s: String) -> IPv6Address { try! IPv6Address(parsing: s) }
private func p(_ s: String) -> IPv6Prefix { try! IPv6Prefix(parsing: s) }

@Suite struct CompressedSIDTests {
    let f3216 = try! CSIDFormat.f3216(block: p("fc00::/32"))

    @Test func formatLimits() throws {
        #expect(f3216.csidsPerContainer == 6)
        #expect(f3216.maxCSID == 0xffff)
        #expect(try CSIDFormat(block: p("fc00::/48"), csidLength: 32).csidsPerContainer == 2)
        #expect(throws: CSIDError.self) { try CSIDFormat(block: p("fc00::/32"), csidLength: 12) }
        #expect(throws: CSIDError.self) { try CSIDFormat(block: p("fc00::/120"), csidLength: 16) }
        #expect(throws: CSIDError.self) { try CSIDFormat(block: p("::/0"), csidLength: 16) }
        #expect(throws: CSIDError.self) { try CSIDFormat.f3216(block: p("fc00::/48")) }
    }

    @Test func containersPackCSIDsBehindTheBlock() throws {
        #expect(try f3216.container([0xa, 0xb]) == a("fc00:0:a:b::"))
        #expect(try f3216.container([1, 2, 3, 4, 5, 6]) == a("fc00:0:1:2:3:4:5:6"))
        #expect(try f3216.sid(csid: 0xa) == a("fc00:0:a::"))
        #expect(throws: CSIDError.self) { try f3216.container([1, 2, 3, 4, 5, 6, 7]) }
        #expect(throws: CSIDError.self) { try f3216.container([1, 0, 3]) }
        #expect(throws: CSIDError.self) { try f3216.container([0x10000]) }
        #expect(throws: CSIDError.self) { try f3216.container([]) }
        #expect(f3216.csids(in: a("fc00:0:a:b::")) == [0xa, 0xb])
        #expect(f3216.csids(in: a("fc00:0:1:2:3:4:5:6")) == [1, 2, 3, 4, 5, 6])
        #expect(f3216.csids(in: a("fc00:0:a::1")) == nil)        // a non-zero bit after the zero C-SID
        #expect(f3216.csids(in: a("fc00:2::2")) == nil)          // outside the block
        #expect(f3216.csids(in: a("fc00::")) == nil)             // no C-SID
        #expect(f3216.csid(of: a("fc00:0:a::")) == 0xa)
        #expect(f3216.csid(of: a("fc00:0:a:b::")) == nil)        // a container, not one SID
        // 32-bit C-SIDs behind a /48 block.
        let f4832 = try CSIDFormat(block: p("fc00:1::/48"), csidLength: 32)
        #expect(try f4832.container([0x10002, 0x30004]) == a("fc00:1:0:1:2:3:4::"))
        #expect(f4832.csids(in: a("fc00:1:0:1:2:3:4::")) == [0x10002, 0x30004])
    }

    /// NEXT-C-SID: each node shifts the next C-SID in; the last one sees a zero argument.
    @Test func endShiftsUntilTheArgumentIsZero() throws {
        var da = try f3216.container([1, 2, 3])
        var visited: [UInt64] = [f3216.csid(at: 0, of: da)]
        while let next = f3216.shifted(da) {
            da = next
            visited.append(f3216.csid(at: 0, of: da))
        }
        #expect(visited == [1, 2, 3])
        #expect(da == a("fc00:0:3::"))
        #expect(f3216.shifted(a("fc00:0:1:2:3:4:5:6")) == a("fc00:0:2:3:4:5:6:0"))
        #expect(f3216.shifted(a("fc00:2::2")) == nil)
        // A /112 block with 16-bit C-SIDs has no argument bits: never shifts.
        let tight = try CSIDFormat(block: p("fc00::/112"), csidLength: 16)
        #expect(tight.shifted(a("fc00::5")) == nil)
    }

    @Test func compressesRunsAndNeverTheFinalDestination() throws {
        let path = [a("fc00:0:1::"), a("fc00:0:2::"), a("fc00:0:b::1"), a("fc00:0:3::"), a("fc00:0:4::")]
        let c = f3216.compress(path)
        #expect(c.map(\.sid) == [a("fc00:0:1:2::"), a("fc00:0:b::1"), a("fc00:0:3::"), a("fc00:0:4::")])
        #expect(c[0] == .container(a("fc00:0:1:2::"), csids: [1, 2]))
        #expect(c.last == .sid(a("fc00:0:4::")))                 // the host's address stays exact
        #expect(f3216.expand(c.map(\.sid)) == path)
        // Seven compressible waypoints need two containers.
        let long = (1...7).map { try! f3216.sid(csid: UInt64($0)) } + [a("fc00:2::2")]
        #expect(f3216.compress(long).map(\.sid) == [a("fc00:0:1:2:3:4:5:6"), a("fc00:0:7::"), a("fc00:2::2")])
        // A node without NEXT-C-SID keeps its full SID and splits the run.
        let split = f3216.compress(long, compressible: { _, s in s != a("fc00:0:3::") })
        #expect(split.map(\.sid) == [a("fc00:0:1:2::"), a("fc00:0:3::"), a("fc00:0:4:5:6:7::"), a("fc00:2::2")])
    }

    /// Random paths compress and expand back to themselves.
    @Test(arguments: [UInt64(1), 2, 3])
    func compressExpandRoundTrips(seed: UInt64) throws {
        var rng = SeededRNG(seed: seed)
        for _ in 0..<500 {
            let n = Int.random(in: 1...12, using: &rng)
            var path: [IPv6Address] = (0..<n).map { _ in
                Bool.random(using: &rng) ? try! f3216.sid(csid: UInt64.random(in: 1...0xffff, using: &rng))
                                         : IPv6Address(high: 0xfc00_0001_0000_0000 | UInt64.random(in: 0...0xffff, using: &rng), low: 1)
            }
            path.append(try f3216.sid(csid: 9))                 // even a final destination in the block stays whole
            let c = f3216.compress(path)
            #expect(f3216.expand(c.map(\.sid)) == path)
            #expect(c.count <= path.count)
            #expect(c.last == .sid(path.last!))
        }
    }

    @Test func reducedSRHLeavesTheFirstSegmentOut() throws {
        let r = try ReducedSegmentRoutingHeader(path: [a("fc00:0:1:2::"), a("fc00:0:3::"), a("fc00:2::2")], nextHeader: 17)
        let w = try r.encoded()
        #expect(w.count == 8 + 2 * 16)
        #expect(Array(w[0..<8]) == [17, 4, 4, 2, 1, 0, 0, 0])           // segments left 2 = last entry 1 + 1
        #expect(Array(w[8..<24]) == a("fc00:2::2").bytes)
        #expect(Array(w[24..<40]) == a("fc00:0:3::").bytes)
        #expect(r.destination == a("fc00:0:1:2::"))
        #expect(try ReducedSegmentRoutingHeader(decoding: w, destination: r.destination) == r)
        #expect(throws: SRHError.self) { try ReducedSegmentRoutingHeader(path: [a("fc00:2::2")]) }
        // A full SRH of the same path is 16 bytes longer.
        #expect(try SegmentRoutingHeader(path: r.path).encodedCount == w.count + 16)
        // The setsockopt rules (not reduced) reject it; the reduced ones accept it.
        #expect(throws: SRHError.self) { try SegmentRoutingHeader.validate(w) }
        try SegmentRoutingHeader.validate(w, reduced: true)
    }

    /// `seg6_validate_srh(…, true)`: segments left up to last entry + 1, checked after the last entry.
    @Test func reducedValidationFollowsTheKernelOrder() throws {
        let w = try SegmentRoutingHeader(path: [a("fc00:0:3::"), a("fc00:2::2")]).encoded()   // 40 bytes, LE 1
        func verdict(_ b: [UInt8]) -> (SRHError.Kind, Int)? {
            do { try SegmentRoutingHeader.validate(b, reduced: true); return nil } catch { return (error.kind, error.offset) }
        }
        var b = w
        for sl: UInt8 in 0...2 { b[3] = sl; #expect(verdict(b) == nil, "sl \(sl)") }
        b[3] = 3
        #expect(verdict(b) ?? (.noSegments, 0) == (.segmentsLeftBeyondReducedList, 3))
        b[4] = 2                                                   // last entry beyond the header comes first
        #expect(verdict(b) ?? (.noSegments, 0) == (.lastEntryBeyondHeader, 4))
        b = w; b[2] = 0
        #expect(verdict(b) ?? (.noSegments, 0) == (.unsupportedRoutingType, 2))
        // Segments left is checked before the TLVs.
        var t = try SegmentRoutingHeader(path: [a("fc00:2::2")], tlvs: [.padding(8)]).encoded()
        t[3] = 2; t[25] = 200                                      // and a TLV overrun
        #expect(verdict(t) ?? (.noSegments, 0) == (.segmentsLeftBeyondReducedList, 3))
        t[3] = 1
        #expect(verdict(t)?.0 == .tlvOverrun)
        // Reduced decoding wants segments left = last entry + 1 exactly.
        #expect(throws: SRHError.self) { try ReducedSegmentRoutingHeader(decoding: w, destination: a("fc00:0:1::")) }
    }

    /// `ipv6_srh_rcv`: only segments left against hdrlen / 2 is checked.
    @Test func kernelReceiveModel() throws {
        let full = try SegmentRoutingHeader(path: [a("fc00:0:1::"), a("fc00:0:3::"), a("fc00:2::2")]).encoded()
        #expect(SegmentRoutingHeader.kernelReceive(full) == .forward(to: a("fc00:0:3::"), segmentsLeft: 1))
        var b = full; b[3] = 0
        #expect(SegmentRoutingHeader.kernelReceive(b) == .deliver)
        #expect(SegmentRoutingHeader.kernelReceive(full, seg6Enabled: false) == .seg6Disabled)
        #expect(SegmentRoutingHeader.kernelReceive(Array(full.prefix(40))) == .truncated)
        // Reduced: segments left = last entry + 1 = hdrlen / 2 → parameter problem at byte 3.
        let reduced = try ReducedSegmentRoutingHeader(path: [a("fc00:0:1::"), a("fc00:0:3::"), a("fc00:2::2")]).encoded()
        #expect(SegmentRoutingHeader.kernelReceive(reduced) == .parameterProblem(offset: 3))
        // With 16 bytes of TLVs the same reduced header is forwarded, and correctly.
        let padded = try ReducedSegmentRoutingHeader(path: [a("fc00:0:1::"), a("fc00:0:3::"), a("fc00:2::2")],
                                                      tlvs: [.padding(8), .padding(8)]).encoded()
        #expect(SegmentRoutingHeader.kernelReceive(padded) == .forward(to: a("fc00:0:3::"), segmentsLeft: 1))
        // 8 bytes of TLVs are not enough.
        let short = try ReducedSegmentRoutingHeader(path: [a("fc00:0:1::"), a("fc00:2::2")], tlvs: [.padding(8)]).encoded()
        #expect(SegmentRoutingHeader.kernelReceive(short) == .parameterProblem(offset: 3))
        // The next address is read wherever segments left points, TLV bytes included: no validation.
        var odd = try SegmentRoutingHeader(path: [a("fc00:2::2")], tlvs: [.padding(8), .padding(8), .padding(8), .padding(8)]).encoded()
        odd[3] = 2                                                 // beyond last entry 0
        #expect(SegmentRoutingHeader.kernelReceive(odd) == .forward(to: IPv6Address(bytes: odd[24..<40]), segmentsLeft: 1))
    }
}

/// Compressed lists, full or reduced, walked through NEXT-C-SID End (containers) and RFC 8986
/// End (whole SIDs), visit exactly the path they were made from.
@Suite struct CompressedWalkTests {
    let f = try! CSIDFormat.f3216(block: IPv6Prefix(parsing: "fc00::/32"))

    /// The SIDs visited: the node of the DA's first C-SID in the block, else the DA itself.
    func walk(destination: IPv6Address, srh: [UInt8]) -> [IPv6Address]? {
        var da = destination, bytes = srh, visited: [IPv6Address] = []
        for _ in 0..<200 {
            let inBlock = f.csids(in: da) != nil || f.shifted(da) != nil
            visited.append(inBlock ? (try! f.sid(csid: f.csid(at: 0, of: da))) : da)
            let verdict = inBlock ? f.endNextCSID(destination: da, srh: bytes) : SegmentRoutingHeader.endReceive(bytes)
            switch verdict {
            case .deliver: return visited
            case .forward(let next, let sl): da = next; bytes[3] = sl
            default: return nil
            }
        }
        return nil
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func compressedListsVisitThePath(seed: UInt64) throws {
        var rng = SeededRNG(seed: seed)
        var reducedChecked = 0
        for _ in 0..<400 {
            let n = Int.random(in: 1...14, using: &rng)
            var path: [IPv6Address] = (0..<n).map { _ in
                Int.random(in: 0..<4, using: &rng) > 0 ? try! f.sid(csid: UInt64.random(in: 1...0xdfff, using: &rng))
                                                     : IPv6Address(high: 0xfc01_0000_0000_0000 | UInt64.random(in: 1...0xffff, using: &rng) << 16, low: 1)
            }
            path.append(try IPv6Address(parsing: "fc02::2"))
            let list = f.compress(path).map(\.sid)
            let full = try SegmentRoutingHeader(path: list, nextHeader: 17).encoded()
            #expect(walk(destination: list[0], srh: full) == path, "full \(list)")
            if list.count >= 2 {
                let reduced = try ReducedSegmentRoutingHeader(path: list, nextHeader: 17)
                #expect(walk(destination: reduced.destination, srh: try reduced.encoded()) == path, "reduced \(list)")
                reducedChecked += 1
            }
        }
        #expect(reducedChecked > 300)
    }

    @Test func endReceiveAllowsReducedHeaders() throws {
        let r = try ReducedSegmentRoutingHeader(path: [try IPv6Address(parsing: "fc00:0:1::"), try IPv6Address(parsing: "fc02::2")]).encoded()
        #expect(SegmentRoutingHeader.endReceive(r) == .forward(to: try IPv6Address(parsing: "fc02::2"), segmentsLeft: 0))
        #expect(SegmentRoutingHeader.kernelReceive(r) == .parameterProblem(offset: 3))   // the kernel's own End does not
        var b = r; b[3] = 2
        #expect(SegmentRoutingHeader.endReceive(b) == .parameterProblem(offset: 3))
    }
}
