import Testing
@testable import SRv6Paths
import TestSupport

private func a(_ s: String) -> IPv6Address { try! IPv6Address(parsing: s) }

@Suite struct SegmentRoutingHeaderTests {
    let path = [a("fc00:0:a::1"), a("fc00:0:b::1"), a("fc00:2::2")]

    @Test func encodesInWireOrder() throws {
        let srh = try SegmentRoutingHeader(path: path, nextHeader: 41, tag: 0x1234)
        let w = try srh.encoded()
        #expect(w.count == 8 + 3 * 16)
        #expect(Array(w[0..<8]) == [41, 6, 4, 2, 2, 0, 0x12, 0x34])
        #expect(Array(w[8..<24]) == a("fc00:2::2").bytes)      // Segment List[0]: final destination
        #expect(Array(w[40..<56]) == a("fc00:0:a::1").bytes)   // Segment List[2]: first segment
        #expect(srh.activeSegment == a("fc00:0:a::1"))
        #expect(try SegmentRoutingHeader(decoding: w) == srh)
    }

    @Test func segmentsLeftSelectsTheActiveSegment() throws {
        let srh = try SegmentRoutingHeader(path: path, segmentsLeft: 0)
        #expect(srh.activeSegment == a("fc00:2::2"))
        #expect(throws: SRHError.self) { try SegmentRoutingHeader(path: path, segmentsLeft: 3) }
        #expect(throws: SRHError.self) { try SegmentRoutingHeader(path: []) }
        let many = (0..<128).map { IPv6Address(high: 0xfc00 << 48, low: UInt64($0)) }
        #expect(throws: SRHError.self) { try SegmentRoutingHeader(path: many) }
        #expect(try SegmentRoutingHeader(path: Array(many.prefix(127))).encodedCount == 2040)
    }

    /// Every amount of TLV bytes pads to a form Linux accepts: never a lone
    /// trailing Pad1, never more than 7 bytes in one padding TLV.
    @Test(arguments: 0...16)
    func padsEveryRemainder(tlvValueBytes: Int) throws {
        let tlv = SRHTLV.unknown(type: 7, value: [UInt8](repeating: 0xee, count: tlvValueBytes))
        let srh = try SegmentRoutingHeader(path: path, tlvs: [tlv])
        let w = try srh.encoded()
        #expect(w.count % 8 == 0)
        try SegmentRoutingHeader.validate(w)
        #expect(srh.rfc8754Warnings.isEmpty, "\(srh.rfc8754Warnings)")
        for t in srh.tlvs where t.isPadding { #expect(t.encodedCount <= 7 && t.encodedCount >= 2) }
        #expect(try SegmentRoutingHeader(decoding: w) == srh)
    }

    /// One test per rejection branch, with the kernel check's byte offset.
    @Test func rejectionsCarryKindAndOffset() throws {
        let good = try SegmentRoutingHeader(path: path).encoded()   // 56 bytes, hdrlen 6
        func kind(_ b: [UInt8]) -> (SRHError.Kind, Int)? {
            do { try SegmentRoutingHeader.validate(b); return nil } catch { return (error.kind, error.offset) }
        }
        #expect(kind(good) == nil)
        #expect(kind([4]) ?? (.noSegments, 0) == (.truncated, 1))
        #expect(kind(Array(good.prefix(50))) ?? (.noSegments, 0) == (.lengthNotMultipleOf8, 50))
        #expect(kind([UInt8](repeating: 0, count: 2048)) ?? (.noSegments, 0) == (.tooLong, 2040))
        #expect(kind(Array(good.prefix(48))) ?? (.noSegments, 0) == (.headerLengthBeyondData, 1))
        var b = good; b[2] = 0
        #expect(kind(b) ?? (.noSegments, 0) == (.unsupportedRoutingType, 2))
        #expect(kind(good + [0, 0, 0, 0, 0, 0, 0, 0]) ?? (.noSegments, 0) == (.lengthMismatch, 56))
        b = good; b[3] = 3
        #expect(kind(b) ?? (.noSegments, 0) == (.segmentsLeftBeyondLastEntry, 3))
        b = good; b[3] = 0; b[4] = 3
        #expect(kind(b) ?? (.noSegments, 0) == (.lastEntryBeyondHeader, 4))
        // Last entry 1 of a 3-segment header: 16 bytes are left as TLVs, walked by length bytes.
        b = good; b[3] = 1; b[4] = 1
        b[40] = 4; b[41] = 14                                    // PadN of 16 bytes: valid
        #expect(kind(b) == nil)
        b[41] = 15                                               // one byte too long
        #expect(kind(b) ?? (.noSegments, 0) == (.tlvOverrun, 40))
        b[41] = 13                                               // leaves a lone byte
        #expect(kind(b) ?? (.noSegments, 0) == (.tlvTruncated, 55))
    }

    /// Linux walks Pad1 as type+length: eight Pad1 bytes are four empty TLVs
    /// (accepted), PadN(7) + Pad1 leaves a lone byte (rejected).
    @Test func pad1FollowsTheKernel() throws {
        let base = try SegmentRoutingHeader(path: [a("fc00::1")]).encoded()
        var eight = base + [UInt8](repeating: 0, count: 8); eight[1] = 3
        let srh = try SegmentRoutingHeader(decoding: eight)
        #expect(srh.tlvs == [SRHTLV](repeating: .pad1, count: 8))
        #expect(try srh.encoded() == eight)
        #expect(srh.rfc8754Warnings.contains { $0.message.contains("consecutive Pad1") })
        var lone = base + [4, 5, 0, 0, 0, 0, 0, 0]; lone[1] = 3
        #expect(throws: SRHError.self) { try SegmentRoutingHeader(decoding: lone) }
    }

    /// Bytes Linux accepts but RFC 8754 cannot split survive a round trip.
    @Test func unsplittableTLVBytesRoundTrip() throws {
        // Linux: type 0 len 5 (7 bytes) + type 1 len 0 (... ) -> walk: [0,5,x,x,x,x,x] [1,0]? make it 8 bytes:
        // 0x00 0x04 a b c d | 0x07 0x00 : Linux sees a 6-byte TLV then a 2-byte TLV; RFC sees Pad1, then type 4 len 0x61...
        var b = try SegmentRoutingHeader(path: [a("fc00::1")]).encoded() + [0, 4, 0x61, 0x62, 0x63, 0x64, 7, 0]
        b[1] = 3
        let srh = try SegmentRoutingHeader(decoding: b)
        #expect(srh.tlvs == [.rawBytes([0, 4, 0x61, 0x62, 0x63, 0x64, 7, 0])])
        #expect(try srh.encoded() == b)
        #expect(!srh.rfc8754Warnings.isEmpty)
    }

    @Test func tlvsRoundTrip() throws {
        let tlvs: [SRHTLV] = [.padN(payload: [0, 0]), .unknown(type: 9, value: [1, 2, 3, 4, 5]),
                              .unknown(type: 200, value: []), .hmac(SRHHMACTLV(destinationFlag: true, keyID: 5, hmac: [UInt8](repeating: 7, count: 8)))]
        let srh = try SegmentRoutingHeader(path: path, tlvs: tlvs)
        let back = try SegmentRoutingHeader(decoding: try srh.encoded())
        #expect(back == srh)
        #expect(back.tlvs.filter { !$0.isPadding } == tlvs.filter { !$0.isPadding })
        // Padding goes before a trailing HMAC TLV, which Linux reads from the last 40 bytes.
        if case .hmac? = back.tlvs.last {} else { Issue.record("HMAC TLV is not last: \(back.tlvs)") }
    }

    /// A Pad1 in the middle is read by Linux as a type/length pair: the builder refuses it.
    @Test func builderRefusesPad1ThatLinuxMisreads() {
        #expect(throws: SRHError.self) {
            try SegmentRoutingHeader(path: path, tlvs: [.pad1, .unknown(type: 9, value: [1, 2, 3, 4, 5])])
        }
    }

    @Test func decodeReusesStorage() throws {
        var srh = try SegmentRoutingHeader(path: path)
        let other = try SegmentRoutingHeader(path: [a("fc00::9")], segmentsLeft: 0, tag: 9)
        let w = try other.encoded()
        try w.withUnsafeBytes { try srh.decode(from: $0) }
        #expect(srh == other)
        // A failed decode leaves the header as it was.
        let bad: [UInt8] = [0, 0, 4, 0, 0, 0, 0, 0]
        #expect(throws: SRHError.self) { try bad.withUnsafeBytes { try srh.decode(from: $0) } }
        #expect(srh == other)
    }

    /// The scalar fields share one stored word: setting one leaves the others, and
    /// each lands in its wire byte.
    @Test func scalarFieldsAreIndependent() throws {
        var srh = try SegmentRoutingHeader(path: path)
        srh.nextHeader = 0xab
        srh.tag = 0xcdef
        srh.flags = [.oam, .hmac]
        srh.segmentsLeft = 1
        #expect(srh.nextHeader == 0xab && srh.tag == 0xcdef && srh.flags == [.oam, .hmac] && srh.segmentsLeft == 1)
        #expect(Array(try srh.encoded()[0..<8]) == [0xab, 6, 4, 1, 2, 0x28, 0xcd, 0xef])
        srh.tag = 0
        #expect(srh.nextHeader == 0xab && srh.flags == [.oam, .hmac] && srh.segmentsLeft == 1)
    }

    /// TLVs are held as wire bytes: equal bytes are equal headers, whatever TLV
    /// values made them, and they read back in the RFC 8754 split.
    @Test func tlvsCompareByWireBytes() throws {
        let a1 = try SegmentRoutingHeader(path: path, tlvs: [.unknown(type: 4, value: [0, 0, 0, 0, 0, 0])])
        let a2 = try SegmentRoutingHeader(path: path, tlvs: [.padding(8)])
        #expect(a1 == a2 && a1.hashValue == a2.hashValue)
        #expect(a1.tlvs == [.padding(8)])
        var b = try SegmentRoutingHeader(path: path)
        b.tlvs = [.rawBytes([])]                              // no bytes: no TLVs
        #expect(b == (try SegmentRoutingHeader(path: path)) && b.tlvByteCount == 0)
    }

    /// A TLV whose value does not fit its length byte cannot be stored as bytes:
    /// the builder refuses it, the unchecked initialiser keeps it for encode() to refuse.
    @Test func unencodableTLVIsRefused() throws {
        let long = SRHTLV.unknown(type: 9, value: [UInt8](repeating: 1, count: 300))
        #expect { try SegmentRoutingHeader(path: path, tlvs: [.padding(4), long]) } throws: {
            ($0 as? SRHError)?.kind == .invalidTLV && ($0 as? SRHError)?.offset == 8 + 48 + 4
        }
        var srh = SegmentRoutingHeader(nextHeader: 59, segmentsLeft: 0, flags: [], tag: 0, segments: path,
                                       tlvs: [.padN(payload: [UInt8](repeating: 0, count: 256))])
        #expect { try srh.encoded() } throws: {
            ($0 as? SRHError)?.kind == .invalidTLV && ($0 as? SRHError)?.offset == 56
        }
        srh.tlvs = [.padding(8)]                              // replacing the TLVs clears the problem
        #expect(try SegmentRoutingHeader(decoding: try srh.encoded()) == srh)
    }

    /// Decoding into a held value reuses its storage for TLV bytes too, and
    /// moves between headers with and without TLVs.
    @Test func decodeReusesStorageWithTLVs() throws {
        let one = try SegmentRoutingHeader(path: path, tag: 1, tlvs: [.unknown(type: 9, value: [1, 2, 3, 4, 5, 6])])
        let two = try SegmentRoutingHeader(path: path.reversed(), tag: 2, tlvs: [.unknown(type: 7, value: [9, 9, 9, 9, 9, 9])])
        let none = try SegmentRoutingHeader(path: [a("fc00::9")])
        var srh = none
        for expected in [one, two, none, two, one] {
            try expected.encoded().withUnsafeBytes { try srh.decode(from: $0) }
            #expect(srh == expected)
            #expect(try srh.encoded() == expected.encoded())
        }
        // A copy taken before decoding keeps its bytes (copy on write).
        let copy = srh
        try two.encoded().withUnsafeBytes { try srh.decode(from: $0) }
        #expect(copy == one && srh == two)
    }

    @Test func encodeRefusesWhatLinuxWouldReject() throws {
        var srh = try SegmentRoutingHeader(path: path)
        srh.segmentsLeft = 3
        #expect(throws: SRHError.self) { try srh.encoded() }
        srh.segmentsLeft = 0
        srh.tlvs = [.pad1]                                   // not 8-byte aligned
        #expect(throws: SRHError.self) { try srh.encoded() }
        srh.tlvs = []
        srh.segments = []
        #expect(throws: SRHError.self) { try srh.encoded() }
    }
}

@Suite struct SRHHMACTests {
    let path = [a("fc00:0:a::1"), a("fc00:2::2")]
    let source = a("fc00:1::1")

    /// The value was computed independently with Python's hmac module over the
    /// text layout of net/ipv6/seg6_hmac.c.
    @Test func matchesIndependentComputation() throws {
        let key = try SRHHMACKey(keyID: 7, secret: Array("s3cret".utf8), algorithm: .sha256)
        let srh = try SegmentRoutingHeader(path: path).signed(with: key, source: source)
        #expect(srh.flags.contains(.hmac))
        #expect(srh.hmacTLV?.keyID == 7)
        #expect(Hex.encode(srh.hmacTLV!.hmac) == "c65ef1acb5a3e388c308543c19c1a776b97510f0e61060b8aaf69e6755532318")
        let w = try srh.encoded()
        #expect(w.count == 8 + 32 + 40)
        #expect(Array(w.suffix(40).prefix(8)) == [5, 38, 0, 0, 0, 0, 0, 7])
        #expect(srh.verifyHMAC(with: key, source: source))
        #expect(!srh.verifyHMAC(with: key, source: a("fc00:1::2")))
        #expect(!srh.verifyHMAC(with: try SRHHMACKey(keyID: 7, secret: Array("other".utf8)), source: source))
        #expect(srh.rfc8754Warnings.isEmpty)
    }

    @Test func hmacTextLayout() throws {
        var srh = try SegmentRoutingHeader(path: path)
        srh.flags = .hmac
        let text = srh.hmacText(keyID: 0x0102_0304, source: source)
        #expect(text.count == 16 + 1 + 1 + 4 + 32)
        #expect(Array(text[0..<16]) == source.bytes)
        #expect(Array(text[16..<22]) == [1, 0x08, 1, 2, 3, 4])
        #expect(Array(text[22..<38]) == a("fc00:2::2").bytes)   // wire order: final destination first
    }

    @Test func sha1IsZeroPadded() throws {
        let key = try SRHHMACKey(keyID: 1, secret: [1, 2, 3], algorithm: .sha1)
        let srh = try SegmentRoutingHeader(path: path).signed(with: key, source: source)
        let mac = srh.hmacTLV!.hmac
        #expect(mac.count == 32)
        #expect(mac.suffix(12).allSatisfy { $0 == 0 })
        let expected = HMAC<SHA1>.authenticate(srh.hmacText(keyID: 1, source: source), key: [1, 2, 3])
        #expect(Array(mac.prefix(20)) == expected)
    }

    @Test func signingKeepsOtherTLVsAndPadsBeforeTheHMAC() throws {
        let key = try SRHHMACKey(keyID: 3, secret: [9])
        let srh = try SegmentRoutingHeader(path: path, tlvs: [.unknown(type: 9, value: [1, 2, 3])]).signed(with: key, source: source)
        #expect(srh.tlvs.first == .unknown(type: 9, value: [1, 2, 3]))
        guard case .hmac? = srh.tlvs.last else { Issue.record("HMAC TLV is not last"); return }
        let w = try srh.encoded()
        try SegmentRoutingHeader.validate(w)
        // Re-signing replaces, not appends.
        let again = try srh.signed(with: key, source: source)
        #expect(again == srh)
    }

    @Test func keyAndSizeLimits() throws {
        #expect(throws: SRHError.self) { try SRHHMACKey(keyID: 0, secret: [1]) }
        #expect(throws: SRHError.self) { try SRHHMACKey(keyID: 1, secret: []) }
        #expect(throws: SRHError.self) { try SRHHMACKey(keyID: 1, secret: [UInt8](repeating: 1, count: 65)) }
        _ = try SRHHMACKey(keyID: 1, secret: [UInt8](repeating: 1, count: 64))
        let key = try SRHHMACKey(keyID: 1, secret: [1])
        let p14 = (0..<14).map { IPv6Address(high: 0xfc00 << 48, low: UInt64($0)) }
        _ = try SegmentRoutingHeader(path: p14).signed(with: key, source: source)
        #expect(throws: SRHError.self) {
            try SegmentRoutingHeader(path: p14 + [a("fc00::99")]).signed(with: key, source: source)
        }
    }
}

@Suite struct HexTests {
    @Test func decodesCommonPastes() throws {
        #expect(try Hex.decode("0x3b04") == [0x3b, 0x04])
        #expect(try Hex.decode("3b:04 00-01\n") == [0x3b, 0x04, 0x00, 0x01])
        #expect(Hex.encode([0, 0xab, 0xff]) == "00abff")
    }

    @Test(arguments: [("3b0", 2), ("3bz0", 2), ("3 b", 0), ("é", 0)])
    func rejectsWithPosition(text: String, offset: Int) {
        do { _ = try Hex.decode(text); Issue.record("accepted \(text)") } catch {
            #expect(error.kind == .invalidHex)
            #expect(error.offset == offset, "\(text): \(error)")
        }
    }
}
