/// A **reduced** SRH (RFC 8754 §4.1.1, used by RFC 9800): the first segment
/// travels only in the IPv6 Destination Address, not in the Segment List, so
/// the header is 16 bytes shorter. Segments Left starts at Last Entry + 1: it
/// still counts the segments to visit after the active one, but the list no
/// longer holds the active one.
///
/// ```swift
/// let r = try ReducedSegmentRoutingHeader(path: [
///     IPv6Address("fc00:0:a:b::")!, IPv6Address("fc00:2::2")!])
/// r.destination          // fc00:0:a:b:: — the IPv6 Destination Address
/// try r.encoded()        // 24 bytes: segments left 1, last entry 0, fc00:2::2
/// ```
///
/// Linux accepts it only where it validates with `seg6_validate_srh(srh, len,
/// true)` (the seg6 lwtunnel's reduced encapsulation modes); the kernel's own
/// SRH processing for a local address drops it unless TLVs make the header
/// long enough (see ``SegmentRoutingHeader/kernelReceive(_:seg6Enabled:)``).
public struct ReducedSegmentRoutingHeader: Hashable, Sendable {
    /// The first segment: the Destination Address of the packet, not on the wire.
    public var destination: IPv6Address
    /// The header as carried, with the wire Segment List (path order, without
    /// ``destination``). Its own Segments Left is kept at 0; the wire carries
    /// ``segmentsLeft``.
    public var header: SegmentRoutingHeader

    /// Segments Left on the wire: Last Entry + 1.
    public var segmentsLeft: Int { header.segments.count }

    /// The whole path, in order: ``destination`` then the wire segments.
    public var path: [IPv6Address] { [destination] + header.segments }

    /// A reduced SRH for `path`.
    /// - Parameters:
    ///   - path: segments in path order, at least two: the first becomes the
    ///     Destination Address, the rest (the final destination last) the Segment List.
    ///   - nextHeader: the protocol that follows (default 59, No Next Header).
    ///   - flags: SRH flags.
    ///   - tag: the Tag field.
    ///   - tlvs: TLVs to carry; padded as ``SegmentRoutingHeader/init(path:segmentsLeft:nextHeader:flags:tag:tlvs:)`` pads.
    /// - Throws: ``SRHError``: `noSegments` for fewer than two segments (one
    ///   segment needs no SRH at all), and what a full SRH of the rest would throw.
    public init(path: [IPv6Address], nextHeader: UInt8 = 59, flags: SegmentRoutingHeader.Flags = [],
                tag: UInt16 = 0, tlvs: [SRHTLV] = []) throws(SRHError) {
        guard path.count >= 2 else {
            throw SRHError(.noSegments, offset: 8,
                           "a reduced SRH needs at least two segments: the first travels in the Destination Address, one segment needs no SRH")
        }
        destination = path[0]
        header = try SegmentRoutingHeader(path: Array(path.dropFirst()), segmentsLeft: 0, nextHeader: nextHeader,
                                          flags: flags, tag: tag, tlvs: tlvs)
    }

    /// The wire form: the full SRH of the wire segments with Segments Left = Last Entry + 1.
    /// - Throws: ``SRHError`` as ``SegmentRoutingHeader/encoded()``.
    public func encoded() throws(SRHError) -> [UInt8] {
        var w = try header.encoded()
        w[3] = UInt8(header.segments.count)
        return w
    }

    /// Decodes the wire form of a reduced SRH that has not been processed yet (Segments Left = Last Entry + 1).
    /// - Parameters:
    ///   - bytes: exactly the SRH.
    ///   - destination: the packet's Destination Address (the first segment).
    /// - Throws: ``SRHError`` when `seg6_validate_srh(…, reduced)` rejects the
    ///   bytes, or `segmentsLeftBeyondLastEntry` at offset 3 when Segments Left is not Last Entry + 1.
    public init(decoding bytes: [UInt8], destination: IPv6Address) throws(SRHError) {
        try SegmentRoutingHeader.validate(bytes, reduced: true)
        guard Int(bytes[3]) == Int(bytes[4]) + 1 else {
            throw SRHError(.segmentsLeftBeyondLastEntry, offset: 3,
                           "segments left \(bytes[3]) with last entry \(bytes[4]): a reduced SRH not yet processed has segments left = last entry + 1 (\(Int(bytes[4]) + 1))")
        }
        var b = bytes
        b[3] = 0
        self.destination = destination
        self.header = try SegmentRoutingHeader(decoding: b)
    }
}

extension SRHError.Kind {
    /// Segments Left beyond Last Entry + 1, which even a reduced SRH forbids
    /// (`seg6_validate_srh(…, true)`: `segments_left > first_segment + 1`).
    public static let segmentsLeftBeyondReducedList = SRHError.Kind(rawValue: "segmentsLeftBeyondReducedList")
}

extension SegmentRoutingHeader {
    /// Checks `bytes` as Linux's `seg6_validate_srh(srh, len, reduced)` (net/ipv6/seg6.c) does,
    /// after the same length rules as ``validate(_:)-(UnsafeRawBufferPointer)``.
    ///
    /// Without `reduced` this is ``validate(_:)-(UnsafeRawBufferPointer)``. With it,
    /// Segments Left may be Last Entry + 1 (the first segment is only in the
    /// Destination Address); the kernel then checks, in this order, the
    /// routing type, the length, `first_segment <= hdrlen / 2 − 1`,
    /// `segments_left <= first_segment + 1` and the TLVs.
    /// - Parameters:
    ///   - bytes: exactly one SRH.
    ///   - reduced: whether a reduced SRH is allowed.
    /// - Throws: ``SRHError`` with the first failing check and its byte offset.
    public static func validate(_ bytes: [UInt8], reduced: Bool) throws(SRHError) {
        guard reduced else { return try validate(bytes) }
        // The checks other than Segments Left do not read it: run them with it at 0.
        var b = bytes
        if b.count > 3 { b[3] = 0 }
        let failed = b.withUnsafeBytes { firstFailedCheck($0) }
        let check = failed & 15
        if failed != 0 && check <= 8 { throw bytes.withUnsafeBytes { validationError(failed, $0) } }
        if Int(bytes[3]) > Int(bytes[4]) + 1 {
            throw SRHError(.segmentsLeftBeyondReducedList, offset: 3,
                           "segments left \(bytes[3]) is beyond last entry \(bytes[4]) + 1, even for a reduced SRH")
        }
        if failed != 0 { throw bytes.withUnsafeBytes { validationError(failed, $0) } }
    }

    /// What Linux's own SRH processing does with an SRH that arrives in a
    /// packet addressed to one of the node's addresses (`ipv6_srh_rcv`,
    /// net/ipv6/exthdrs.c), where no seg6local route or BPF program handles
    /// the SID. It does **not** run `seg6_validate_srh`; it checks only:
    ///
    /// 1. `seg6_enabled` (the minimum of `all` and the arriving interface) — else dropped;
    /// 2. Segments Left 0: the SRH is done, the packet goes to the upper layer
    ///    (or is decapsulated when Next Header is IPv6 or IPv4);
    /// 3. `segments_left >= hdrlen >> 1`: dropped with an ICMPv6 Parameter
    ///    Problem pointing at the Segments Left byte. A reduced SRH (Segments
    ///    Left = Last Entry + 1) meets this unless at least 16 bytes of TLVs follow the list;
    /// 4. else Segments Left − 1 and the Destination Address becomes the 16
    ///    bytes at `8 + 16 × segments_left` — whatever they are, the list or the TLVs.
    ///
    /// (With `CONFIG_IPV6_SEG6_HMAC` the HMAC check comes before 2; this model leaves it out.)
    /// - Parameters:
    ///   - bytes: the SRH as it arrives (at least `(hdr ext len + 1) × 8` bytes).
    ///   - seg6Enabled: whether the arriving interface accepts SRHs.
    public static func kernelReceive(_ bytes: [UInt8], seg6Enabled: Bool = true) -> KernelSRHVerdict {
        guard bytes.count >= 8, bytes.count >= (Int(bytes[1]) + 1) * 8 else { return .truncated }
        guard seg6Enabled else { return .seg6Disabled }
        let sl = Int(bytes[3])
        if sl == 0 { return .deliver }
        if sl >= Int(bytes[1]) >> 1 { return .parameterProblem(offset: 3) }
        let at = 8 + 16 * (sl - 1)
        return .forward(to: IPv6Address(bytes: bytes[at..<(at + 16)]), segmentsLeft: UInt8(sl - 1))
    }
}

/// The outcome of ``SegmentRoutingHeader/kernelReceive(_:seg6Enabled:)``: what
/// Linux's own SRH processing does at a node whose address is the Destination Address.
public enum KernelSRHVerdict: Hashable, Sendable, CustomStringConvertible {
    /// Fewer bytes than Hdr Ext Len says: dropped.
    case truncated
    /// `seg6_enabled` is off: dropped.
    case seg6Disabled
    /// Segments Left is 0: handed to the next header (the transport, or decapsulation).
    case deliver
    /// Dropped with an ICMPv6 Parameter Problem (code 0, erroneous header field)
    /// pointing at this byte of the SRH (add the bytes before the SRH for the packet offset).
    case parameterProblem(offset: Int)
    /// Sent on to this Destination Address with Segments Left decremented to this.
    case forward(to: IPv6Address, segmentsLeft: UInt8)

    public var description: String {
        switch self {
        case .truncated: return "dropped: shorter than hdr ext len"
        case .seg6Disabled: return "dropped: seg6_enabled is 0"
        case .deliver: return "delivered: segments left 0"
        case .parameterProblem(let o): return "dropped: ICMPv6 parameter problem at SRH byte \(o) (segments left >= hdr ext len / 2)"
        case .forward(let a, let sl): return "forwarded to \(a), segments left \(sl)"
        }
    }
}

extension SegmentRoutingHeader {
    /// What an SRv6 End behavior that follows RFC 8986 §4.1 (as seg6local and srte's BPF End
    /// should) does with an SRH — unlike ``kernelReceive(_:seg6Enabled:)`` it allows a reduced
    /// header: Segments Left 0 delivers; Last Entry beyond the header or Segments Left beyond
    /// Last Entry + 1 is a Parameter Problem at byte 3; else Segments Left − 1 and the next
    /// address from the Segment List.
    /// - Parameter bytes: the SRH as it arrives (at least `(hdr ext len + 1) × 8` bytes).
    public static func endReceive(_ bytes: [UInt8]) -> KernelSRHVerdict {
        guard bytes.count >= 8, bytes.count >= (Int(bytes[1]) + 1) * 8 else { return .truncated }
        let sl = Int(bytes[3]), le = Int(bytes[4])
        if sl == 0 { return .deliver }
        if le > Int(bytes[1]) / 2 - 1 || sl > le + 1 { return .parameterProblem(offset: 3) }
        let at = 8 + 16 * (sl - 1)
        return .forward(to: IPv6Address(bytes: bytes[at..<(at + 16)]), segmentsLeft: UInt8(sl - 1))
    }
}

extension CSIDFormat {
    /// What End with NEXT-C-SID (RFC 9800 §4.1.1) does at the node of the active C-SID of
    /// `destination`: the shift when the argument is not zero (the SRH is untouched), else the
    /// SRH processing of ``SegmentRoutingHeader/endReceive(_:)``.
    /// - Parameters:
    ///   - destination: the packet's Destination Address.
    ///   - srh: the SRH as it arrives.
    public func endNextCSID(destination: IPv6Address, srh: [UInt8]) -> KernelSRHVerdict {
        if let next = shifted(destination) { return .forward(to: next, segmentsLeft: srh.count > 3 ? srh[3] : 0) }
        return SegmentRoutingHeader.endReceive(srh)
    }
}
