/// Hex text to bytes and back, with positioned errors.
public enum Hex {
    /// Decodes hex text. Whitespace, `:` and `-` between byte pairs are ignored
    /// and a leading `0x` is allowed, so `tcpdump -x` and Wireshark copies paste
    /// as they are.
    /// - Throws: ``SRHError`` `invalidHex` with the 0-based character offset of
    ///   the first bad character, or of a dangling half byte.
    public static func decode(_ text: String) throws(SRHError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count / 2)
        var high: UInt8? = nil
        var highPos = 0
        var pos = 0
        let u = Array(text.utf8)
        var i = 0
        if u.count >= 2, u[0] == UInt8(ascii: "0"), u[1] | 0x20 == UInt8(ascii: "x") { i = 2 }
        while i < u.count {
            let c = u[i]
            pos = i
            i += 1
            if let v = IPv6AddressParser.hexValue(c) {
                if let h = high { out.append(h << 4 | v); high = nil } else { high = v; highPos = pos }
                continue
            }
            if c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: ":") || c == UInt8(ascii: "-")
                || c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r") {
                if high != nil {
                    throw SRHError(.invalidHex, offset: highPos, "odd number of hex digits before character \(pos + 1)")
                }
                continue
            }
            let shown = c < 0x80 && c >= 0x20 ? "'\(Character(Unicode.Scalar(c)))'" : "byte 0x\(Hex.encode([c]))"
            throw SRHError(.invalidHex, offset: pos, "\(shown) at character \(pos + 1) is not a hex digit")
        }
        if high != nil { throw SRHError(.invalidHex, offset: highPos, "odd number of hex digits: the last digit (character \(highPos + 1)) has no pair") }
        return out
    }

    /// Lower-case hex of `bytes`, no separators.
    public static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xf)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
