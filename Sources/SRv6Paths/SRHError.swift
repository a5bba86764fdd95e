/// Why a byte string is not an SRH that Linux accepts, and where.
///
/// Kinds follow the checks of Linux `seg6_validate_srh` (net/ipv6/seg6.c) in
/// the order the kernel makes them, preceded by the length rules of
/// `setsockopt(IPV6_RTHDR)` (net/ipv6/ipv6_sockglue.c). Build-time problems
/// (too many segments, a bad HMAC key) have kinds of their own.
///
/// ```swift
/// do { _ = try SegmentRoutingHeader(decoding: bytes) }
/// catch let e { print(e.kind, e.offset) }   // segmentsLeftBeyondLastEntry 3
/// ```
public struct SRHError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The class of problem; stable names for scripts (`kind.rawValue`).
    public struct Kind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// Fewer than 2 bytes (IPV6_RTHDR: `optlen < sizeof(struct ipv6_opt_hdr)`) —
        /// or, for ``SegmentRoutingHeader/init(decoding:)``, fewer than the 8-byte fixed part.
        public static let truncated = Kind(rawValue: "truncated")
        /// Length not a multiple of 8 (IPV6_RTHDR: `optlen & 0x7`).
        public static let lengthNotMultipleOf8 = Kind(rawValue: "lengthNotMultipleOf8")
        /// Longer than 2040 bytes (IPV6_RTHDR: `optlen > 8 * 255`).
        public static let tooLong = Kind(rawValue: "tooLong")
        /// Hdr Ext Len claims more bytes than given (IPV6_RTHDR: `ipv6_optlen(new) > optlen`).
        public static let headerLengthBeyondData = Kind(rawValue: "headerLengthBeyondData")
        /// Routing type is not 4 (`srh->type != IPV6_SRCRT_TYPE_4`).
        public static let unsupportedRoutingType = Kind(rawValue: "unsupportedRoutingType")
        /// Bytes after the header that Hdr Ext Len does not cover (`((hdrlen + 1) << 3) != len`).
        public static let lengthMismatch = Kind(rawValue: "lengthMismatch")
        /// Segments Left greater than Last Entry (`segments_left > first_segment`).
        public static let segmentsLeftBeyondLastEntry = Kind(rawValue: "segmentsLeftBeyondLastEntry")
        /// Last Entry names more segments than the header holds (`first_segment > hdrlen / 2 - 1`).
        public static let lastEntryBeyondHeader = Kind(rawValue: "lastEntryBeyondHeader")
        /// Fewer than 2 bytes left where a TLV must start (`trailing < sizeof(*tlv)`);
        /// a lone trailing Pad1 is rejected this way.
        public static let tlvTruncated = Kind(rawValue: "tlvTruncated")
        /// A TLV's length runs past the end of the header (`trailing < 0`).
        public static let tlvOverrun = Kind(rawValue: "tlvOverrun")

        // Build-time kinds.
        /// No segments were given.
        public static let noSegments = Kind(rawValue: "noSegments")
        /// More segments than fit (127 without TLVs; 14 with HMAC).
        public static let tooManySegments = Kind(rawValue: "tooManySegments")
        /// Segments Left beyond the list.
        public static let segmentsLeftOutOfRange = Kind(rawValue: "segmentsLeftOutOfRange")
        /// HMAC key id 0 (reserved by Linux).
        public static let invalidKeyID = Kind(rawValue: "invalidKeyID")
        /// HMAC secret empty or longer than 64 bytes.
        public static let invalidSecret = Kind(rawValue: "invalidSecret")
        /// A TLV that cannot be encoded (value longer than 255 bytes, PadN shorter than 2 bytes).
        public static let invalidTLV = Kind(rawValue: "invalidTLV")
        /// The HMAC TLV does not verify against the given key.
        public static let hmacMismatch = Kind(rawValue: "hmacMismatch")
        /// No HMAC TLV where one was required.
        public static let hmacMissing = Kind(rawValue: "hmacMissing")
        /// Input text is not hex.
        public static let invalidHex = Kind(rawValue: "invalidHex")
    }

    /// The class of problem.
    public var kind: Kind
    /// Byte offset into the SRH (or character offset into hex text) the problem concerns.
    public var offset: Int
    /// A sentence for people.
    public var message: String

    public init(_ kind: Kind, offset: Int, _ message: String) {
        self.kind = kind
        self.offset = offset
        self.message = message
    }

    public var description: String { "\(message) (\(kind), byte offset \(offset))" }
}

/// Something RFC 8754 asks for that Linux does not enforce. Warnings never
/// change validity: the kernel verdict is the one that counts.
public struct SRHWarning: Hashable, Sendable, CustomStringConvertible {
    /// Byte offset the warning concerns.
    public var offset: Int
    /// What RFC 8754 expects.
    public var message: String

    public init(offset: Int, _ message: String) {
        self.offset = offset
        self.message = message
    }

    public var description: String { "\(message) (byte offset \(offset))" }
}
