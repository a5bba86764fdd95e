/// A 128-bit IPv6 address, parsed and printed in pure Swift.
///
/// Parsing accepts the text forms of RFC 4291 §2.2 (full, `::`-compressed and
/// with an embedded IPv4 tail); printing follows RFC 5952 (lower case, longest
/// run of two or more zero groups compressed, first run on ties).
///
/// ```swift
/// let a = try IPv6Address(parsing: "FC00:0:A:0:0:0:0:1")
/// print(a)            // fc00:0:a::1
/// a.bytes.count       // 16
/// ```
public struct IPv6Address: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    // The 16 bytes in network order, as two words loaded from memory: copying an
    // address to or from the wire is a plain 16-byte move, no byte swapping.
    @usableFromInline var wireHigh: UInt64
    @usableFromInline var wireLow: UInt64

    /// The upper 64 bits, in host order (bits 0–63 of the address).
    public var high: UInt64 {
        get { UInt64(bigEndian: wireHigh) }
        set { wireHigh = newValue.bigEndian }
    }
    /// The lower 64 bits, in host order (bits 64–127 of the address).
    public var low: UInt64 {
        get { UInt64(bigEndian: wireLow) }
        set { wireLow = newValue.bigEndian }
    }

    /// The unspecified address `::`.
    public static let unspecified = IPv6Address(high: 0, low: 0)

    /// Creates an address from its two 64-bit halves.
    @inlinable
    public init(high: UInt64, low: UInt64) {
        wireHigh = high.bigEndian
        wireLow = low.bigEndian
    }

    /// Creates an address from the two words of its wire form as they sit in memory.
    @inlinable @inline(__always)
    init(wireHigh: UInt64, wireLow: UInt64) {
        self.wireHigh = wireHigh
        self.wireLow = wireLow
    }

    /// Creates an address from 16 bytes in network order.
    /// - Precondition: `bytes` holds exactly 16 bytes.
    public init<C: Collection>(bytes: C) where C.Element == UInt8 {
        precondition(bytes.count == 16, "an IPv6 address is 16 bytes, got \(bytes.count)")
        var h: UInt64 = 0
        var l: UInt64 = 0
        var i = 0
        for b in bytes {
            if i < 8 { h = h << 8 | UInt64(b) } else { l = l << 8 | UInt64(b) }
            i += 1
        }
        self.init(high: h, low: l)
    }

    /// Parses the text form of an address.
    ///
    /// - Throws: ``IPv6AddressError`` naming the problem and the 0-based
    ///   character position it was found at.
    public init(parsing text: String) throws(IPv6AddressError) {
        self = try IPv6AddressParser.parse(Array(text.utf8), text: text)
    }

    /// Parses the text form of an address, or returns `nil`.
    public init?(_ text: String) {
        guard let a = try? IPv6Address(parsing: text) else { return nil }
        self = a
    }

    /// The 16 bytes of the address in network order.
    public var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: 16)
        for i in 0..<8 {
            out[i] = UInt8(truncatingIfNeeded: high >> (56 - 8 * UInt64(i)))
            out[8 + i] = UInt8(truncatingIfNeeded: low >> (56 - 8 * UInt64(i)))
        }
        return out
    }

    /// The eight 16-bit groups of the address.
    public var groups: [UInt16] {
        (0..<8).map { i in
            let word = i < 4 ? high : low
            return UInt16(truncatingIfNeeded: word >> (48 - 16 * UInt64(i % 4)))
        }
    }

    /// The RFC 5952 text form.
    public var description: String {
        let g = groups
        // Longest run of at least two zero groups; the first one wins ties.
        var bestStart = -1, bestLen = 0, runStart = -1
        for i in 0...8 {
            if i < 8 && g[i] == 0 {
                if runStart < 0 { runStart = i }
            } else if runStart >= 0 {
                let len = i - runStart
                if len > bestLen && len >= 2 { bestStart = runStart; bestLen = len }
                runStart = -1
            }
        }
        var s = ""
        var i = 0
        while i < 8 {
            if i == bestStart {
                s += i == 0 ? "::" : ":"
                i += bestLen
                continue
            }
            s += String(g[i], radix: 16)
            if i < 7 { s += ":" }
            i += 1
        }
        return s
    }

    public static func < (a: IPv6Address, b: IPv6Address) -> Bool {
        (a.high, a.low) < (b.high, b.low)
    }

    /// Whether the address lies in `prefix/length`.
    public func isIn(_ prefix: IPv6Address, length: Int) -> Bool {
        self.masked(to: length) == prefix.masked(to: length)
    }

    /// The address with all bits past the first `length` cleared.
    /// - Precondition: `0 <= length <= 128`.
    public func masked(to length: Int) -> IPv6Address {
        precondition((0...128).contains(length), "prefix length \(length) is outside 0...128")
        if length == 0 { return .unspecified }
        if length <= 64 {
            let mask: UInt64 = length == 64 ? .max : ~(UInt64.max >> UInt64(length))
            return IPv6Address(high: high & mask, low: 0)
        }
        let l = length - 64
        let mask: UInt64 = l == 64 ? .max : ~(UInt64.max >> UInt64(l))
        return IPv6Address(high: high, low: low & mask)
    }

    /// Adds `n` to the address (wrapping at 2^128).
    public func adding(_ n: UInt64) -> IPv6Address {
        let (l, overflow) = low.addingReportingOverflow(n)
        return IPv6Address(high: overflow ? high &+ 1 : high, low: l)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        do { self = try IPv6Address(parsing: s) } catch {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: error.description)
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// Why a text is not an IPv6 address, and where (0-based character position).
public struct IPv6AddressError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The text that was parsed.
    public var text: String
    /// 0-based position of the offending character (in UTF-8 bytes).
    public var position: Int
    /// What was wrong there.
    public var reason: String

    public var description: String {
        "invalid IPv6 address '\(text)': \(reason) at character \(position + 1)"
    }
}

enum IPv6AddressParser {
    static func parse(_ u: [UInt8], text: String) throws(IPv6AddressError) -> IPv6Address {
        func fail(_ pos: Int, _ why: String) -> IPv6AddressError {
            IPv6AddressError(text: text, position: pos, reason: why)
        }
        if u.isEmpty { throw fail(0, "empty text") }
        if u.count > 45 { throw fail(45, "too long (an IPv6 address has at most 45 characters)") }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var sawDouble = false
        var i = 0
        if u[0] == UInt8(ascii: ":") {
            guard u.count > 1, u[1] == UInt8(ascii: ":") else { throw fail(0, "a leading ':' must be part of '::'") }
            sawDouble = true
            i = 2
            if i == u.count { return .unspecified }
        }
        while i < u.count {
            // Read one group (hex) or an IPv4 tail.
            let start = i
            var value: UInt32 = 0
            var digits = 0
            while i < u.count, let d = hexValue(u[i]) {
                value = value << 4 | UInt32(d)
                digits += 1
                i += 1
                if digits > 4 { throw fail(i - 1, "a group has more than 4 hex digits") }
            }
            if i < u.count && u[i] == UInt8(ascii: ".") {
                // Embedded IPv4 in the last 32 bits.
                let v4 = try parseIPv4(u, from: start, text: text)
                let groups = [UInt16(v4 >> 16), UInt16(v4 & 0xffff)]
                if sawDouble { tail += groups } else { head += groups }
                i = u.count
                break
            }
            if digits == 0 {
                if i < u.count { throw fail(i, "unexpected character '\(Character(Unicode.Scalar(u[i])))'") }
                throw fail(i, "address ends with a single ':'")
            }
            if sawDouble { tail.append(UInt16(value)) } else { head.append(UInt16(value)) }
            if i == u.count { break }
            guard u[i] == UInt8(ascii: ":") else {
                throw fail(i, "unexpected character '\(Character(Unicode.Scalar(u[i])))'")
            }
            i += 1
            if i < u.count && u[i] == UInt8(ascii: ":") {
                if sawDouble { throw fail(i - 1, "'::' may appear only once") }
                sawDouble = true
                i += 1
                if i == u.count { break }
            } else if i == u.count {
                throw fail(i - 1, "address ends with a single ':'")
            }
        }
        let total = head.count + tail.count
        if sawDouble {
            if total > 7 { throw fail(u.count - 1, "too many groups for an address with '::'") }
        } else if total != 8 {
            throw fail(u.count - 1, total < 8 ? "only \(total) of 8 groups" : "more than 8 groups")
        }
        var groups = head
        if sawDouble { groups += [UInt16](repeating: 0, count: 8 - total) }
        groups += tail
        var h: UInt64 = 0, l: UInt64 = 0
        for (k, g) in groups.enumerated() {
            if k < 4 { h = h << 16 | UInt64(g) } else { l = l << 16 | UInt64(g) }
        }
        return IPv6Address(high: h, low: l)
    }

    static func parseIPv4(_ u: [UInt8], from start: Int, text: String) throws(IPv6AddressError) -> UInt32 {
        var result: UInt32 = 0
        var octets = 0
        var i = start
        while octets < 4 {
            var v = 0, digits = 0
            let os = i
            while i < u.count, u[i] >= UInt8(ascii: "0"), u[i] <= UInt8(ascii: "9") {
                v = v * 10 + Int(u[i] - UInt8(ascii: "0"))
                digits += 1
                i += 1
                if digits > 3 || v > 255 {
                    throw IPv6AddressError(text: text, position: os, reason: "IPv4 octet out of range")
                }
            }
            if digits == 0 { throw IPv6AddressError(text: text, position: i, reason: "expected an IPv4 octet") }
            if digits > 1 && u[os] == UInt8(ascii: "0") {
                throw IPv6AddressError(text: text, position: os, reason: "IPv4 octet with a leading zero")
            }
            result = result << 8 | UInt32(v)
            octets += 1
            if octets < 4 {
                guard i < u.count, u[i] == UInt8(ascii: ".") else {
                    throw IPv6AddressError(text: text, position: i, reason: "expected '.' in the IPv4 part")
                }
                i += 1
            }
        }
        if i != u.count { throw IPv6AddressError(text: text, position: i, reason: "unexpected text after the IPv4 part") }
        return result
    }

    @inline(__always)
    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// An IPv6 prefix such as `fc00:0:1::/48`.
public struct IPv6Prefix: Hashable, Sendable, CustomStringConvertible {
    /// The network address (host bits cleared).
    public var address: IPv6Address
    /// The prefix length, 0...128.
    public var length: Int

    /// Creates a prefix, clearing the host bits of `address`.
    public init(address: IPv6Address, length: Int) {
        self.address = address.masked(to: length)
        self.length = length
    }

    /// Parses `ADDRESS/LENGTH`.
    public init(parsing text: String) throws(IPv6AddressError) {
        guard let slash = text.firstIndex(of: "/") else {
            throw IPv6AddressError(text: text, position: text.utf8.count, reason: "missing '/LENGTH'")
        }
        let addrText = String(text[..<slash])
        let lenText = text[text.index(after: slash)...]
        let addr = try IPv6Address(parsing: addrText)
        guard let len = Int(lenText), (0...128).contains(len) else {
            throw IPv6AddressError(text: text, position: addrText.utf8.count + 1, reason: "prefix length must be 0...128")
        }
        if addr.masked(to: len) != addr {
            throw IPv6AddressError(text: text, position: 0, reason: "host bits set beyond /\(len)")
        }
        self.init(address: addr, length: len)
    }

    public var description: String { "\(address)/\(length)" }

    /// Whether `a` lies in this prefix.
    public func contains(_ a: IPv6Address) -> Bool { a.isIn(address, length: length) }
}
