import LinuxSystem
/// The byte stream srte's senders write, so that a receiver can prove it got every byte, once,
/// in order: the 8-byte word at stream offset 8·i is `i ^ key`, little-endian.
///
/// Every word is distinct, so a lost, duplicated, reordered or corrupted byte anywhere in the
/// stream shows up at its offset (unlike a repeating pattern, which misses losses of a whole
/// period). `srte open` and `srte experiment` send it; `srte serve --verify` checks it.
///
/// ```swift
/// var block = [UInt8](repeating: 0, count: 65536)
/// block.withUnsafeMutableBytes { TransferPattern.fill($0, offset: sent) }
/// var v = TransferPattern.Verifier()
/// received.withUnsafeBytes { v.check($0) }
/// v.firstMismatch   // nil: every byte so far is where it belongs
/// ```
public enum TransferPattern {
    /// XORed into every word, so that a stream of zeros or of small counters does not pass.
    public static let key: UInt64 = 0x7372_7465_5f73_7472   // "rts_etrs" little-endian

    /// The byte at stream offset `offset`.
    @inlinable
    public static func byte(at offset: UInt64) -> UInt8 {
        UInt8(truncatingIfNeeded: ((offset >> 3) ^ key) >> ((offset & 7) &* 8))
    }

    /// Writes the pattern for stream offsets `offset ..< offset + buffer.count` into `buffer`.
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer, offset: UInt64) {
        var i = 0, o = offset
        let n = buffer.count
        while i < n && o & 7 != 0 { buffer[i] = byte(at: o); i += 1; o += 1 }
        while i + 8 <= n {
            buffer.storeBytes(of: ((o >> 3) ^ key).littleEndian, toByteOffset: i, as: UInt64.self)
            i += 8; o += 8
        }
        while i < n { buffer[i] = byte(at: o); i += 1; o += 1 }
    }

    /// Checks a received stream piece by piece.
    public struct Verifier: Sendable, Hashable {
        /// Bytes checked so far (the stream offset of the next byte).
        public private(set) var offset: UInt64 = 0
        /// The stream offset of the first byte that differed from the pattern, if any.
        public private(set) var firstMismatch: UInt64?

        public init() {}

        /// Bytes checked and found in place: everything before the first mismatch.
        public var verifiedBytes: UInt64 { firstMismatch ?? offset }

        /// Checks the next bytes of the stream.
        public mutating func check(_ bytes: UnsafeRawBufferPointer) {
            defer { offset += UInt64(bytes.count) }
            guard firstMismatch == nil else { return }
            var i = 0, o = offset
            let n = bytes.count
            func mismatch(at k: Int) { firstMismatch = offset + UInt64(k) }
            while i < n && o & 7 != 0 {
                if bytes[i] != TransferPattern.byte(at: o) { mismatch(at: i); return }
                i += 1; o += 1
            }
            while i + 8 <= n {
                let w = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                if w != (o >> 3) ^ TransferPattern.key {
                    for j in 0..<8 where bytes[i + j] != TransferPattern.byte(at: o + UInt64(j)) { mismatch(at: i + j); return }
                }
                i += 8; o += 8
            }
            while i < n {
                if bytes[i] != TransferPattern.byte(at: o) { mismatch(at: i); return }
                i += 1; o += 1
            }
        }
    }
}
