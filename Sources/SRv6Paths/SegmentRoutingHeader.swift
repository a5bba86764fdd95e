/// An IPv6 Segment Routing Header (RFC 8754), routing type 4.
///
/// The API keeps ``segments`` in **path order**: `segments[0]` is the first
/// segment a packet visits and `segments.last` is the final destination. Only
/// the wire form is reversed (the wire's Segment List[0] is the final
/// destination), and only the encoder and decoder know that.
///
/// ```swift
/// let srh = try SegmentRoutingHeader(path: [
///     IPv6Address("fc00:0:a::1")!, IPv6Address("fc00:2::2")!])
/// srh.segmentsLeft      // 1: the first segment is active
/// let wire = try srh.encoded()   // 40 bytes: 8 + 2 × 16
/// try SegmentRoutingHeader(decoding: wire) == srh   // true
/// ```
///
/// Validity is the Linux kernel's verdict: ``validate(_:)-(UnsafeRawBufferPointer)``
/// ports `seg6_validate_srh` (net/ipv6/seg6.c) check for check, preceded by
/// the length rules of `setsockopt(IPV6_RTHDR)`, so that an SRH srte accepts is
/// one the kernel accepts and vice versa.
public struct SegmentRoutingHeader: Hashable, Sendable {
    /// Routing Type of an SRH (`IPV6_SRCRT_TYPE_4`).
    public static let routingType: UInt8 = 4
    /// The most segments an SRH can carry: Hdr Ext Len = 2·n must fit in a byte.
    public static let maxSegments = 127
    /// The most segments Linux can sign: the HMAC text (22 + 16·n bytes) must stay under 256.
    public static let maxSegmentsWithHMAC = 14
    /// The largest SRH `setsockopt(IPV6_RTHDR)` takes (8 · 255 bytes).
    public static let maxLength = 2040

    /// Next Header: the protocol after the SRH (59, No Next Header, unless set).
    public var nextHeader: UInt8
    /// Segments Left: index (on the wire) of the active segment; path index
    /// `segments.count - 1 - segmentsLeft`.
    public var segmentsLeft: UInt8
    /// Flags (8 bits). RFC 8754 assigns none; Linux uses 0x08 for "HMAC present".
    public var flags: Flags
    /// Tag (the seed API's `reserved`, Linux `tag`).
    public var tag: UInt16
    /// Segment list in path order (first segment first, final destination last).
    public var segments: [IPv6Address]
    /// TLVs in wire order, padding included.
    public var tlvs: [SRHTLV]

    /// SRH flags. Linux names four bits (include/uapi/linux/seg6.h).
    public struct Flags: OptionSet, Hashable, Sendable {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// `SR6_FLAG1_PROTECTED` (0x40).
        public static let protected = Flags(rawValue: 1 << 6)
        /// `SR6_FLAG1_OAM` (0x20).
        public static let oam = Flags(rawValue: 1 << 5)
        /// `SR6_FLAG1_ALERT` (0x10).
        public static let alert = Flags(rawValue: 1 << 4)
        /// `SR6_FLAG1_HMAC` (0x08): Linux looks for an HMAC TLV only when set.
        public static let hmac = Flags(rawValue: 1 << 3)
    }

    /// Last Entry (the seed API's `first_segment`): wire index of the last
    /// element of the Segment List, `segments.count - 1`.
    public var lastEntry: Int { segments.count - 1 }

    /// Bytes of TLVs (padding included).
    @inlinable
    public var tlvByteCount: Int { tlvs.reduce(0) { $0 + $1.encodedCount } }

    /// Length of the encoded header in bytes.
    @inlinable
    public var encodedCount: Int { 8 + 16 * segments.count + tlvByteCount }

    /// Hdr Ext Len: the length in 8-octet units, not counting the first 8 octets.
    public var hdrExtLen: Int { encodedCount / 8 - 1 }

    /// The segment a packet carrying this SRH is currently sent to (path order
    /// index `segments.count - 1 - segmentsLeft`), if in range.
    public var activeSegment: IPv6Address? {
        let i = segments.count - 1 - Int(segmentsLeft)
        return segments.indices.contains(i) ? segments[i] : nil
    }

    /// The HMAC TLV, when it sits where Linux looks for it (the last 40 bytes).
    public var hmacTLV: SRHHMACTLV? {
        if case .hmac(let h)? = tlvs.last, h.hmac.count == 32 { return h }
        return nil
    }

    /// Creates an SRH exactly as given, without padding or checks; ``encoded()``
    /// checks. Prefer ``init(path:segmentsLeft:nextHeader:flags:tag:tlvs:)``.
    @inlinable
    public init(nextHeader: UInt8, segmentsLeft: UInt8, flags: Flags, tag: UInt16,
                segments: [IPv6Address], tlvs: [SRHTLV]) {
        self.nextHeader = nextHeader
        self.segmentsLeft = segmentsLeft
        self.flags = flags
        self.tag = tag
        self.segments = segments
        self.tlvs = tlvs
    }

    /// Builds an SRH from a path-ordered segment list.
    ///
    /// TLVs are padded to an 8-byte boundary in a form Linux accepts (PadN, never
    /// a lone trailing Pad1).
    ///
    /// - Parameters:
    ///   - path: the segments in the order they are visited; the last one is
    ///     the final destination.
    ///   - segmentsLeft: the active segment's wire index; `path.count - 1`
    ///     (the first segment is active) when `nil`.
    ///   - nextHeader: the protocol that follows (default 59, No Next Header).
    ///   - flags: SRH flags.
    ///   - tag: the Tag field.
    ///   - tlvs: TLVs to carry; padding is appended as needed.
    /// - Throws: ``SRHError`` with kind `noSegments`, `tooManySegments`,
    ///   `segmentsLeftOutOfRange` or `invalidTLV`.
    @inlinable
    public init(path: [IPv6Address], segmentsLeft: Int? = nil, nextHeader: UInt8 = 59,
                flags: Flags = [], tag: UInt16 = 0, tlvs: [SRHTLV] = []) throws(SRHError) {
        guard !path.isEmpty else { throw SRHError(.noSegments, offset: 8, "an SRH needs at least one segment") }
        guard path.count <= SegmentRoutingHeader.maxSegments else {
            throw SRHError(.tooManySegments, offset: 8,
                           "\(path.count) segments: an SRH holds at most \(SegmentRoutingHeader.maxSegments)")
        }
        let sl = segmentsLeft ?? path.count - 1
        guard (0..<path.count).contains(sl) else {
            throw SRHError(.segmentsLeftOutOfRange, offset: 3,
                           "segments left \(sl) is beyond the list (0...\(path.count - 1) for \(path.count) segments)")
        }
        self.init(nextHeader: nextHeader, segmentsLeft: UInt8(sl), flags: flags, tag: tag,
                  segments: path, tlvs: tlvs.isEmpty ? tlvs : SegmentRoutingHeader.padded(tlvs))
        if tlvs.isEmpty { return }              // 8 + 16·n <= 2040 for n <= 127
        let len = encodedCount
        guard len <= SegmentRoutingHeader.maxLength else {
            throw SRHError(.tooLong, offset: SegmentRoutingHeader.maxLength,
                           "\(len) bytes: an SRH is at most \(SegmentRoutingHeader.maxLength) bytes (Hdr Ext Len is 8 bits)")
        }
        // Linux walks every TLV as type+length, so a Pad1 (or raw bytes) given by
        // the caller can make a header the kernel rejects: check the result.
        if self.tlvs.contains(where: { if case .pad1 = $0 { return true }; if case .rawBytes = $0 { return true }; return false }) {
            do throws(SRHError) { try SegmentRoutingHeader.validate(try encoded()) } catch {
                throw SRHError(error.kind, offset: error.offset,
                               "Linux would reject these TLVs (it reads Pad1 as a type/length pair): \(error.message)")
            }
        }
    }

    /// `tlvs` followed by the padding that brings them to a multiple of 8 bytes,
    /// placed before a trailing HMAC TLV (Linux reads the HMAC from the last 40 bytes).
    ///
    /// One byte short is padded with PadN(4) + PadN(5), not a lone Pad1 (Linux
    /// rejects that) nor a PadN longer than 7 bytes (RFC 8754 pads at most 7).
    @inlinable
    public static func padded(_ tlvs: [SRHTLV]) -> [SRHTLV] {
        var body = tlvs
        var trailingHMAC: SRHTLV? = nil
        if case .hmac? = body.last { trailingHMAC = body.removeLast() }
        let used = body.reduce(0) { $0 + $1.encodedCount } + (trailingHMAC?.encodedCount ?? 0)
        switch (8 - used % 8) % 8 {
        case 0: break
        case 1: body += [.padding(4), .padding(5)]
        case let n: body.append(.padding(n))
        }
        if let h = trailingHMAC { body.append(h) }
        return body
    }
}

// MARK: - Encoding

extension SegmentRoutingHeader {
    /// The wire form.
    /// - Throws: ``SRHError`` when the header cannot be encoded as Linux accepts
    ///   it (no segments, too many, Segments Left beyond Last Entry, TLVs not
    ///   8-byte aligned, too long).
    public func encoded() throws(SRHError) -> [UInt8] {
        let n = encodedCount
        var err: SRHError? = nil
        let out = [UInt8](unsafeUninitializedCapacity: n) { buf, count in
            do throws(SRHError) { count = try encode(into: UnsafeMutableRawBufferPointer(buf)) } catch { err = error; count = 0 }
        }
        if let err { throw err }
        return out
    }

    /// Writes the wire form into `buffer` and returns the number of bytes written.
    ///
    /// Makes no allocation.
    /// - Complexity: O(n) in the encoded length.
    @inlinable
    public func encode(into buffer: UnsafeMutableRawBufferPointer) throws(SRHError) -> Int {
        let tlvBytes = tlvs.isEmpty ? 0 : tlvByteCount
        try checkEncodable(tlvBytes: tlvBytes)
        let n = segments.count
        let len = 8 + 16 * n + tlvBytes
        guard buffer.count >= len else {
            throw SRHError(.truncated, offset: buffer.count, "buffer of \(buffer.count) bytes is too small for \(len)")
        }
        segments.withUnsafeBufferPointer { segs in
            SegmentRoutingHeader.writeFixedPart(segs, length: len, nextHeader: nextHeader, segmentsLeft: segmentsLeft,
                                                flags: flags, tag: tag, into: buffer)
        }
        if tlvBytes > 0 {
            var off = 8 + 16 * n
            for tlv in tlvs { off = tlv.write(into: buffer, at: off) }
        }
        return len
    }

    /// Writes an SRH without TLVs for `path` straight into `buffer`, without
    /// building a ``SegmentRoutingHeader`` value: the fastest way to produce
    /// many headers (e.g. to fill a steering map).
    ///
    /// - Returns: the number of bytes written, `8 + 16 * path.count`.
    /// - Throws: ``SRHError`` for an empty or too long path, Segments Left
    ///   beyond it, or a buffer too small.
    /// - Complexity: O(n); no allocation.
    @inlinable
    public static func encode(path: [IPv6Address], segmentsLeft: Int? = nil, nextHeader: UInt8 = 59,
                              flags: Flags = [], tag: UInt16 = 0,
                              into buffer: UnsafeMutableRawBufferPointer) throws(SRHError) -> Int {
        let n = path.count
        guard n > 0 else { throw SRHError(.noSegments, offset: 8, "an SRH needs at least one segment") }
        guard n <= maxSegments else {
            throw SRHError(.tooManySegments, offset: 8, "\(n) segments: an SRH holds at most \(maxSegments)")
        }
        let sl = segmentsLeft ?? n - 1
        guard sl >= 0 && sl < n else {
            throw SRHError(.segmentsLeftOutOfRange, offset: 3, "segments left \(sl) is beyond the list (0...\(n - 1))")
        }
        let len = 8 + 16 * n
        guard buffer.count >= len else {
            throw SRHError(.truncated, offset: buffer.count, "buffer of \(buffer.count) bytes is too small for \(len)")
        }
        path.withUnsafeBufferPointer { segs in
            writeFixedPart(segs, length: len, nextHeader: nextHeader, segmentsLeft: UInt8(sl), flags: flags, tag: tag, into: buffer)
        }
        return len
    }

    /// The 8-byte fixed part and the Segment List (reversed) of an SRH of `length` bytes.
    @inlinable @inline(__always)
    static func writeFixedPart(_ segs: UnsafeBufferPointer<IPv6Address>, length: Int, nextHeader: UInt8,
                               segmentsLeft: UInt8, flags: Flags, tag: UInt16,
                               into buffer: UnsafeMutableRawBufferPointer) {
        let n = segs.count
        buffer[0] = nextHeader
        buffer[1] = UInt8(truncatingIfNeeded: length / 8 - 1)   // Hdr Ext Len, 8-octet units after the first 8
        buffer[2] = routingType
        buffer[3] = segmentsLeft
        buffer[4] = UInt8(truncatingIfNeeded: n - 1)            // Last Entry (Linux first_segment)
        buffer[5] = flags.rawValue
        buffer[6] = UInt8(truncatingIfNeeded: tag >> 8)
        buffer[7] = UInt8(truncatingIfNeeded: tag)
        var off = 8
        var i = n - 1                                           // wire Segment List[0] = final destination
        while i >= 0 {
            buffer.storeBytes(of: segs[i].wireHigh, toByteOffset: off, as: UInt64.self)
            buffer.storeBytes(of: segs[i].wireLow, toByteOffset: off + 8, as: UInt64.self)
            off += 16
            i -= 1
        }
    }

    @inlinable
    func checkEncodable(tlvBytes t: Int) throws(SRHError) {
        let n = segments.count
        guard n > 0 else { throw SRHError(.noSegments, offset: 8, "an SRH needs at least one segment") }
        guard n <= SegmentRoutingHeader.maxSegments else {
            throw SRHError(.tooManySegments, offset: 8, "\(n) segments: an SRH holds at most \(SegmentRoutingHeader.maxSegments)")
        }
        guard Int(segmentsLeft) < n else {
            throw SRHError(.segmentsLeftBeyondLastEntry, offset: 3,
                           "segments left \(segmentsLeft) is beyond last entry \(n - 1)")
        }
        if t > 0 {
            var off = 8 + 16 * n
            for tlv in tlvs {
                if let problem = tlv.encodingProblem { throw SRHError(.invalidTLV, offset: off, problem) }
                off += tlv.encodedCount
            }
            guard t % 8 == 0 else {
                throw SRHError(.lengthNotMultipleOf8, offset: 8 + 16 * n + t,
                               "TLVs total \(t) bytes, not a multiple of 8: pad them (SegmentRoutingHeader.padded)")
            }
            guard 8 + 16 * n + t <= SegmentRoutingHeader.maxLength else {
                throw SRHError(.tooLong, offset: SegmentRoutingHeader.maxLength,
                               "\(8 + 16 * n + t) bytes: an SRH is at most \(SegmentRoutingHeader.maxLength) bytes")
            }
        }
    }
}

// MARK: - Validation (the kernel's verdict)

extension SegmentRoutingHeader {
    /// Checks `bytes` as Linux checks an SRH handed to `setsockopt(IPV6_RTHDR)`:
    /// the option length rules, then `seg6_validate_srh(srh, len, false)` check
    /// for check, in the kernel's order.
    ///
    /// - Throws: ``SRHError`` with the first failing check and the byte offset it concerns.
    /// - Complexity: O(number of TLVs); no allocation unless it throws.
    @inlinable
    public static func validate(_ bytes: UnsafeRawBufferPointer) throws(SRHError) {
        let len = bytes.count
        // net/ipv6/ipv6_sockglue.c, ipv6_set_opt_hdr()
        guard len >= 2 else { throw SRHError(.truncated, offset: len, "\(len) bytes: an SRH needs at least 8") }
        guard len & 7 == 0 else {
            throw SRHError(.lengthNotMultipleOf8, offset: len, "\(len) bytes is not a multiple of 8")
        }
        guard len <= maxLength else { throw SRHError(.tooLong, offset: maxLength, "\(len) bytes: at most \(maxLength)") }
        let hdrlen = Int(bytes[1])
        guard (hdrlen + 1) << 3 <= len else {
            throw SRHError(.headerLengthBeyondData, offset: 1,
                           "hdr ext len \(hdrlen) means \((hdrlen + 1) * 8) bytes, only \(len) given")
        }
        // net/ipv6/seg6.c, seg6_validate_srh()
        guard bytes[2] == routingType else {
            throw SRHError(.unsupportedRoutingType, offset: 2, "routing type \(bytes[2]), not 4 (SRH)")
        }
        guard (hdrlen + 1) << 3 == len else {
            throw SRHError(.lengthMismatch, offset: (hdrlen + 1) << 3,
                           "\(len - (hdrlen + 1) * 8) bytes after the \((hdrlen + 1) * 8) that hdr ext len \(hdrlen) covers")
        }
        let segmentsLeft = Int(bytes[3])
        let lastEntry = Int(bytes[4])
        guard segmentsLeft <= lastEntry else {
            throw SRHError(.segmentsLeftBeyondLastEntry, offset: 3,
                           "segments left \(segmentsLeft) is beyond last entry \(lastEntry)")
        }
        guard lastEntry <= hdrlen / 2 - 1 else {
            throw SRHError(.lastEntryBeyondHeader, offset: 4,
                           "last entry \(lastEntry) needs \(lastEntry + 1) segments; hdr ext len \(hdrlen) has room for \(max(0, hdrlen / 2))")
        }
        var offset = 8 + (lastEntry + 1) << 4
        var trailing = len - offset           // >= 0 given the check above
        while trailing > 0 {
            guard trailing >= 2 else {
                throw SRHError(.tlvTruncated, offset: offset,
                               "\(trailing) byte left where a TLV needs type and length (a lone trailing Pad1 is rejected by Linux)")
            }
            let tlvLen = 2 + Int(bytes[offset + 1])
            trailing -= tlvLen
            guard trailing >= 0 else {
                throw SRHError(.tlvOverrun, offset: offset,
                               "TLV type \(bytes[offset]) of \(tlvLen) bytes runs \(-trailing) bytes past the end of the header")
            }
            offset += tlvLen
        }
    }

    /// Checks `bytes` as Linux does; see ``validate(_:)-(UnsafeRawBufferPointer)``.
    public static func validate(_ bytes: [UInt8]) throws(SRHError) {
        var e: SRHError? = nil
        bytes.withUnsafeBytes { p in
            do throws(SRHError) { try validate(p) } catch { e = error }
        }
        if let e { throw e }
    }
}

// MARK: - Decoding

extension SegmentRoutingHeader {
    /// Decodes and validates the wire form: exactly the bytes of one SRH.
    ///
    /// - Throws: ``SRHError`` when Linux would reject the bytes (see
    ///   ``validate(_:)-(UnsafeRawBufferPointer)``).
    public init(decoding bytes: [UInt8]) throws(SRHError) {
        self.init(nextHeader: 0, segmentsLeft: 0, flags: [], tag: 0, segments: [], tlvs: [])
        var e: SRHError? = nil
        bytes.withUnsafeBytes { p in
            do throws(SRHError) { try self.decode(from: p) } catch { e = error }
        }
        if let e { throw e }
    }

    /// Replaces this header with the one in `bytes`, reusing the storage of
    /// ``segments`` and ``tlvs``: no allocation once they have the capacity.
    ///
    /// On failure `self` is unchanged.
    /// - Complexity: O(n) in the length of `bytes`.
    @inlinable
    public mutating func decode(from bytes: UnsafeRawBufferPointer) throws(SRHError) {
        try SegmentRoutingHeader.validate(bytes)
        let n = Int(bytes[4]) + 1
        nextHeader = bytes[0]
        segmentsLeft = bytes[3]
        flags = Flags(rawValue: bytes[5])
        tag = UInt16(bytes[6]) << 8 | UInt16(bytes[7])
        // Path order: the wire list read backwards. Overwrite in place when the
        // count matches (no allocation), else fill a new array.
        if segments.count == n {
            var off = 8 + 16 * (n - 1)
            for i in 0..<n {
                segments[i] = IPv6Address(wireHigh: bytes.loadUnaligned(fromByteOffset: off, as: UInt64.self),
                                          wireLow: bytes.loadUnaligned(fromByteOffset: off + 8, as: UInt64.self))
                off -= 16
            }
        } else {
            segments = [IPv6Address](unsafeUninitializedCapacity: n) { buf, count in
                var off = 8 + 16 * (n - 1)
                for i in 0..<n {
                    buf.initializeElement(at: i, to: IPv6Address(
                        wireHigh: bytes.loadUnaligned(fromByteOffset: off, as: UInt64.self),
                        wireLow: bytes.loadUnaligned(fromByteOffset: off + 8, as: UInt64.self)))
                    off -= 16
                }
                count = n
            }
        }
        if !tlvs.isEmpty { tlvs.removeAll(keepingCapacity: true) }
        let tlvStart = 8 + 16 * n
        if tlvStart < bytes.count {
            SegmentRoutingHeader.parseTLVs(UnsafeRawBufferPointer(rebasing: bytes[tlvStart...]), into: &tlvs)
        }
    }

    /// Splits a TLV area as RFC 8754 does (Pad1 is one byte). Whatever does not
    /// split cleanly is kept as one ``SRHTLV/rawBytes(_:)`` so the bytes survive.
    @usableFromInline
    static func parseTLVs(_ area: UnsafeRawBufferPointer, into tlvs: inout [SRHTLV]) {
        var i = 0
        let start = tlvs.count
        while i < area.count {
            let type = area[i]
            if type == 0 { tlvs.append(.pad1); i += 1; continue }
            guard i + 2 <= area.count, i + 2 + Int(area[i + 1]) <= area.count else {
                tlvs.removeSubrange(start...)
                tlvs.append(.rawBytes(Array(area)))
                return
            }
            let len = Int(area[i + 1])
            let value = Array(area[(i + 2)..<(i + 2 + len)])
            switch type {
            case SRHTLV.padNType:
                tlvs.append(.padN(payload: value))
            case SRHTLV.hmacType where len >= 6:
                tlvs.append(.hmac(SRHHMACTLV(
                    destinationFlag: value[0] & 0x80 != 0,
                    reserved: UInt16(value[0] & 0x7f) << 8 | UInt16(value[1]),
                    keyID: UInt32(value[2]) << 24 | UInt32(value[3]) << 16 | UInt32(value[4]) << 8 | UInt32(value[5]),
                    hmac: Array(value[6...]))))
            default:
                tlvs.append(.unknown(type: type, value: value))
            }
            i += 2 + len
        }
    }

    /// What RFC 8754 asks for that this header does not do and Linux does not
    /// enforce. Empty for headers srte builds.
    public var rfc8754Warnings: [SRHWarning] {
        var w: [SRHWarning] = []
        if !flags.subtracting(.hmac).isEmpty {
            w.append(SRHWarning(offset: 5, "flags 0x\(Hex.encode([flags.rawValue])): RFC 8754 assigns no flags; they should be 0 on transmission (Linux uses 0x08 for HMAC)"))
        }
        if flags.contains(.hmac) && hmacTLV == nil {
            w.append(SRHWarning(offset: 5, "flag 0x08 (HMAC) set but no 40-byte HMAC TLV ends the header: Linux will find no HMAC"))
        }
        if !flags.contains(.hmac) && tlvs.contains(where: { if case .hmac = $0 { return true }; return false }) {
            w.append(SRHWarning(offset: 5, "HMAC TLV present but flag 0x08 not set: Linux ignores the HMAC"))
        }
        var off = 8 + 16 * segments.count
        var previousWasPad1 = false
        for tlv in tlvs {
            switch tlv {
            case .pad1:
                if previousWasPad1 {
                    w.append(SRHWarning(offset: off, "consecutive Pad1 TLVs: RFC 8754 §2.1.1.1 uses Pad1 for a single byte and PadN for more"))
                }
            case .padN(let p):
                if p.contains(where: { $0 != 0 }) {
                    w.append(SRHWarning(offset: off, "PadN payload not zero (RFC 8754 §2.1.1.2)"))
                }
                if p.count > 5 {
                    w.append(SRHWarning(offset: off, "PadN of \(2 + p.count) bytes: RFC 8754 pads at most 7 bytes with one PadN"))
                }
            case .rawBytes:
                w.append(SRHWarning(offset: off, "TLV area does not parse as RFC 8754 TLVs (Linux reads Pad1 as type+length)"))
            default:
                break
            }
            if case .pad1 = tlv { previousWasPad1 = true } else { previousWasPad1 = false }
            off += tlv.encodedCount
        }
        return w
    }
}
