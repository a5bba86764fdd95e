// SHA-1, SHA-256 (FIPS 180-4) and HMAC (RFC 2104), in pure Swift.
//
// Written here rather than taken from swift-crypto: the SRH HMAC needs only
// these two digests over texts shorter than 256 bytes, and swift-crypto would
// add BoringSSL to every build on a 2-core CI machine. Checked against the
// FIPS / RFC 4231 / RFC 2202 test vectors and against the kernel (a router
// with seg6_require_hmac forwards what srte signs).

/// A hash function usable by ``HMAC``.
protocol DigestFunction {
    static var blockSize: Int { get }
    static func hash(_ message: [UInt8]) -> [UInt8]
}

/// SHA-256 (FIPS 180-4 §6.2).
enum SHA256: DigestFunction {
    static let blockSize = 64
    private static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    static func hash(_ message: [UInt8]) -> [UInt8] {
        var h: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
        var w = [UInt32](repeating: 0, count: 64)
        for block in paddedBlocks(message, bigEndianLength: true) {
            for t in 0..<16 { w[t] = block[t] }
            for t in 16..<64 {
                let s0 = w[t - 15].rotr(7) ^ w[t - 15].rotr(18) ^ (w[t - 15] >> 3)
                let s1 = w[t - 2].rotr(17) ^ w[t - 2].rotr(19) ^ (w[t - 2] >> 10)
                w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
            }
            var (a, b, c, d, e, f, g, hh) = (h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7])
            for t in 0..<64 {
                let s1 = e.rotr(6) ^ e.rotr(11) ^ e.rotr(25)
                let ch = (e & f) ^ (~e & g)
                let t1 = hh &+ s1 &+ ch &+ k[t] &+ w[t]
                let s0 = a.rotr(2) ^ a.rotr(13) ^ a.rotr(22)
                let maj = (a & b) ^ (a & c) ^ (b & c)
                let t2 = s0 &+ maj
                hh = g; g = f; f = e; e = d &+ t1; d = c; c = b; b = a; a = t1 &+ t2
            }
            h[0] &+= a; h[1] &+= b; h[2] &+= c; h[3] &+= d
            h[4] &+= e; h[5] &+= f; h[6] &+= g; h[7] &+= hh
        }
        var out: [UInt8] = []
        out.reserveCapacity(32)
        for v in h { out.appendBigEndian(v) }
        return out
    }
}

/// SHA-1 (FIPS 180-4 §6.1). Used only because Linux offers it for SRH HMAC (algorithm 1).
enum SHA1: DigestFunction {
    static let blockSize = 64

    static func hash(_ message: [UInt8]) -> [UInt8] {
        var h: [UInt32] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0]
        var w = [UInt32](repeating: 0, count: 80)
        for block in paddedBlocks(message, bigEndianLength: true) {
            for t in 0..<16 { w[t] = block[t] }
            for t in 16..<80 { w[t] = (w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16]).rotl(1) }
            var (a, b, c, d, e) = (h[0], h[1], h[2], h[3], h[4])
            for t in 0..<80 {
                let f: UInt32, k: UInt32
                switch t {
                case 0..<20: f = (b & c) | (~b & d); k = 0x5a827999
                case 20..<40: f = b ^ c ^ d; k = 0x6ed9eba1
                case 40..<60: f = (b & c) | (b & d) | (c & d); k = 0x8f1bbcdc
                default: f = b ^ c ^ d; k = 0xca62c1d6
                }
                let temp = a.rotl(5) &+ f &+ e &+ k &+ w[t]
                e = d; d = c; c = b.rotl(30); b = a; a = temp
            }
            h[0] &+= a; h[1] &+= b; h[2] &+= c; h[3] &+= d; h[4] &+= e
        }
        var out: [UInt8] = []
        out.reserveCapacity(20)
        for v in h { out.appendBigEndian(v) }
        return out
    }
}

/// The message padded per FIPS 180-4 §5.1.1, as 16-word big-endian blocks.
private func paddedBlocks(_ message: [UInt8], bigEndianLength: Bool) -> [[UInt32]] {
    var m = message
    let bitLength = UInt64(message.count) * 8
    m.append(0x80)
    while m.count % 64 != 56 { m.append(0) }
    m.appendBigEndian(bitLength)
    var blocks: [[UInt32]] = []
    blocks.reserveCapacity(m.count / 64)
    var i = 0
    while i < m.count {
        var block = [UInt32](repeating: 0, count: 16)
        for t in 0..<16 {
            let j = i + 4 * t
            block[t] = UInt32(m[j]) << 24 | UInt32(m[j + 1]) << 16 | UInt32(m[j + 2]) << 8 | UInt32(m[j + 3])
        }
        blocks.append(block)
        i += 64
    }
    return blocks
}

/// HMAC (RFC 2104) over a ``DigestFunction``.
enum HMAC<H: DigestFunction> {
    static func authenticate(_ message: [UInt8], key: [UInt8]) -> [UInt8] {
        var k = key.count > H.blockSize ? H.hash(key) : key
        k += [UInt8](repeating: 0, count: H.blockSize - k.count)
        let inner = H.hash(k.map { $0 ^ 0x36 } + message)
        return H.hash(k.map { $0 ^ 0x5c } + inner)
    }
}

extension UInt32 {
    @inline(__always) fileprivate func rotr(_ n: UInt32) -> UInt32 { (self >> n) | (self << (32 - n)) }
    @inline(__always) fileprivate func rotl(_ n: UInt32) -> UInt32 { (self << n) | (self >> (32 - n)) }
}

/// Digests the SRH code exposes for tests and tools (hex in, hex out is the caller's business).
public enum SRHDigest {
    /// SHA-256 of `message`.
    public static func sha256(_ message: [UInt8]) -> [UInt8] { SHA256.hash(message) }
    /// SHA-1 of `message`.
    public static func sha1(_ message: [UInt8]) -> [UInt8] { SHA1.hash(message) }
    /// HMAC-SHA-256 of `message` under `key`.
    public static func hmacSHA256(_ message: [UInt8], key: [UInt8]) -> [UInt8] { HMAC<SHA256>.authenticate(message, key: key) }
    /// HMAC-SHA-1 of `message` under `key`.
    public static func hmacSHA1(_ message: [UInt8], key: [UInt8]) -> [UInt8] { HMAC<SHA1>.authenticate(message, key: key) }
}
