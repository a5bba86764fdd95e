import Foundation
import Testing
import CSRH
import SRv6Paths
@testable import SubflowSteering
import LinuxSystem
import TestSupport

/// The legacy out-of-tree structs, byte for byte: the Swift codec against
/// reference encoders written with the C struct fields (csrh.c), so the C
/// compiler's layout (incl. bitfields and padding) is the oracle.
@Suite struct LegacyCodecTests {
    static let l6 = SocketEndpoint(IPv6Address("fc00:1::1")!, port: 41234)
    static let r6 = SocketEndpoint(IPv6Address("fc00:1::2")!, port: 5000)
    static let l4 = SocketEndpoint(parsing: "10.0.0.1:40000")!
    static let r4 = SocketEndpoint(parsing: "10.0.0.2:80")!

    @Test func upstreamKernelHasNoLegacyOptions() {
        // This machine runs upstream Linux: getsockopt(IPPROTO_TCP, 66) → ENOPROTOOPT.
        #expect(LegacyMultipathConnection.kernelHasLegacyAPI() == false)
        #expect(throws: SubflowError.self) { _ = try LegacyMultipathConnection(fileDescriptor: -1) }
    }

    @Test func statusBitfieldsMatchC() {
        for bits in 0..<32 {
            let s = LegacySubflowStatus(id: UInt8(bits * 7 + 1), slaveSocket: bits & 1 != 0, fullyEstablished: bits & 2 != 0,
                                        attached: bits & 4 != 0, lowPriority: bits & 8 != 0, preEstablished: bits & 16 != 0)
            var c = [UInt8](repeating: 0xee, count: 8)
            let n = csrh_legacy_fill_sub_status(&c, 8, s.id, Int32(bits & 1), Int32(bits & 2), Int32(bits & 4), Int32(bits & 8), Int32(bits & 16))
            #expect(n == 2)
            #expect(Array(c.prefix(2)) == LegacyCodec.encodeStatus(s), "bits \(bits)")
            let reply = [UInt8(1), 0] + LegacyCodec.encodeStatus(s)
            #expect((try? LegacyCodec.decodeSubIDs(reply)) == [s])
        }
        #expect(MemoryLayout<csrh_mptcp_sub_status>.size == LegacyCodec.statusSize)
    }

    @Test(arguments: [(l6, r6), (l4, r4)])
    func tupleMatchesC(_ pair: (SocketEndpoint, SocketEndpoint)) throws {
        let (l, r) = pair
        let srh: UInt64 = 0x0000_7fff_1234_5678
        let swift = LegacyCodec.encodeTuple(id: 9, backup: true, interfaceIndex: 3, srhPointer: srh, local: l, remote: r)
        var c = [UInt8](repeating: 0xee, count: 128)
        let n: Int32
        if l.isIPv4 {
            var a = sockaddr_in(), b = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET); a.sin_port = l.port.bigEndian; a.sin_addr.s_addr = UInt32(bigEndian: 0x0a00_0001)
            b.sin_family = sa_family_t(AF_INET); b.sin_port = r.port.bigEndian; b.sin_addr.s_addr = UInt32(bigEndian: 0x0a00_0002)
            n = withUnsafePointer(to: &a) { pa in withUnsafePointer(to: &b) { pb in
                pa.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in pb.withMemoryRebound(to: sockaddr.self, capacity: 1) { sb in
                    csrh_legacy_fill_sub_tuple(&c, 128, 9, 1, 3, srh, sa, sb, 16) } } } }
        } else {
            var a = l.sockaddr, b = r.sockaddr
            n = withUnsafePointer(to: &a) { pa in withUnsafePointer(to: &b) { pb in
                pa.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in pb.withMemoryRebound(to: sockaddr.self, capacity: 1) { sb in
                    csrh_legacy_fill_sub_tuple(&c, 128, 9, 1, 3, srh, sa, sb, 28) } } } }
        }
        #expect(Int(n) == swift.count)
        #expect(Array(c.prefix(Int(n))) == swift)
        #expect(swift.count == (l.isIPv4 ? 48 : 72))
        let d = try LegacyCodec.decodeTuple(swift)
        #expect(d.id == 9 && d.backup && d.interfaceIndex == 3 && d.local == l && d.remote == r)
        // The flexible array is last: the fixed part never overlaps the addresses.
        #expect(MemoryLayout<csrh_mptcp_sub_tuple>.offset(of: \.if_idx) == 4)
        #expect(MemoryLayout<csrh_mptcp_sub_tuple>.offset(of: \.ipv6_srh) == 8)
        #expect(MemoryLayout<csrh_mptcp_sub_tuple>.size == LegacyCodec.tupleHeaderSize)
    }

    @Test func closeAndSockoptStructsMatchC() {
        var c = [UInt8](repeating: 0xee, count: 64)
        #expect(csrh_legacy_fill_close_sub_id(&c, 64, 5, -1) == 8)
        #expect(Array(c.prefix(8)) == LegacyCodec.encodeClose(id: 5, how: -1))
        c = [UInt8](repeating: 0xee, count: 64)
        #expect(csrh_legacy_fill_sub_getsockopt(&c, 64, 4, 6, 13, 0x1111_2222_3333_4444, 0x5555_6666_7777_8888) == 32)
        #expect(Array(c.prefix(32)) == LegacyCodec.encodeSubGetsockopt(id: 4, level: 6, name: 13, optval: 0x1111_2222_3333_4444, optlen: 0x5555_6666_7777_8888))
        c = [UInt8](repeating: 0xee, count: 64)
        #expect(csrh_legacy_fill_sub_setsockopt(&c, 64, 4, 1, 36, 0x1111_2222_3333_4444, 4) == 32)
        #expect(Array(c.prefix(32)) == LegacyCodec.encodeSubSetsockopt(id: 4, level: 1, name: 36, optval: 0x1111_2222_3333_4444, optlen: 4))
    }

    @Test func shortRepliesAreErrors() {
        #expect(throws: SubflowError.self) { try LegacyCodec.decodeSubIDs([]) }
        #expect(throws: SubflowError.self) { try LegacyCodec.decodeSubIDs([3, 0, 1, 2]) }
        #expect(throws: SubflowError.self) { try LegacyCodec.decodeTuple([1, 0, 0]) }
    }

    /// The backend against a message-level fake of the legacy kernel, which
    /// reads requests with the C structs' offsets.
    @Test func backendSpeaksTheLegacyOptions() throws {
        final class FakeLegacyKernel: @unchecked Sendable {
            var calls: [(Int32, Int32)] = []
            var closed: [(UInt8, Int32)] = []
            var opened: [[UInt8]] = []
            func handle(_ level: Int32, _ name: Int32, _ p: UnsafeMutableRawPointer, _ len: inout UInt32) -> Int32 {
                calls.append((level, name))
                guard level == IPPROTO_TCP else { return ENOPROTOOPT }
                switch name {
                case 66:
                    let reply: [UInt8] = [2, 0] + LegacyCodec.encodeStatus(.init(id: 0, slaveSocket: false, fullyEstablished: true, attached: true, lowPriority: false, preEstablished: false))
                        + LegacyCodec.encodeStatus(.init(id: 3, slaveSocket: true, fullyEstablished: true, attached: true, lowPriority: true, preEstablished: false))
                    p.copyMemory(from: reply, byteCount: reply.count); len = UInt32(reply.count); return 0
                case 68:
                    let id = p.load(as: UInt8.self)
                    guard id == 0 || id == 3 else { return EINVAL }
                    let t = LegacyCodec.encodeTuple(id: id, backup: id == 3, interfaceIndex: 2, srhPointer: 0,
                                                    local: SocketEndpoint(LegacyCodecTests.l6.address, port: id == 3 ? 41234 : 40000), remote: LegacyCodecTests.r6)
                    p.copyMemory(from: t, byteCount: t.count); len = UInt32(t.count); return 0
                case 69:
                    opened.append(Array(UnsafeRawBufferPointer(start: p, count: Int(len))))
                    p.storeBytes(of: UInt8(7), as: UInt8.self); return 0
                case 67:
                    let off = MemoryLayout<csrh_mptcp_close_sub_id>.offset(of: \.how)!
                    closed.append((p.load(as: UInt8.self), p.load(fromByteOffset: off, as: Int32.self))); return 0
                default: return ENOPROTOOPT
                }
            }
        }
        let k = FakeLegacyKernel()
        let c = LegacyMultipathConnection(fileDescriptor: -1) { k.handle($0, $1, $2, &$3) }
        let list = try c.subflows()
        #expect(list.map(\.id) == [0, 3])
        #expect(list[1].backup && list[1].state == .up && list[1].local.port == 41234)
        let ids = try c.openSubflows([SubflowTuple(local: Self.l6, remote: Self.r6, backup: true, interfaceIndex: 2)], timeout: .seconds(1), confirm: .zero)
        #expect(ids == [7])
        #expect(k.opened.first == LegacyCodec.encodeTuple(id: 0, backup: true, interfaceIndex: 2, srhPointer: 0, local: Self.l6, remote: Self.r6))
        try c.closeSubflow(id: 3, how: .reset, timeout: .seconds(1))
        #expect(k.closed.first?.0 == 3 && k.closed.first?.1 == -1)
        let bad = #expect(throws: SubflowError.self) { _ = try c.tuple(id: 9) }
        #expect(bad?.kind == .invalidID)
        #expect(k.calls.allSatisfy { $0.0 == IPPROTO_TCP })
    }
}
