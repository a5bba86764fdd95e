import SRv6Paths
import LinuxSystem
import SubflowSteering


/// Generates SRH byte strings, valid and broken in every way the kernel checks:
/// truncations, wrong hdr ext len, segments left / last entry out of range,
/// routing types other than 4, Pad1 / PadN / HMAC-shaped / unknown TLVs,
/// trailing bytes, and plain random bytes.
package enum SRHCorpus {
    package static func address<R: RandomNumberGenerator>(_ r: inout R) -> IPv6Address {
        IPv6Address(high: 0xfc00_0000_0000_0000 | (r.next() >> 16), low: r.next())
    }

    /// A well-formed SRH built through the public API, optionally with TLVs.
    package static func wellFormed<R: RandomNumberGenerator>(_ r: inout R) -> [UInt8] {
        let n = Int.random(in: 1...(Bool.random(using: &r) ? 4 : 20), using: &r)
        let path = (0..<n).map { _ in address(&r) }
        var tlvs: [SRHTLV] = []
        for _ in 0..<Int.random(in: 0...2, using: &r) {
            switch Int.random(in: 0..<4, using: &r) {
            case 0: tlvs.append(.pad1)
            case 1: tlvs.append(.padding(Int.random(in: 2...7, using: &r)))
            case 2: tlvs.append(.unknown(type: UInt8.random(in: 6...255, using: &r),
                                         value: (0..<Int.random(in: 0...20, using: &r)).map { _ in UInt8.random(in: 0...255, using: &r) }))
            default: tlvs.append(.unknown(type: 1, value: [UInt8](repeating: 0, count: Int.random(in: 0...6, using: &r))))
            }
        }
        // The unchecked initialiser: a Pad1 among the TLVs may give a header Linux rejects, which is the point.
        var srh = SegmentRoutingHeader(nextHeader: UInt8.random(in: 0...255, using: &r),
                                       segmentsLeft: UInt8.random(in: 0...UInt8(n - 1), using: &r),
                                       flags: .init(rawValue: UInt8.random(in: 0...255, using: &r)),
                                       tag: UInt16.random(in: 0...0xffff, using: &r),
                                       segments: path, tlvs: SegmentRoutingHeader.padded(tlvs))
        if n <= 14 && Int.random(in: 0..<4, using: &r) == 0 {
            let key = try! SRHHMACKey(keyID: UInt32.random(in: 1...UInt32.max, using: &r), secret: [1, 2, 3],
                                      algorithm: Bool.random(using: &r) ? .sha1 : .sha256)
            srh = try! srh.signed(with: key, source: address(&r))
        }
        return try! srh.encoded()
    }

    /// One mutation of `b`, aimed at one kernel check at a time.
    package static func mutate<R: RandomNumberGenerator>(_ b: [UInt8], _ r: inout R) -> [UInt8] {
        var b = b
        let choice = Int.random(in: 0..<14, using: &r)
        if choice >= 4 && b.count < 8 { b += [UInt8](repeating: 0, count: 8 - b.count) }
        switch choice {
        case 0: // truncate anywhere
            b = Array(b.prefix(Int.random(in: 0...b.count, using: &r)))
        case 1: // truncate to a multiple of 8
            b = Array(b.prefix(8 * Int.random(in: 0...(b.count / 8), using: &r)))
        case 2: // trailing bytes
            b += (0..<Int.random(in: 1...24, using: &r)).map { _ in UInt8.random(in: 0...255, using: &r) }
        case 3: // trailing 8-byte blocks (hdr ext len now too small)
            b += [UInt8](repeating: UInt8.random(in: 0...1, using: &r), count: 8 * Int.random(in: 1...3, using: &r))
        case 4: // wrong hdr ext len
            b[1] = UInt8.random(in: 0...255, using: &r)
        case 5: // hdr ext len off by one either way
            b[1] = b[1] &+ (Bool.random(using: &r) ? 1 : 255)
        case 6: // segments left anywhere
            b[3] = Bool.random(using: &r) ? UInt8.random(in: 0...255, using: &r) : b[4] &+ UInt8.random(in: 0...2, using: &r)
        case 7: // last entry anywhere
            b[4] = Bool.random(using: &r) ? UInt8.random(in: 0...255, using: &r) : b[4] &+ (Bool.random(using: &r) ? 1 : 255)
        case 8: // routing type
            b[2] = [0, 1, 2, 3, 5, 6, 253, 255].randomElement(using: &r)!
        case 9: // PadN(7) + a lone trailing Pad1 (RFC-valid, Linux rejects), or eight Pad1s (Linux: four empty TLVs)
            b += Bool.random(using: &r) ? [4, 5, 0, 0, 0, 0, 0, 0] : [0, 0, 0, 0, 0, 0, 0, 0]
            b[1] = UInt8(truncatingIfNeeded: b.count / 8 - 1)
        case 10: // TLV area with a length byte that overruns or falls short
            if b.count > 8 + 16 * (Int(b[4]) + 1) + 1 {
                let off = 8 + 16 * (Int(b[4]) + 1)
                b[off + 1] = UInt8.random(in: 0...255, using: &r)
            } else {
                b += [4, UInt8.random(in: 0...12, using: &r), 0, 0, 0, 0, 0, 0]
                b[1] = UInt8(truncatingIfNeeded: b.count / 8 - 1)
            }
        case 11: // HMAC-shaped TLV appended (right or wrong length byte)
            var t: [UInt8] = [5, Bool.random(using: &r) ? 38 : UInt8.random(in: 30...45, using: &r), 0, 0, 0, 0, 0, 7]
            t += (0..<32).map { _ in UInt8.random(in: 0...255, using: &r) }
            b += t
            b[1] = UInt8(truncatingIfNeeded: b.count / 8 - 1)
            if Bool.random(using: &r) { b[5] |= 0x08 }
        case 12: // unknown TLVs of random sizes, header length fixed up
            let len = Int.random(in: 0...30, using: &r)
            b += [UInt8.random(in: 6...255, using: &r), UInt8(len)] + [UInt8](repeating: 0xab, count: len)
            while b.count % 8 != 0 { b.append(Bool.random(using: &r) ? 0 : 4) }
            b[1] = UInt8(truncatingIfNeeded: b.count / 8 - 1)
        default: // flip random bytes
            for _ in 0..<Int.random(in: 1...3, using: &r) where !b.isEmpty {
                b[Int.random(in: 0..<b.count, using: &r)] ^= UInt8(1) << UInt8.random(in: 0...7, using: &r)
            }
        }
        return b
    }

    /// Random bytes, of a length that is usually a multiple of 8, with a plausible header.
    package static func random<R: RandomNumberGenerator>(_ r: inout R) -> [UInt8] {
        let len = Bool.random(using: &r) ? 8 * Int.random(in: 1...10, using: &r) : Int.random(in: 0...90, using: &r)
        var b = (0..<len).map { _ in UInt8.random(in: 0...255, using: &r) }
        if len >= 8 && Bool.random(using: &r) {
            b[2] = 4
            b[1] = UInt8(len / 8 - 1)
            b[4] = UInt8.random(in: 0...UInt8(max(0, len / 16)), using: &r)
            b[3] = UInt8.random(in: 0...b[4], using: &r)
        }
        return b
    }

    /// `count` inputs from `seed`: roughly a quarter well-formed, half mutated (1–3 mutations), a quarter random.
    package static func inputs(count: Int, seed: UInt64) -> [[UInt8]] {
        var r = SeededRNG(state: seed)
        return (0..<count).map { i in
            switch i % 4 {
            case 0: return wellFormed(&r)
            case 3: return random(&r)
            default:
                var b = wellFormed(&r)
                for _ in 0..<Int.random(in: 1...3, using: &r) { b = mutate(b, &r) }
                return b
            }
        }
    }
}
