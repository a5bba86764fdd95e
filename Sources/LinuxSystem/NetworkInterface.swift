import Glibc

/// Network interfaces of the calling thread's network namespace.
package enum NetworkInterface {
    /// The index of interface `name`.
    /// - Throws: ``SystemCallError`` (ENODEV: no such interface in this namespace).
    package static func index(of name: String) throws(SystemCallError) -> UInt32 {
        let i = if_nametoindex(name)
        guard i != 0 else { throw SystemCallError("no interface \(name) in this network namespace (if_nametoindex)", errno: .current) }
        return i
    }

    /// The MTU of interface `name` (`SIOCGIFMTU`).
    package static func mtu(of name: String) throws(SystemCallError) -> UInt32 {
        let fd = try syscallValue("socket for SIOCGIFMTU") { socket(AF_INET6, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        defer { close(fd) }
        var req = ifreq()
        withUnsafeMutableBytes(of: &req.ifr_ifrn.ifrn_name) { p in
            p.copyBytes(from: Array(name.utf8.prefix(15)) + [0])
        }
        try syscallValue("ioctl(SIOCGIFMTU, \(name))") { ioctl(fd, UInt(SIOCGIFMTU), &req) }
        return UInt32(req.ifr_ifru.ifru_mtu)
    }

    /// The names of all interfaces, in index order.
    package static func names() throws(SystemCallError) -> [String] {
        guard let list = if_nameindex() else { throw SystemCallError("if_nameindex", errno: .current) }
        defer { if_freenameindex(list) }
        var names: [String] = []
        var p = list
        while p.pointee.if_index != 0 {
            names.append(String(cString: p.pointee.if_name))
            p += 1
        }
        return names
    }
}
