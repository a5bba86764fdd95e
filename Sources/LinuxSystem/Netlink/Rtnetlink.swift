import Glibc
import SRv6Paths

/// A local interface address (rtnetlink `RTM_NEWADDR` / `RTM_DELADDR`).
public struct InterfaceAddress: Hashable, Sendable, CustomStringConvertible {
    /// IPv4 addresses are IPv4-mapped, like ``SocketEndpoint``.
    public var address: IPv6Address
    /// `ifa_prefixlen`
    public var prefixLength: UInt8
    /// `ifa_index`
    public var interfaceIndex: UInt32
    /// `ifa_scope` (0 global, 253 link, 254 host)
    public var scope: UInt8
    /// `IFA_FLAGS` (or `ifa_flags`): e.g. 0x40 tentative, 0x02 nodad.
    public var flags: UInt32
    /// Whether the address is IPv4.
    public var isIPv4: Bool

    public var description: String {
        "\(SocketEndpoint(address, port: 0).hostText)/\(prefixLength) ifindex \(interfaceIndex)"
    }

    /// Decodes `struct ifaddrmsg` + attributes.
    package init(decoding m: NetlinkMessage) throws(NetlinkDecodingError) {
        var r = ByteReader(m.payload)
        guard let family = r.u8(), let plen = r.u8(), let f = r.u8(), let scope = r.u8(), let index = r.u32() else {
            throw NetlinkDecodingError(what: "ifaddrmsg", offset: 0)
        }
        let attrs = try NetlinkAttribute.decode(m.payload, from: 8)
        guard let a = attrs.first(2) ?? attrs.first(1) else {      // IFA_LOCAL, else IFA_ADDRESS
            throw NetlinkDecodingError(what: "address message without IFA_ADDRESS", offset: 8)
        }
        guard (family == UInt8(AF_INET) && a.value.count == 4) || (family == UInt8(AF_INET6) && a.value.count == 16) else {
            throw NetlinkDecodingError(what: "address of family \(family) with \(a.value.count) bytes", offset: a.offset)
        }
        address = SocketEndpoint.fromRaw(a.value, port: 0).address
        isIPv4 = family == UInt8(AF_INET)
        prefixLength = plen
        interfaceIndex = index
        self.scope = scope
        flags = try attrs.first(8)?.u32() ?? UInt32(f)
    }
}


/// rtnetlink (`NETLINK_ROUTE`) through the same client: local addresses
/// (routes and rules: ``RouteTable``).
public enum Rtnetlink {
    /// `RTM_NEWADDR`
    public static let newAddress = NetlinkMessageType(rawValue: 20)
    /// `RTM_DELADDR`
    public static let deleteAddress = NetlinkMessageType(rawValue: 21)
    /// `RTM_GETADDR`
    public static let getAddress = NetlinkMessageType(rawValue: 22)
    /// `RTNLGRP_IPV4_IFADDR`
    public static let ipv4AddressGroup: UInt32 = 5
    /// `RTNLGRP_IPV6_IFADDR`
    public static let ipv6AddressGroup: UInt32 = 9

    /// The `RTM_GETADDR` dump request body (`struct ifaddrmsg`, family 0 = all).
    static func addressDumpPayload(family: UInt8 = 0) -> [UInt8] { [family, 0, 0, 0, 0, 0, 0, 0] }

    /// Every address of the current namespace (`ip addr` as data).
    public static func addresses(on connection: NetlinkConnection) throws(NetlinkError) -> [InterfaceAddress] {
        let replies = try connection.request(type: getAddress, flags: .dump, payload: addressDumpPayload(), operation: "rtnetlink RTM_GETADDR")
        var out: [InterfaceAddress] = []
        for m in replies where m.type == newAddress {
            if let a = try? InterfaceAddress(decoding: m) { out.append(a) }
        }
        return out
    }
}
