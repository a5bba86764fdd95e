/// A TLV of the Segment Routing Header (RFC 8754 §2.1), kept byte-exact on a
/// round trip.
///
/// Linux walks the TLV area treating *every* TLV, Pad1 included, as
/// `type, length, value` (`seg6_validate_srh`), while RFC 8754 makes Pad1 a
/// single byte. Validity follows the kernel; the parsed list follows the RFC,
/// and bytes that the kernel accepts but the RFC walk cannot split are kept as
/// ``rawBytes(_:)``.
public enum SRHTLV: Hashable, Sendable {
    /// Pad1 (type 0): one byte of padding.
    case pad1
    /// PadN (type 4): `2 + payload.count` bytes of padding; RFC 8754 wants the payload zero.
    case padN(payload: [UInt8])
    /// HMAC (type 5, RFC 8754 §2.1.2): `D` flag, reserved bits, key id and HMAC field.
    case hmac(SRHHMACTLV)
    /// Any other type, value preserved.
    case unknown(type: UInt8, value: [UInt8])
    /// Bytes that Linux accepts but that do not split into RFC 8754 TLVs.
    case rawBytes([UInt8])

    /// PadN type code.
    public static let padNType: UInt8 = 4
    /// HMAC type code.
    public static let hmacType: UInt8 = 5

    /// A PadN TLV of `count` bytes in all (2...257).
    /// - Precondition: `2 <= count <= 257`.
    @inlinable
    public static func padding(_ count: Int) -> SRHTLV {
        precondition((2...257).contains(count), "a PadN TLV is 2...257 bytes, asked for \(count)")
        return .padN(payload: [UInt8](repeating: 0, count: count - 2))
    }

    /// Encoded size in bytes.
    @inlinable
    public var encodedCount: Int {
        switch self {
        case .pad1: return 1
        case .padN(let p): return 2 + p.count
        case .hmac(let h): return 8 + h.hmac.count
        case .unknown(_, let v): return 2 + v.count
        case .rawBytes(let b): return b.count
        }
    }

    /// The type code (the first byte).
    public var type: UInt8 {
        switch self {
        case .pad1: return 0
        case .padN: return SRHTLV.padNType
        case .hmac: return SRHTLV.hmacType
        case .unknown(let t, _): return t
        case .rawBytes(let b): return b.first ?? 0
        }
    }

    /// Whether this TLV only pads.
    @inlinable
    public var isPadding: Bool {
        switch self {
        case .pad1, .padN: return true
        default: return false
        }
    }

    /// Why this TLV cannot be encoded, as a code for
    /// ``SegmentRoutingHeader``'s header word: 0 when it can, else a length
    /// that does not fit its byte (1 PadN, 2 HMAC, 3 another type).
    @usableFromInline
    var problemCode: UInt8 {
        switch self {
        case .padN(let p) where p.count > 255: return 1
        case .hmac(let h) where h.hmac.count > 249: return 2
        case .unknown(_, let v) where v.count > 255: return 3
        default: return 0
        }
    }

    /// The message for a ``problemCode``.
    @usableFromInline
    static func problemMessage(code: UInt8, type: UInt8) -> String {
        switch code {
        case 1: return "PadN payload longer than 255 bytes"
        case 2: return "HMAC field longer than 249 bytes"
        default: return "TLV type \(type) value longer than 255 bytes"
        }
    }

    /// Writes a PadN TLV of `count` bytes in all (payload zero) at `offset`
    /// and returns the offset after it.
    @usableFromInline
    static func writePadN(_ count: Int, into out: UnsafeMutableRawBufferPointer, at offset: Int) -> Int {
        out[offset] = padNType
        out[offset + 1] = UInt8(count - 2)
        for i in (offset + 2)..<(offset + count) { out[i] = 0 }
        return offset + count
    }

    /// Writes the wire form at `offset` and returns the offset after it.
    ///
    /// A length that does not fit its byte (``problemCode`` not 0) is written
    /// truncated, the value in full.
    /// - Precondition: `out` has room for ``encodedCount`` bytes at `offset`.
    @usableFromInline
    func write(into out: UnsafeMutableRawBufferPointer, at offset: Int) -> Int {
        var o = offset
        func put(_ b: UInt8) { out[o] = b; o += 1 }
        func put(_ bytes: [UInt8]) {
            bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: out[o..<(o + $0.count)]).copyMemory(from: $0) }
            o += bytes.count
        }
        switch self {
        case .pad1:
            put(0)
        case .padN(let p):
            put(SRHTLV.padNType); put(UInt8(truncatingIfNeeded: p.count)); put(p)
        case .hmac(let h):
            put(SRHTLV.hmacType); put(UInt8(truncatingIfNeeded: 6 + h.hmac.count))
            put(UInt8(truncatingIfNeeded: h.reserved >> 8) | (h.destinationFlag ? 0x80 : 0))
            put(UInt8(truncatingIfNeeded: h.reserved))
            put(UInt8(truncatingIfNeeded: h.keyID >> 24)); put(UInt8(truncatingIfNeeded: h.keyID >> 16))
            put(UInt8(truncatingIfNeeded: h.keyID >> 8)); put(UInt8(truncatingIfNeeded: h.keyID))
            put(h.hmac)
        case .unknown(let t, let v):
            put(t); put(UInt8(truncatingIfNeeded: v.count)); put(v)
        case .rawBytes(let b):
            put(b)
        }
        return o
    }
}

/// The HMAC TLV (RFC 8754 §2.1.2; Linux `struct sr6_tlv_hmac`).
public struct SRHHMACTLV: Hashable, Sendable {
    /// The `D` bit: destination address verification disabled.
    public var destinationFlag: Bool
    /// The 15 reserved bits after `D` (0 on transmission).
    public var reserved: UInt16
    /// HMAC key id (Linux looks the key up by it; 0 is not allowed).
    public var keyID: UInt32
    /// The HMAC field; 32 bytes for Linux (SHA-1 digests are zero-padded).
    public var hmac: [UInt8]

    public init(destinationFlag: Bool = false, reserved: UInt16 = 0, keyID: UInt32, hmac: [UInt8]) {
        self.destinationFlag = destinationFlag
        self.reserved = reserved & 0x7fff
        self.keyID = keyID
        self.hmac = hmac
    }
}

extension Array where Element == UInt8 {
    @inline(__always)
    mutating func appendBigEndian(_ v: UInt16) {
        append(UInt8(truncatingIfNeeded: v >> 8))
        append(UInt8(truncatingIfNeeded: v))
    }

    @inline(__always)
    mutating func appendBigEndian(_ v: UInt32) {
        append(UInt8(truncatingIfNeeded: v >> 24))
        append(UInt8(truncatingIfNeeded: v >> 16))
        append(UInt8(truncatingIfNeeded: v >> 8))
        append(UInt8(truncatingIfNeeded: v))
    }

    @inline(__always)
    mutating func appendBigEndian(_ v: UInt64) {
        var s: UInt64 = 56
        while true {
            append(UInt8(truncatingIfNeeded: v >> s))
            if s == 0 { break }
            s -= 8
        }
    }

    @inline(__always)
    mutating func append(_ a: IPv6Address) {
        appendBigEndian(a.high)
        appendBigEndian(a.low)
    }
}
