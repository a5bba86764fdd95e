/// A C-SID configuration: how SIDs are compressed with the NEXT-C-SID flavor of RFC 9800.
///
/// Every SID of the domain lies in one **Locator-Block** (``block``, e.g.
/// `fc00:0::/32`). The bits right after the block, ``csidLength`` of them,
/// are a node's **C-SID** (its locator and function, RFC 9800's LNFL). A
/// **container** is one 128-bit SID that carries several C-SIDs behind the
/// block, followed by zero padding:
///
/// ```
/// | block (32) | C-SID 1 (16) | C-SID 2 (16) | … | C-SID k (16) | 0 … 0 |
/// ```
///
/// The node of C-SID 1 receives the container as Destination Address. Its
/// End with NEXT-C-SID shifts the bits after the block left by the C-SID
/// length, so C-SID 2 comes next (``shifted(_:)``); only the node of the
/// last C-SID, whose argument bits are all zero, does the normal SRH
/// processing (Segments Left − 1, next Segment List entry).
///
/// ```swift
/// let f = try CSIDFormat(block: IPv6Prefix(parsing: "fc00:0::/32"), csidLength: 16)   // F3216
/// f.csidsPerContainer                     // 6
/// try f.container([0xa, 0xb])             // fc00:0:a:b::
/// f.shifted(IPv6Address("fc00:0:a:b::")!) // fc00:0:b::
/// ```
public struct CSIDFormat: Hashable, Sendable, CustomStringConvertible {
    /// The Locator-Block all compressible SIDs share.
    public let block: IPv6Prefix
    /// C-SID length in bits (RFC 9800: 16 or 32 recommended).
    public let csidLength: Int

    /// A configuration of this block and C-SID length.
    ///
    /// - Parameters:
    ///   - block: the Locator-Block, 8 to 120 bits long.
    ///   - csidLength: the C-SID length in bits: a multiple of 8 from 8 to 64, and at most
    ///     what is left after the block.
    /// - Throws: ``CSIDError`` `invalidFormat` naming the limit that was broken.
    public init(block: IPv6Prefix, csidLength: Int) throws(CSIDError) {
        guard (8...120).contains(block.length) else {
            throw CSIDError(.invalidFormat, "a Locator-Block of /\(block.length): it must be /8 to /120 so that C-SIDs fit behind it")
        }
        guard csidLength % 8 == 0, (8...64).contains(csidLength) else {
            throw CSIDError(.invalidFormat, "C-SID length \(csidLength) bits: it must be a multiple of 8 from 8 to 64 (RFC 9800 recommends 16 or 32)")
        }
        guard block.length + csidLength <= 128 else {
            throw CSIDError(.invalidFormat, "a \(csidLength)-bit C-SID does not fit behind a /\(block.length) block (\(128 - block.length) bits left)")
        }
        self.block = block
        self.csidLength = csidLength
    }

    /// The common F3216 format of RFC 9800: a 32-bit Locator-Block and 16-bit C-SIDs.
    /// - Parameter block: a /32 Locator-Block.
    /// - Throws: ``CSIDError`` when `block` is not a /32.
    public static func f3216(block: IPv6Prefix) throws(CSIDError) -> CSIDFormat {
        guard block.length == 32 else { throw CSIDError(.invalidFormat, "F3216 needs a /32 Locator-Block, not /\(block.length)") }
        return try CSIDFormat(block: block, csidLength: 16)
    }

    /// How many C-SIDs one container holds: `(128 − block length) / C-SID length`.
    public var csidsPerContainer: Int { (128 - block.length) / csidLength }

    /// The largest C-SID value (all `csidLength` bits set).
    public var maxCSID: UInt64 { csidLength == 64 ? .max : (1 << UInt64(csidLength)) - 1 }

    /// `F3216 fc00::/32`-style text: the format's name and its block.
    public var description: String { "F\(block.length)\(csidLength) \(block)" }

    // MARK: Bits

    static func value(_ a: IPv6Address) -> UInt128 { UInt128(a.high) << 64 | UInt128(a.low) }
    static func address(_ v: UInt128) -> IPv6Address {
        IPv6Address(high: UInt64(truncatingIfNeeded: v >> 64), low: UInt64(truncatingIfNeeded: v))
    }
    /// Bits after the block (128 − block length), as a mask.
    var afterBlockMask: UInt128 { UInt128.max >> UInt128(block.length) }

    /// C-SID number `i` (0-based) of `a`, read from behind the block.
    func csid(at i: Int, of a: IPv6Address) -> UInt64 {
        let shift = 128 - block.length - (i + 1) * csidLength
        return UInt64(truncatingIfNeeded: (CSIDFormat.value(a) >> UInt128(shift))) & maxCSID
    }

    // MARK: SIDs and containers

    /// The C-SID of a SID that compresses: in the block, a non-zero C-SID and
    /// nothing but zeros after it; `nil` for any other address.
    /// - Parameter sid: a full 128-bit SID.
    public func csid(of sid: IPv6Address) -> UInt64? {
        guard block.contains(sid) else { return nil }
        let rest = CSIDFormat.value(sid) & (afterBlockMask >> UInt128(csidLength))
        let c = csid(at: 0, of: sid)
        return rest == 0 && c != 0 ? c : nil
    }

    /// The SID of one C-SID: block, C-SID, zeros.
    /// - Parameter csid: a C-SID, 1 to ``maxCSID``.
    /// - Throws: ``CSIDError`` `csidOutOfRange` for 0 (it ends a container) or a value wider than the C-SID length.
    public func sid(csid: UInt64) throws(CSIDError) -> IPv6Address { try container([csid]) }

    /// The container of `csids`, in the order they are visited: block, the C-SIDs, zero padding.
    /// - Parameter csids: 1 to ``csidsPerContainer`` C-SIDs, each 1 to ``maxCSID``.
    /// - Throws: ``CSIDError`` `csidOutOfRange` or `containerFull`.
    public func container(_ csids: [UInt64]) throws(CSIDError) -> IPv6Address {
        guard !csids.isEmpty else { throw CSIDError(.containerFull, "a container needs at least one C-SID") }
        guard csids.count <= csidsPerContainer else {
            throw CSIDError(.containerFull, "\(csids.count) C-SIDs: a container of \(self) holds at most \(csidsPerContainer)")
        }
        var v = CSIDFormat.value(block.address)
        for (i, c) in csids.enumerated() {
            guard c != 0, c <= maxCSID else {
                throw CSIDError(.csidOutOfRange, "C-SID #\(i + 1) is \(c): a \(csidLength)-bit C-SID must be 1...\(maxCSID) (0 ends a container)")
            }
            v |= UInt128(c) << UInt128(128 - block.length - (i + 1) * csidLength)
        }
        return CSIDFormat.address(v)
    }

    /// The C-SIDs of a container, in visiting order; `nil` when `a` is not one:
    /// outside the block, a zero first C-SID, or a non-zero bit after the first zero C-SID.
    /// A SID of one C-SID is a container of one.
    /// - Parameter a: a Destination Address or Segment List entry.
    public func csids(in a: IPv6Address) -> [UInt64]? {
        guard block.contains(a) else { return nil }
        var out: [UInt64] = []
        for i in 0..<csidsPerContainer {
            let c = csid(at: i, of: a)
            if c == 0 { break }
            out.append(c)
        }
        guard !out.isEmpty else { return nil }
        let used = block.length + out.count * csidLength
        let rest = used == 128 ? 0 : CSIDFormat.value(a) & (UInt128.max >> UInt128(used))
        return rest == 0 ? out : nil
    }

    /// What the End behavior with NEXT-C-SID (RFC 9800 §4.1.1) makes of Destination
    /// Address `da` when its argument (the bits after the block and the active
    /// C-SID) is not zero: the bits after the block shifted left by the C-SID
    /// length, zero-filled. `nil` when the argument is zero: then the node does
    /// the normal SRH processing instead.
    /// - Parameter da: the Destination Address as the node receives it.
    public func shifted(_ da: IPv6Address) -> IPv6Address? {
        guard block.contains(da) else { return nil }
        let v = CSIDFormat.value(da)
        let argumentBits = 128 - block.length - csidLength
        guard argumentBits > 0, v & (UInt128.max >> UInt128(128 - argumentBits)) != 0 else { return nil }
        let after = (v << UInt128(csidLength)) & afterBlockMask
        return CSIDFormat.address(CSIDFormat.value(block.address) | after)
    }

    // MARK: Segment lists

    /// The segment list of `path` with runs of compressible SIDs packed into containers.
    ///
    /// A SID joins the open container when ``csid(of:)`` gives it a C-SID,
    /// `compressible` allows it and the container has room; any other SID
    /// closes the container and stays as it is. The final destination
    /// (`path.last`) is never compressed: the transport checksum and the
    /// socket lookup at the host use the exact Destination Address.
    ///
    /// - Parameters:
    ///   - path: segments in path order; the last one is the final destination.
    ///   - compressible: whether the SID at this path index may go into a container
    ///     (false for nodes without NEXT-C-SID); all may by default.
    /// - Returns: the entries in path order; their ``CompressedSegment/sid`` form the segment list.
    public func compress(_ path: [IPv6Address], compressible: (Int, IPv6Address) -> Bool = { _, _ in true }) -> [CompressedSegment] {
        var out: [CompressedSegment] = []
        var open: [UInt64] = []
        func close() {
            if !open.isEmpty { out.append(.container((try? container(open)) ?? .unspecified, csids: open)); open = [] }
        }
        for (i, s) in path.enumerated() {
            if i < path.count - 1, compressible(i, s), let c = csid(of: s) {
                if open.count == csidsPerContainer { close() }
                open.append(c)
            } else {
                close()
                out.append(.sid(s))
            }
        }
        close()
        return out
    }

    /// The segments a path of containers and SIDs visits, one per C-SID: the
    /// inverse of ``compress(_:compressible:)`` for lists it made.
    /// - Parameter segments: a segment list in path order (containers or full SIDs).
    public func expand(_ segments: [IPv6Address]) -> [IPv6Address] {
        var out: [IPv6Address] = []
        for (i, s) in segments.enumerated() {
            if i < segments.count - 1, let cs = csids(in: s) {
                for c in cs { out.append((try? sid(csid: c)) ?? s) }
            } else {
                out.append(s)
            }
        }
        return out
    }
}

/// One entry of a compressed segment list.
public enum CompressedSegment: Hashable, Sendable, CustomStringConvertible {
    /// A SID carried as it is (not compressible, or the final destination).
    case sid(IPv6Address)
    /// A container: its 128-bit value and the C-SIDs it carries, in visiting order.
    case container(IPv6Address, csids: [UInt64])

    /// The 128-bit Segment List entry.
    public var sid: IPv6Address {
        switch self {
        case .sid(let a): return a
        case .container(let a, _): return a
        }
    }

    public var description: String {
        switch self {
        case .sid(let a): return a.description
        case .container(let a, let cs): return "\(a) [\(cs.map { String($0, radix: 16) }.joined(separator: " "))]"
        }
    }
}

/// Why a C-SID configuration, C-SID or container is not usable.
public struct CSIDError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The class of problem (`kind.rawValue` is stable for scripts).
    public struct Kind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }
        /// Block or C-SID length out of range.
        public static let invalidFormat = Kind(rawValue: "invalidFormat")
        /// A C-SID of 0 or wider than the C-SID length.
        public static let csidOutOfRange = Kind(rawValue: "csidOutOfRange")
        /// No C-SIDs, or more than a container holds.
        public static let containerFull = Kind(rawValue: "containerFull")
    }
    /// The class of problem.
    public var kind: Kind
    /// A sentence for people.
    public var message: String
    public init(_ kind: Kind, _ message: String) { self.kind = kind; self.message = message }
    public var description: String { "\(message) (\(kind))" }
}
