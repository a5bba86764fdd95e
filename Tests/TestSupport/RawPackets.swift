import Glibc
import SRv6Paths
import LinuxSystem

/// Builds and sends raw IPv6 packets (test-only; IPV6_HDRINCL via IPPROTO_RAW).
package enum RawIPv6 {
    /// IPv6 header + SRH + UDP datagram. The UDP checksum uses the final
    /// destination (the SRH's last segment), as RFC 8200 §8.1 requires.
    package static func udpPacket(source: IPv6Address, srh: SegmentRoutingHeader, destinationPort: UInt16, payload: [UInt8]) throws -> [UInt8] {
        let srhBytes = try srh.encoded()
        let udpLength = 8 + payload.count
        var udp: [UInt8] = [0x9c, 0x40, UInt8(destinationPort >> 8), UInt8(destinationPort & 0xff),
                            UInt8(udpLength >> 8), UInt8(udpLength & 0xff), 0, 0] + payload
        var sum: UInt32 = 0
        var pseudo = source.bytes + srh.segments.last!.bytes
        pseudo += [0, 0, UInt8(udpLength >> 8), UInt8(udpLength & 0xff), 0, 0, 0, 17]
        let all = pseudo + udp + (udp.count % 2 == 1 ? [0] : [])
        for i in stride(from: 0, to: all.count, by: 2) { sum += UInt32(all[i]) << 8 | UInt32(all[i + 1]) }
        while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
        var ck = ~UInt16(sum)
        if ck == 0 { ck = 0xffff }
        udp[6] = UInt8(ck >> 8); udp[7] = UInt8(ck & 0xff)
        let payloadLength = srhBytes.count + udp.count
        var p: [UInt8] = [0x60, 0, 0, 0, UInt8(payloadLength >> 8), UInt8(payloadLength & 0xff), 43, 64]
        p += source.bytes + srh.activeSegment!.bytes
        return p + srhBytes + udp
    }

    /// IPv6 header + SRH bytes as given (full, reduced or with containers) + UDP datagram:
    /// `destination` is the IPv6 Destination Address, `final` the address the UDP checksum
    /// covers (Segment List[0]).
    package static func udpPacket(source: IPv6Address, destination: IPv6Address, srh srhBytes: [UInt8], final: IPv6Address,
                                  destinationPort: UInt16, payload: [UInt8]) -> [UInt8] {
        let udpLength = 8 + payload.count
        var udp: [UInt8] = [0x9c, 0x40, UInt8(destinationPort >> 8), UInt8(destinationPort & 0xff),
                            UInt8(udpLength >> 8), UInt8(udpLength & 0xff), 0, 0] + payload
        var sum: UInt32 = 0
        var pseudo = source.bytes + final.bytes
        pseudo += [0, 0, UInt8(udpLength >> 8), UInt8(udpLength & 0xff), 0, 0, 0, 17]
        let all = pseudo + udp + (udp.count % 2 == 1 ? [0] : [])
        for i in stride(from: 0, to: all.count, by: 2) { sum += UInt32(all[i]) << 8 | UInt32(all[i + 1]) }
        while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
        var ck = ~UInt16(sum)
        if ck == 0 { ck = 0xffff }
        udp[6] = UInt8(ck >> 8); udp[7] = UInt8(ck & 0xff)
        let payloadLength = srhBytes.count + udp.count
        var p: [UInt8] = [0x60, 0, 0, 0, UInt8(payloadLength >> 8), UInt8(payloadLength & 0xff), 43, 64]
        p += source.bytes + destination.bytes
        return p + srhBytes + udp
    }

    package static func send(_ packet: [UInt8], to destination: IPv6Address) throws {
        let fd = socket(AF_INET6, Int32(SOCK_RAW.rawValue), Int32(IPPROTO_RAW))
        guard fd >= 0 else { throw SystemCallError("socket(SOCK_RAW)", errno: errno) }
        defer { Glibc.close(fd) }
        var sa = sockaddr_in6()
        sa.sin6_family = sa_family_t(AF_INET6)
        withUnsafeMutableBytes(of: &sa.sin6_addr) { $0.copyBytes(from: destination.bytes) }
        let n = packet.withUnsafeBytes { p in
            withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, p.baseAddress, p.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        }
        guard n == packet.count else { throw SystemCallError("sendto(raw IPv6)", errno: errno) }
    }
}

/// A UDP socket bound to [::]:port (created inside a namespace, used from anywhere).
package final class UDPReceiver {
    package let fd: Int32

    package init(port: UInt16) throws {
        fd = socket(AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw SystemCallError("socket(SOCK_DGRAM)", errno: errno) }
        var sa = sockaddr_in6()
        sa.sin6_family = sa_family_t(AF_INET6)
        sa.sin6_port = port.bigEndian
        let r = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
        guard r == 0 else { let e = errno; Glibc.close(fd); throw SystemCallError("bind(udp \(port))", errno: e) }
    }

    /// The first datagram within `timeout` seconds, or nil.
    package func receive(timeout: Double) -> [UInt8]? {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, Int32(timeout * 1000)) == 1 else { return nil }
        var buf = [UInt8](repeating: 0, count: 2048)
        let n = recv(fd, &buf, buf.count, 0)
        return n > 0 ? Array(buf.prefix(n)) : nil
    }

    package func close() { Glibc.close(fd) }
}
