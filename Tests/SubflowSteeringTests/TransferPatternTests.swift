import Testing
@testable import SubflowSteering
import LinuxSystem
import SRv6Paths
import TestSupport

/// The verifiable sender pattern: any split of the stream verifies; any loss, duplication,
/// reordering or corruption is caught at its offset.
struct TransferPatternTests {
    /// The stream from `offset`, `count` bytes long.
    func stream(_ offset: UInt64, _ count: Int) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: count)
        b.withUnsafeMutableBytes { TransferPattern.fill($0, offset: offset) }
        return b
    }

    func verify(_ pieces: [[UInt8]]) -> TransferPattern.Verifier {
        var v = TransferPattern.Verifier()
        for p in pieces { p.withUnsafeBytes { v.check($0) } }
        return v
    }

    @Test func fillMatchesTheBytewiseDefinitionAtAnyAlignment() {
        for offset in [0, 1, 3, 7, 8, 9, 1_000_003] as [UInt64] {
            let b = stream(offset, 61)
            #expect(b == (0..<61).map { TransferPattern.byte(at: offset + UInt64($0)) })
        }
        // Word i is i ^ key, little-endian.
        let w = stream(8 * 5, 8)
        #expect(w == withUnsafeBytes(of: (UInt64(5) ^ TransferPattern.key).littleEndian, Array.init))
    }

    @Test(arguments: [1, 7, 8, 13, 4096, 65_537])
    func anySplitVerifies(piece: Int) {
        let total = 200_000
        var pieces: [[UInt8]] = []
        var o = 0
        while o < total { let n = min(piece, total - o); pieces.append(stream(UInt64(o), n)); o += n }
        let v = verify(pieces)
        #expect(v.firstMismatch == nil)
        #expect(v.offset == UInt64(total) && v.verifiedBytes == UInt64(total))
    }

    @Test func aLostByteIsFoundWhereItWasLost() {
        var s = stream(0, 10_000)
        s.remove(at: 5_000)
        #expect(verify([s]).firstMismatch == 5_000)
    }

    @Test func aDuplicatedSegmentIsFound() {
        // A whole 1,428-byte segment delivered twice (a multiple of no period).
        let s = stream(0, 10_000)
        let dup = Array(s[0..<4284]) + Array(s[2856..<10_000])
        #expect(verify([dup]).firstMismatch == 4284)
    }

    @Test func swappedSegmentsAreFound() {
        let s = stream(0, 16_384)
        let swapped = Array(s[0..<4096]) + Array(s[8192..<12_288]) + Array(s[4096..<8192]) + Array(s[12_288...])
        // Words 1024 and 512 share their low byte: the first byte that differs is the second.
        #expect(verify([swapped]).firstMismatch == 4097)
    }

    @Test func aFlippedBitIsFoundAtItsByte() {
        var s = stream(0, 9_999)
        s[7_777] ^= 0x10
        let v = verify([Array(s[0..<3]), Array(s[3...])])
        #expect(v.firstMismatch == 7_777)
        #expect(v.verifiedBytes == 7_777)
        #expect(v.offset == 9_999)
    }

    @Test func zerosDoNotPass() {
        #expect(verify([[UInt8](repeating: 0, count: 64)]).firstMismatch != nil)
    }
}

@Suite struct ReservedPortsTests {
    @Test func coverage() {
        #expect(MultipathConnection.reservedPorts("40000-40999", cover: 40000...40999))
        #expect(MultipathConnection.reservedPorts("5201,39000-41000", cover: 40000...40999))
        #expect(MultipathConnection.reservedPorts("40000-40499,40500-40999", cover: 40000...40999))
        #expect(!MultipathConnection.reservedPorts("", cover: 40000...40999))
        #expect(!MultipathConnection.reservedPorts("40000-40998", cover: 40000...40999))
    }
}
