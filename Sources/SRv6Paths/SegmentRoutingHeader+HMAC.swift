/// An SRH HMAC key as Linux holds it (`ip sr hmac set KEYID ALGO`).
///
/// ```swift
/// let key = try SRHHMACKey(keyID: 7, secret: Array("s3cret".utf8), algorithm: .sha256)
/// let signed = try srh.signed(with: key, source: IPv6Address("fc00:1::1")!)
/// signed.verifyHMAC(with: key, source: IPv6Address("fc00:1::1")!)   // true
/// ```
public struct SRHHMACKey: Hashable, Sendable {
    /// The HMAC algorithm ids of Linux (`SEG6_HMAC_ALGO_*`).
    public enum Algorithm: UInt8, Sendable, CaseIterable, CustomStringConvertible {
        /// `SEG6_HMAC_ALGO_SHA1`: the 20-byte digest is zero-padded to 32 bytes.
        case sha1 = 1
        /// `SEG6_HMAC_ALGO_SHA256`.
        case sha256 = 2
        public var description: String { self == .sha1 ? "sha1" : "sha256" }
    }

    /// Key id carried in the TLV (big-endian); never 0.
    public let keyID: UInt32
    /// The shared secret, 1...64 bytes (`SEG6_HMAC_SECRET_LEN`).
    public let secret: [UInt8]
    /// The digest.
    public let algorithm: Algorithm

    /// Creates a key.
    /// - Throws: ``SRHError`` `invalidKeyID` for key id 0, `invalidSecret` for
    ///   an empty secret or one over 64 bytes.
    public init(keyID: UInt32, secret: [UInt8], algorithm: Algorithm = .sha256) throws(SRHError) {
        guard keyID != 0 else { throw SRHError(.invalidKeyID, offset: 0, "HMAC key id 0 is reserved: Linux refuses it") }
        guard !secret.isEmpty, secret.count <= 64 else {
            throw SRHError(.invalidSecret, offset: 0,
                           "HMAC secret of \(secret.count) bytes: Linux takes 1...64 bytes")
        }
        self.keyID = keyID
        self.secret = secret
        self.algorithm = algorithm
    }
}

extension SegmentRoutingHeader {
    /// The text Linux feeds to the HMAC (net/ipv6/seg6_hmac.c, `seg6_hmac_compute`):
    /// `source (16) | last entry (1) | flags (1) | key id (4, big-endian) |
    /// Segment List[0...last entry] (16 each, wire order)`.
    public func hmacText(keyID: UInt32, source: IPv6Address) -> [UInt8] {
        var text: [UInt8] = []
        text.reserveCapacity(22 + 16 * segments.count)
        text.append(source)
        text.append(UInt8(truncatingIfNeeded: lastEntry))
        text.append(flags.rawValue)
        text.appendBigEndian(keyID)
        for s in segments.reversed() { text.append(s) }
        return text
    }

    /// The 32-byte HMAC field for this header, as Linux computes it.
    /// - Throws: ``SRHError`` `tooManySegments` beyond 14 segments (Linux returns -EMSGSIZE).
    public func computeHMAC(with key: SRHHMACKey, source: IPv6Address) throws(SRHError) -> [UInt8] {
        guard segments.count <= SegmentRoutingHeader.maxSegmentsWithHMAC else {
            throw SRHError(.tooManySegments, offset: 8,
                           "\(segments.count) segments: Linux signs at most \(SegmentRoutingHeader.maxSegmentsWithHMAC) (the HMAC text must stay under 256 bytes)")
        }
        let text = hmacText(keyID: key.keyID, source: source)
        switch key.algorithm {
        case .sha256:
            return HMAC<SHA256>.authenticate(text, key: key.secret)
        case .sha1:
            return HMAC<SHA1>.authenticate(text, key: key.secret) + [UInt8](repeating: 0, count: 12)
        }
    }

    /// This header signed with `key` for packets from `source`: flag 0x08 set,
    /// any HMAC TLV removed, padding adjusted and a 40-byte HMAC TLV appended
    /// (Linux reads it from the last 40 bytes).
    /// - Throws: ``SRHError`` `tooManySegments` beyond 14 segments, `tooLong`.
    public func signed(with key: SRHHMACKey, source: IPv6Address) throws(SRHError) -> SegmentRoutingHeader {
        var s = self
        s.flags.insert(.hmac)
        // Drop an old HMAC and the padding that preceded it; re-pad.
        var body = s.tlvs.filter { if case .hmac = $0 { return false }; return true }
        while let last = body.last, last.isPadding { body.removeLast() }
        let placeholder = SRHTLV.hmac(SRHHMACTLV(keyID: key.keyID, hmac: [UInt8](repeating: 0, count: 32)))
        s.tlvs = SegmentRoutingHeader.padded(body + [placeholder])
        guard s.encodedCount <= SegmentRoutingHeader.maxLength else {
            throw SRHError(.tooLong, offset: SegmentRoutingHeader.maxLength, "signed header would exceed \(SegmentRoutingHeader.maxLength) bytes")
        }
        let mac = try s.computeHMAC(with: key, source: source)
        // The HMAC field is the last 32 bytes of the TLV area.
        s.tlvStorage!.replaceSubrange((s.tlvByteCount - 32)..., with: mac)
        return s
    }

    /// Whether the header carries an HMAC that Linux would accept for `key`
    /// and `source` (flag 0x08, a 40-byte HMAC TLV at the end, matching key id
    /// and all 32 bytes equal).
    public func verifyHMAC(with key: SRHHMACKey, source: IPv6Address) -> Bool {
        guard flags.contains(.hmac), let tlv = hmacTLV, tlv.keyID == key.keyID,
              let mac = try? computeHMAC(with: key, source: source) else { return false }
        // Constant-time comparison.
        var diff: UInt8 = 0
        for (a, b) in zip(mac, tlv.hmac) { diff |= a ^ b }
        return diff == 0
    }
}
