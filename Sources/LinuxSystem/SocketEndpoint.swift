import Glibc
import SRv6Paths

/// An IP address and TCP port. IPv4 addresses are held as IPv4-mapped IPv6
/// (`::ffff:a.b.c.d`) and go to the kernel as `AF_INET`.
public struct SocketEndpoint: Hashable, Sendable, CustomStringConvertible {
    public var address: IPv6Address
    public var port: UInt16
    public init(_ address: IPv6Address, port: UInt16) {
        self.address = address
        self.port = port
    }
    /// Whether the address is IPv4-mapped.
    public var isIPv4: Bool { address.high == 0 && address.low >> 32 == 0xffff }
    /// The 4 IPv4 bytes of a mapped address.
    package var ipv4Bytes: [UInt8] { Array(address.bytes[12..<16]) }
    /// The address alone: dotted quad for IPv4, RFC 5952 text for IPv6.
    public var hostText: String { isIPv4 ? ipv4Bytes.map(String.init).joined(separator: ".") : address.description }
    public var description: String {
        isIPv4 ? "\(ipv4Bytes.map(String.init).joined(separator: ".")):\(port)" : "[\(address)]:\(port)"
    }
    /// Parses `[ADDR]:PORT`, `ADDR` (port 0) or `a.b.c.d:PORT`.
    public init?(parsing s: String) {
        if s.hasPrefix("["), let close = s.firstIndex(of: "]") {
            guard let a = IPv6Address(String(s[s.index(after: s.startIndex)..<close])) else { return nil }
            let rest = s[s.index(after: close)...]
            if rest.isEmpty { self.init(a, port: 0); return }
            guard rest.hasPrefix(":"), let p = UInt16(rest.dropFirst()) else { return nil }
            self.init(a, port: p)
        } else if let a = IPv6Address(s) {
            self.init(a, port: 0)
        } else {
            let parts = s.split(separator: ":")
            let quad = parts[0].split(separator: ".").compactMap { UInt8($0) }
            guard quad.count == 4, parts.count <= 2 else { return nil }
            let port = parts.count == 2 ? UInt16(parts[1]) : 0
            guard let port else { return nil }
            self.init(IPv6Address(bytes: [UInt8](repeating: 0, count: 10) + [0xff, 0xff] + quad), port: port)
        }
    }
    /// From an address family and raw address bytes (4 or 16).
    package static func fromRaw(_ bytes: [UInt8], port: UInt16) -> SocketEndpoint {
        bytes.count == 4 ? SocketEndpoint(IPv6Address(bytes: [UInt8](repeating: 0, count: 10) + [0xff, 0xff] + bytes), port: port)
                         : SocketEndpoint(IPv6Address(bytes: bytes), port: port)
    }
}

extension SocketEndpoint {
    /// As `sockaddr_in6` (IPv4-mapped addresses stay mapped: AF_INET6 sockets accept them).
    package var sockaddr: sockaddr_in6 {
        var sa = sockaddr_in6()
        sa.sin6_family = sa_family_t(AF_INET6)
        sa.sin6_port = port.bigEndian
        let b = address.bytes
        withUnsafeMutableBytes(of: &sa.sin6_addr) { p in for i in 0..<16 { p[i] = b[i] } }
        return sa
    }

    /// Calls `body` with the endpoint as a `sockaddr` and its length, for `bind`, `connect` and
    /// `sendto`. `scopeID` sets `sin6_scope_id` (the interface of a link-local peer).
    package func withSockaddr<R>(scopeID: UInt32 = 0, _ body: (UnsafePointer<Glibc.sockaddr>, socklen_t) throws -> R) rethrows -> R {
        var sa = sockaddr
        sa.sin6_scope_id = scopeID
        return try withUnsafePointer(to: &sa) {
            try $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) { try body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
    }

    /// The endpoint a call such as `getsockname` or `getpeername` writes, when it returns 0.
    package static func reading(_ call: String, _ body: (UnsafeMutablePointer<Glibc.sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32) throws(SystemCallError) -> SocketEndpoint {
        var sa = sockaddr_in6()
        var len = socklen_t(MemoryLayout<sockaddr_in6>.size)
        try syscallValue(call) {
            withUnsafeMutablePointer(to: &sa) { $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) { body($0, &len) } }
        }
        return SocketEndpoint(sockaddrIn6: sa)
    }

    package init(sockaddrIn6 sa: sockaddr_in6) {
        var a = sa.sin6_addr
        let bytes = withUnsafeBytes(of: &a) { Array($0) }
        self.init(IPv6Address(bytes: bytes), port: UInt16(bigEndian: sa.sin6_port))
    }

    /// From the bytes of a `sockaddr_in` or `sockaddr_in6` (told apart by family).
    /// From a `sockaddr_in` or `sockaddr_in6` in memory (at least 28 bytes; family AF_INET
    /// reads an IPv4 address and gives it IPv4-mapped), without copying it.
    package init(sockaddr p: UnsafeRawBufferPointer) {
        precondition(p.count >= 28, "a sockaddr_in6 is 28 bytes")
        let family = p.loadUnaligned(fromByteOffset: 0, as: UInt16.self)
        let port = UInt16(bigEndian: p.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
        if family == UInt16(AF_INET) {
            let v4 = UInt64(UInt32(bigEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
            self.init(IPv6Address(high: 0, low: 0xffff_0000_0000 | v4), port: port)
        } else {
            self.init(IPv6Address(high: UInt64(bigEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
                                  low: UInt64(bigEndian: p.loadUnaligned(fromByteOffset: 16, as: UInt64.self))), port: port)
        }
    }

    package init(sockaddrBytes b: [UInt8]) {
        var r = ByteReader(b)
        let family = r.u16() ?? 0
        let port = r.read(UInt16.self, bigEndian: true) ?? 0
        if family == UInt16(AF_INET) {
            self = .fromRaw(Array(b[4..<8]), port: port)
        } else {
            self = .fromRaw(Array(b[8..<24]), port: port)
        }
    }
}

/// A TCP 4-tuple as the sending host sees it: its own address and port, the
/// peer's address and port.
public struct FourTuple: Hashable, Sendable, CustomStringConvertible {
    public var localAddress: IPv6Address
    public var localPort: UInt16
    public var remoteAddress: IPv6Address
    public var remotePort: UInt16

    public init(local: IPv6Address, localPort: UInt16, remote: IPv6Address, remotePort: UInt16) {
        self.localAddress = local
        self.localPort = localPort
        self.remoteAddress = remote
        self.remotePort = remotePort
    }

    /// The flow between two endpoints.
    public init(_ local: SocketEndpoint, _ remote: SocketEndpoint) {
        self.init(local: local.address, localPort: local.port, remote: remote.address, remotePort: remote.port)
    }

    /// The same connection seen from the peer.
    public var reversed: FourTuple {
        FourTuple(local: remoteAddress, localPort: remotePort, remote: localAddress, remotePort: localPort)
    }

    public var description: String { "[\(localAddress)]:\(localPort) -> [\(remoteAddress)]:\(remotePort)" }
}
