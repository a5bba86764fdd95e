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
///
/// A value is three words: the caller's segment array (kept as given, not
/// copied or reversed), the scalar fields packed in one word, and the TLV area
/// as one byte array in wire form (none at all when there are no TLVs).
/// ``tlvs`` is computed from those bytes, and `==` and hashing compare TLVs by
/// their wire bytes.
public struct SegmentRoutingHeader: Hashable, Sendable {
    /// Routing Type of an SRH (`IPV6_SRCRT_TYPE_4`).
    public static let routingType: UInt8 = 4
    /// The most segments an SRH can carry: Hdr Ext Len = 2·n must fit in a byte.
    public static let maxSegments = 127
    /// The most segments Linux can sign: the HMAC text (22 + 16·n bytes) must stay under 256.
    public static let maxSegmentsWithHMAC = 14
    /// The largest SRH `setsockopt(IPV6_RTHDR)` takes (8 · 255 bytes).
    public static let maxLength = 2040

    /// Segment list in path order (first segment first, final destination last).
    public var segments: [IPv6Address]

    /// The first 8 wire bytes as a little-endian word (wire byte k is bits
    /// 8k..8k+7 on every host): Next Header (0), Segments Left (3), Flags (5)
    /// and Tag (6–7, big-endian), so that the encoder stores it with one write
    /// and the decoder loads it with one read.
    ///
    /// Bytes 1, 2 and 4 (Hdr Ext Len, Routing Type, Last Entry) follow from
    /// ``segments`` and the TLVs and are filled in by the encoder. Here they
    /// are zero, unless the TLVs hold one that cannot be encoded (a value
    /// longer than its length byte allows): then byte 2 is its
    /// ``SRHTLV/problemCode`` and bytes 1 (low) and 4 (high) its offset in the
    /// TLV area, and ``encode(into:)`` throws `invalidTLV`.
    @usableFromInline var header: UInt64
    /// The TLV area in wire form, padding included; `nil` without TLVs (never
    /// empty, so that `==` holds), which a header without TLVs neither
    /// allocates nor releases.
    @usableFromInline var tlvStorage: [UInt8]?

    /// The TLV area in wire form (empty without TLVs).
    var tlvArea: [UInt8] { tlvStorage ?? [] }

    /// Next Header: the protocol after the SRH (59, No Next Header, unless set).
    @inlinable
    public var nextHeader: UInt8 {
        get { UInt8(truncatingIfNeeded: header) }
        set { header = header & ~0xff | UInt64(newValue) }
    }
    /// Segments Left: index (on the wire) of the active segment; path index
    /// `segments.count - 1 - segmentsLeft`.
    @inlinable
    public var segmentsLeft: UInt8 {
        get { UInt8(truncatingIfNeeded: header >> 24) }
        set { header = header & ~(0xff << 24) | UInt64(newValue) << 24 }
    }
    /// Flags (8 bits). RFC 8754 assigns none; Linux uses 0x08 for "HMAC present".
    @inlinable
    public var flags: Flags {
        get { Flags(rawValue: UInt8(truncatingIfNeeded: header >> 40)) }
        set { header = header & ~(0xff << 40) | UInt64(newValue.rawValue) << 40 }
    }
    /// Tag (draft-hesmans-mptcp-socket-03's `reserved`, Linux `tag`).
    @inlinable
    public var tag: UInt16 {
        get { UInt16(truncatingIfNeeded: header >> 48).byteSwapped }     // wire bytes 6–7, big-endian
        set { header = header & 0x0000_ffff_ffff_ffff | UInt64(newValue.byteSwapped) << 48 }
    }
    /// TLVs in wire order, padding included.
    ///
    /// Stored as their wire bytes: reading splits those bytes as RFC 8754 does
    /// (Pad1 is one byte; an area that does not split is one
    /// ``SRHTLV/rawBytes(_:)``), setting encodes the TLVs as given, without
    /// padding. So a TLV list reads back in its canonical form, e.g.
    /// `.unknown(type: 4, …)` as `.padN`.
    /// - Complexity: O(n) in the TLV bytes; a read allocates per TLV, a write the TLV area
    ///   once: code on a fast path should not touch it.
    public var tlvs: [SRHTLV] {
        get {
            var out: [SRHTLV] = []
            tlvStorage?.withUnsafeBytes { SegmentRoutingHeader.parseTLVs($0, into: &out) }
            return out
        }
        set {
            header &= ~SegmentRoutingHeader.derivedFieldsMask
            let (area, problem) = SegmentRoutingHeader.wireTLVs(newValue, padded: false)
            tlvStorage = area
            header |= problem
        }
    }

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

    /// Last Entry (draft-hesmans-mptcp-socket-03's `first_segment`): wire index of the last
    /// element of the Segment List, `segments.count - 1`.
    @inlinable
    public var lastEntry: Int { segments.count - 1 }

    /// Bytes of TLVs (padding included).
    @inlinable
    public var tlvByteCount: Int { tlvStorage?.count ?? 0 }

    /// Length of the encoded header in bytes.
    @inlinable
    public var encodedCount: Int { 8 + 16 * segments.count + tlvByteCount }

    /// Hdr Ext Len: the length in 8-octet units, not counting the first 8 octets.
    @inlinable
    public var hdrExtLen: Int { encodedCount / 8 - 1 }

    /// The segment a packet carrying this SRH is currently sent to (path order
    /// index `segments.count - 1 - segmentsLeft`), if in range.
    public var activeSegment: IPv6Address? {
        let i = segments.count - 1 - Int(segmentsLeft)
        return segments.indices.contains(i) ? segments[i] : nil
    }

    /// The HMAC TLV, when it sits where Linux looks for it (the last 40 bytes)
    /// and is the last TLV of the RFC 8754 walk.
    public var hmacTLV: SRHHMACTLV? {
        if case .hmac(let h)? = tlvs.last, h.hmac.count == 32 { return h }   // 2 + 6 + 32 = the last 40 bytes
        return nil
    }

    /// Bytes 1, 2 and 4 of ``header``: derived from the segments and TLVs when encoding.
    @inlinable
    static var derivedFieldsMask: UInt64 { 0x0000_00ff_00ff_ff00 }

    /// The ``header`` word of these fields.
    @inlinable @inline(__always)
    static func headerWord(nextHeader: UInt8, segmentsLeft: UInt8, flags: Flags, tag: UInt16) -> UInt64 {
        UInt64(nextHeader) | UInt64(segmentsLeft) << 24 | UInt64(flags.rawValue) << 40 | UInt64(tag.byteSwapped) << 48
    }

    /// A header of these parts, as they are.
    @inlinable @inline(__always)
    init(header: UInt64, segments: [IPv6Address], tlvStorage: [UInt8]?) {
        self.header = header
        self.segments = segments
        self.tlvStorage = tlvStorage
    }

    /// Creates an SRH exactly as given, without padding or checks; ``encoded()``
    /// checks. Prefer ``init(path:segmentsLeft:nextHeader:flags:tag:tlvs:)``.
    @inlinable
    public init(nextHeader: UInt8, segmentsLeft: UInt8, flags: Flags, tag: UInt16,
                segments: [IPv6Address], tlvs: [SRHTLV]) {
        self.init(header: SegmentRoutingHeader.headerWord(nextHeader: nextHeader, segmentsLeft: segmentsLeft,
                                                          flags: flags, tag: tag),
                  segments: segments, tlvStorage: nil)
        if !tlvs.isEmpty {
            let (area, problem) = SegmentRoutingHeader.wireTLVs(tlvs, padded: false)
            tlvStorage = area
            header |= problem
        }
    }

    /// Builds an SRH from a path-ordered segment list.
    ///
    /// TLVs are padded to an 8-byte boundary in a form Linux accepts (PadN, never
    /// a lone trailing Pad1). `path` is kept as given (no copy).
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
    ///   `segmentsLeftOutOfRange`, `invalidTLV` or `tooLong`.
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
        let word = SegmentRoutingHeader.headerWord(nextHeader: nextHeader, segmentsLeft: UInt8(sl), flags: flags, tag: tag)
        if tlvs.isEmpty {                       // 8 + 16·n <= 2040 for n <= 127
            self.init(header: word, segments: path, tlvStorage: nil)
        } else {
            self.init(header: word, segments: path,
                      tlvStorage: try SegmentRoutingHeader.checkedTLVArea(tlvs, header: word, segments: path))
        }
    }

    /// The TLV area of `tlvs` padded (see ``padded(_:)``), checked for a header
    /// with these segments: the part of
    /// ``init(path:segmentsLeft:nextHeader:flags:tag:tlvs:)`` that only headers
    /// with TLVs need.
    @usableFromInline
    static func checkedTLVArea(_ tlvs: [SRHTLV], header: UInt64, segments: [IPv6Address]) throws(SRHError) -> [UInt8]? {
        let (area, problem) = SegmentRoutingHeader.wireTLVs(tlvs, padded: true)
        let srh = SegmentRoutingHeader(header: header | problem, segments: segments, tlvStorage: area)
        if problem != 0 { throw srh.tlvProblem() }
        let len = srh.encodedCount
        guard len <= SegmentRoutingHeader.maxLength else {
            throw SRHError(.tooLong, offset: SegmentRoutingHeader.maxLength,
                           "\(len) bytes: an SRH is at most \(SegmentRoutingHeader.maxLength) bytes (Hdr Ext Len is 8 bits)")
        }
        // Linux walks every TLV as type+length, so a Pad1 (or raw bytes) given by
        // the caller can make a header the kernel rejects: check the result.
        if tlvs.contains(where: { if case .pad1 = $0 { return true }; if case .rawBytes = $0 { return true }; return false }) {
            do throws(SRHError) { try SegmentRoutingHeader.validate(try srh.encoded()) } catch {
                throw SRHError(error.kind, offset: error.offset,
                               "Linux would reject these TLVs (it reads Pad1 as a type/length pair): \(error.message)")
            }
        }
        return area
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

    /// The wire bytes of `tlvs` — padded as ``padded(_:)`` pads when `padded`
    /// is true — in one allocation (`nil` for none), and the ``header`` bits
    /// that record the first TLV that cannot be encoded (0 when every one can).
    @usableFromInline
    static func wireTLVs(_ tlvs: [SRHTLV], padded: Bool) -> (area: [UInt8]?, problem: UInt64) {
        let trailingHMAC: Bool
        if padded, case .hmac? = tlvs.last { trailingHMAC = true } else { trailingHMAC = false }
        var used = 0
        for t in tlvs { used += t.encodedCount }
        let padding = padded ? (8 - used % 8) % 8 : 0
        let padBytes = padding == 1 ? 9 : padding          // one byte short: PadN(4) + PadN(5)
        let total = used + padBytes
        if total == 0 { return (nil, 0) }
        // Body, padding, trailing HMAC: the first TLV that cannot be encoded, in that order.
        let bodyEnd = trailingHMAC ? tlvs.count - 1 : tlvs.count
        var problem: UInt64 = 0
        var off = 0
        for (i, t) in tlvs.enumerated() {
            let code = t.problemCode
            if code != 0 {
                if i == bodyEnd { off += padBytes }          // the trailing HMAC, after the padding
                let o = UInt64(min(off, 0xffff))
                problem = UInt64(code) << 16 | (o & 0xff) << 8 | (o >> 8) << 32
                break
            }
            off += t.encodedCount
        }
        let area = [UInt8](unsafeUninitializedCapacity: total) { buf, count in
            let out = UnsafeMutableRawBufferPointer(buf)
            var off = 0
            for i in 0..<bodyEnd { off = tlvs[i].write(into: out, at: off) }
            switch padding {
            case 0: break
            case 1: off = SRHTLV.writePadN(4, into: out, at: off); off = SRHTLV.writePadN(5, into: out, at: off)
            default: off = SRHTLV.writePadN(padding, into: out, at: off)
            }
            if trailingHMAC { off = tlvs[bodyEnd].write(into: out, at: off) }
            count = total
        }
        return (area, problem)
    }

    /// The `invalidTLV` error for the problem recorded in ``header``.
    @usableFromInline
    func tlvProblem() -> SRHError {
        let code = UInt8(truncatingIfNeeded: header >> 16)
        let off = Int(UInt8(truncatingIfNeeded: header >> 8)) | Int(UInt8(truncatingIfNeeded: header >> 32)) << 8
        let type = off < tlvArea.count ? tlvArea[off] : 0
        return SRHError(.invalidTLV, offset: 8 + 16 * segments.count + off,
                        SRHTLV.problemMessage(code: code, type: type))
    }
}

// MARK: - Encoding

extension SegmentRoutingHeader {
    /// The wire form.
    /// - Throws: ``SRHError`` when the header cannot be encoded as Linux accepts
    ///   it (no segments, too many, Segments Left beyond Last Entry, a TLV that
    ///   does not fit its length byte, TLVs not 8-byte aligned, too long).
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
    /// - Throws: as ``encoded()``, and `truncated` when `buffer` is too small.
    /// - Complexity: O(n) in the encoded length.
    @inlinable @inline(__always)
    public func encode(into buffer: UnsafeMutableRawBufferPointer) throws(SRHError) -> Int {
        let n = segments.count
        let t = tlvStorage?.count ?? 0
        let len = 8 &+ 16 &* n &+ t
        // One test for all that can be wrong (t is 0 or >= 8 when len fits); the cold path says what.
        guard n > 0, n <= SegmentRoutingHeader.maxSegments, Int(segmentsLeft) < n,
              header & SegmentRoutingHeader.derivedFieldsMask == 0, t & 7 == 0,
              len <= SegmentRoutingHeader.maxLength, buffer.count >= len else {
            throw encodingError(bufferCount: buffer.count)
        }
        segments.withUnsafeBufferPointer { segs in
            SegmentRoutingHeader.writeFixedPart(segs, header: header, length: len, into: buffer)
        }
        tlvStorage?.withUnsafeBytes { area in
            (buffer.baseAddress.unsafelyUnwrapped + (len &- t)).copyMemory(from: area.baseAddress.unsafelyUnwrapped, byteCount: t)
        }
        return len
    }

    /// Why ``encode(into:)`` cannot write this header into a buffer of `bufferCount` bytes.
    @usableFromInline @inline(never)
    func encodingError(bufferCount: Int) -> SRHError {
        do throws(SRHError) { try checkEncodable() } catch { return error }
        let len = encodedCount
        return SRHError(.truncated, offset: bufferCount, "buffer of \(bufferCount) bytes is too small for \(len)")
    }

    /// Writes an SRH without TLVs for `path` straight into `buffer`, without
    /// building a ``SegmentRoutingHeader`` value (what C code writing into
    /// caller memory does).
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
        let word = headerWord(nextHeader: nextHeader, segmentsLeft: UInt8(sl), flags: flags, tag: tag)
        path.withUnsafeBufferPointer { segs in
            writeFixedPart(segs, header: word, length: len, into: buffer)
        }
        return len
    }

    /// The 8-byte fixed part (``header`` with Hdr Ext Len, Routing Type and
    /// Last Entry filled in, one store) and the Segment List, reversed: the
    /// wire's Segment List[0] is the final destination.
    /// - Precondition: `buffer` holds at least `8 + 16 * segs.count` bytes.
    @inlinable @inline(__always)
    static func writeFixedPart(_ segs: UnsafeBufferPointer<IPv6Address>, header: UInt64, length: Int,
                               into buffer: UnsafeMutableRawBufferPointer) {
        let n = segs.count
        let word = header & ~derivedFieldsMask
            | UInt64(truncatingIfNeeded: length / 8 - 1) << 8          // Hdr Ext Len, 8-octet units after the first 8
            | UInt64(routingType) << 16
            | UInt64(truncatingIfNeeded: n - 1) << 32                   // Last Entry (Linux first_segment)
        buffer.baseAddress.unsafelyUnwrapped.storeBytes(of: word.littleEndian, as: UInt64.self)
        var dst = buffer.baseAddress.unsafelyUnwrapped + 8
        var i = n
        while i > 0 {
            i &-= 1
            dst.storeBytes(of: segs[i].wireHigh, as: UInt64.self)
            dst.storeBytes(of: segs[i].wireLow, toByteOffset: 8, as: UInt64.self)
            dst += 16
        }
    }

    /// Throws the first reason Linux would reject this header's wire form.
    func checkEncodable() throws(SRHError) {
        let n = segments.count
        let t = tlvArea.count
        guard n > 0 else { throw SRHError(.noSegments, offset: 8, "an SRH needs at least one segment") }
        guard n <= SegmentRoutingHeader.maxSegments else {
            throw SRHError(.tooManySegments, offset: 8, "\(n) segments: an SRH holds at most \(SegmentRoutingHeader.maxSegments)")
        }
        guard Int(segmentsLeft) < n else {
            throw SRHError(.segmentsLeftBeyondLastEntry, offset: 3,
                           "segments left \(segmentsLeft) is beyond last entry \(n - 1)")
        }
        if t > 0 {
            if header & SegmentRoutingHeader.derivedFieldsMask != 0 { throw tlvProblem() }
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
    @inlinable @inline(__always)
    public static func validate(_ bytes: UnsafeRawBufferPointer) throws(SRHError) {
        let failed = firstFailedCheck(bytes)
        if failed != 0 { throw validationError(failed, bytes) }
    }

    /// The kernel's checks, without building an error: 0 when `bytes` passes
    /// them all, else `check | offset << 4`, the number of the first failing
    /// check (1–10, in the kernel's order) and the byte offset it concerns.
    /// ``validationError(_:_:)`` turns that into the ``SRHError``.
    @inlinable @inline(__always)
    static func firstFailedCheck(_ bytes: UnsafeRawBufferPointer) -> Int {
        let len = bytes.count
        // net/ipv6/ipv6_sockglue.c, ipv6_set_opt_hdr()
        if len < 2 { return 1 | len << 4 }                          // optlen < 2
        if len & 7 != 0 { return 2 | len << 4 }                     // optlen & 7
        if len > maxLength { return 3 | maxLength << 4 }            // optlen > 8 * 255
        let hdrlen = Int(bytes[1])
        if (hdrlen + 1) << 3 > len { return 4 | 1 << 4 }            // (hdrlen + 1) * 8 > optlen
        // net/ipv6/seg6.c, seg6_validate_srh()
        if bytes[2] != routingType { return 5 | 2 << 4 }            // type != IPV6_SRCRT_TYPE_4
        if (hdrlen + 1) << 3 != len { return 6 | (hdrlen + 1) << 7 } // (hdrlen + 1) << 3 != len
        let lastEntry = Int(bytes[4])
        if Int(bytes[3]) > lastEntry { return 7 | 3 << 4 }          // segments_left > first_segment
        if lastEntry > hdrlen / 2 - 1 { return 8 | 4 << 4 }         // first_segment > max_last_entry
        var offset = 8 + (lastEntry + 1) << 4
        var trailing = len - offset                                 // >= 0 given the check above
        while trailing > 0 {
            if trailing < 2 { return 9 | offset << 4 }
            let tlvLen = 2 + Int(bytes[offset + 1])
            trailing -= tlvLen
            if trailing < 0 { return 10 | offset << 4 }
            offset += tlvLen
        }
        return 0
    }

    /// The error for a failed check reported by ``firstFailedCheck(_:)``.
    @usableFromInline @inline(never)
    static func validationError(_ failed: Int, _ bytes: UnsafeRawBufferPointer) -> SRHError {
        let len = bytes.count
        let offset = failed >> 4
        switch failed & 15 {
        case 1: return SRHError(.truncated, offset: offset, "\(len) bytes: an SRH needs at least 8")
        case 2: return SRHError(.lengthNotMultipleOf8, offset: offset, "\(len) bytes is not a multiple of 8")
        case 3: return SRHError(.tooLong, offset: offset, "\(len) bytes: at most \(maxLength)")
        default: break
        }
        let hdrlen = Int(bytes[1])
        switch failed & 15 {
        case 4:
            return SRHError(.headerLengthBeyondData, offset: offset,
                            "hdr ext len \(hdrlen) means \((hdrlen + 1) * 8) bytes, only \(len) given")
        case 5:
            return SRHError(.unsupportedRoutingType, offset: offset, "routing type \(bytes[2]), not 4 (SRH)")
        case 6:
            return SRHError(.lengthMismatch, offset: offset,
                            "\(len - (hdrlen + 1) * 8) bytes after the \((hdrlen + 1) * 8) that hdr ext len \(hdrlen) covers")
        case 7:
            return SRHError(.segmentsLeftBeyondLastEntry, offset: offset,
                            "segments left \(bytes[3]) is beyond last entry \(bytes[4])")
        case 8:
            return SRHError(.lastEntryBeyondHeader, offset: offset,
                            "last entry \(bytes[4]) needs \(Int(bytes[4]) + 1) segments; hdr ext len \(hdrlen) has room for \(max(0, hdrlen / 2))")
        case 9:
            return SRHError(.tlvTruncated, offset: offset,
                            "\(len - offset) byte left where a TLV needs type and length (a lone trailing Pad1 is rejected by Linux)")
        default:
            let tlvLen = 2 + Int(bytes[offset + 1])
            return SRHError(.tlvOverrun, offset: offset,
                            "TLV type \(bytes[offset]) of \(tlvLen) bytes runs \(offset + tlvLen - len) bytes past the end of the header")
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
        self.init(header: 0, segments: [], tlvStorage: nil)
        var e: SRHError? = nil
        bytes.withUnsafeBytes { p in
            do throws(SRHError) { try self.decode(from: p) } catch { e = error }
        }
        if let e { throw e }
    }

    /// Replaces this header with the one in `bytes`, reusing the storage of
    /// ``segments`` and of the TLV bytes: no allocation when the segment count
    /// and the TLV length are those of the header already held (and its
    /// storage is not shared), and never one per TLV.
    ///
    /// On failure `self` is unchanged.
    /// - Throws: ``SRHError`` when Linux would reject the bytes (see
    ///   ``validate(_:)-(UnsafeRawBufferPointer)``).
    /// - Complexity: O(n) in the length of `bytes`.
    @inlinable @inline(__always)
    public mutating func decode(from bytes: UnsafeRawBufferPointer) throws(SRHError) {
        try SegmentRoutingHeader.validate(bytes)
        let n = Int(bytes[4]) &+ 1
        let tlvStart = 8 &+ 16 &* n
        let t = bytes.count &- tlvStart
        guard segments.count == n && tlvByteCount == t else { return replaceStorage(decoding: bytes) }
        header = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self)) & ~SegmentRoutingHeader.derivedFieldsMask
        segments.withUnsafeMutableBufferPointer { SegmentRoutingHeader.readSegments(bytes, into: $0) }
        if t > 0 {
            tlvStorage!.withUnsafeMutableBytes { area in
                area.baseAddress.unsafelyUnwrapped.copyMemory(from: bytes.baseAddress.unsafelyUnwrapped + tlvStart, byteCount: t)
            }
        }
    }

    /// ``decode(from:)`` of valid `bytes` into new storage: the segment count
    /// or the TLV length differs from the header held.
    @usableFromInline @inline(never)
    mutating func replaceStorage(decoding bytes: UnsafeRawBufferPointer) {
        let n = Int(bytes[4]) + 1
        let tlvStart = 8 + 16 * n
        header = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self)) & ~SegmentRoutingHeader.derivedFieldsMask
        if segments.count == n {
            segments.withUnsafeMutableBufferPointer { SegmentRoutingHeader.readSegments(bytes, into: $0) }
        } else {
            segments = [IPv6Address](unsafeUninitializedCapacity: n) { segs, count in
                SegmentRoutingHeader.readSegments(bytes, into: segs)
                count = n
            }
        }
        tlvStorage = tlvStart == bytes.count ? nil : [UInt8](UnsafeRawBufferPointer(rebasing: bytes[tlvStart...]))
    }

    /// Reads the wire Segment List of the SRH in `bytes` (validated) into
    /// `segs` in path order: `segs[i]` from wire index `segs.count - 1 - i`.
    @inlinable @inline(__always)
    static func readSegments(_ bytes: UnsafeRawBufferPointer, into segs: UnsafeMutableBufferPointer<IPv6Address>) {
        guard var dst = segs.baseAddress else { return }
        let end = dst + segs.count
        var src = bytes.baseAddress.unsafelyUnwrapped + (8 &+ 16 &* (segs.count &- 1))
        while dst < end {
            dst.initialize(to: IPv6Address(wireHigh: src.loadUnaligned(as: UInt64.self),
                                           wireLow: src.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
            dst += 1
            src -= 16
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
            tlvs.append(tlv(type: type, value: UnsafeRawBufferPointer(rebasing: area[(i + 2)..<(i + 2 + len)])))
            i += 2 + len
        }
    }

    /// The TLV of a type other than Pad1 with this value.
    @usableFromInline
    static func tlv(type: UInt8, value: UnsafeRawBufferPointer) -> SRHTLV {
        switch type {
        case SRHTLV.padNType:
            return .padN(payload: Array(value))
        case SRHTLV.hmacType where value.count >= 6:
            return .hmac(SRHHMACTLV(
                destinationFlag: value[0] & 0x80 != 0,
                reserved: UInt16(value[0] & 0x7f) << 8 | UInt16(value[1]),
                keyID: UInt32(value[2]) << 24 | UInt32(value[3]) << 16 | UInt32(value[4]) << 8 | UInt32(value[5]),
                hmac: Array(value[6...])))
        default:
            return .unknown(type: type, value: Array(value))
        }
    }

    /// What RFC 8754 asks for that this header does not do and Linux does not
    /// enforce. Empty for headers srte builds.
    public var rfc8754Warnings: [SRHWarning] {
        let tlvs = self.tlvs
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
