import Foundation
import SRv6Paths
import SubflowSteering
import LinuxSystem

/// A bounded TCP transfer between two namespaces of a ``TestLab`` (test-only
/// plumbing): the client binds its 4-tuple before connecting so steering keyed
/// on it applies from the SYN on.
package enum TCPTransfer {
    package struct Failed: Error, CustomStringConvertible {
        package var description: String
    }

    package static func sockaddr6(_ a: IPv6Address, _ port: UInt16) -> sockaddr_in6 {
        var sa = sockaddr_in6()
        sa.sin6_family = sa_family_t(AF_INET6)
        sa.sin6_port = port.bigEndian
        withUnsafeMutableBytes(of: &sa.sin6_addr) { $0.copyBytes(from: a.bytes) }
        return sa
    }

    package static func bind(_ fd: Int32, _ a: IPv6Address, _ port: UInt16) throws {
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var sa = sockaddr6(a, port)
        let r = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
        if r != 0 { throw Failed(description: "bind [\(a)]:\(port): \(String(cString: strerror(errno)))") }
    }

    package static func timeouts(_ fd: Int32, seconds: Int) {
        var tv = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Sends `bytes` from `client` (inside namespace `clientNS`) to `server`
    /// (a listener created inside `serverNS`); returns the bytes the server
    /// received. Everything is bounded by `seconds`.
    package static func run(lab: TestLab, clientNode: String, serverNode: String, flow: FourTuple,
                    bytes: Int, seconds: Int = 20) throws -> Int {
        try run(clientNamespace: lab.ns(clientNode), serverNamespace: lab.ns(serverNode), flow: flow, bytes: bytes, seconds: seconds)
    }

    /// The same between two named network namespaces (a ``Testbed`` node's `namespace`).
    package static func run(clientNamespace: String, serverNamespace: String, flow: FourTuple,
                    bytes: Int, seconds: Int = 20) throws -> Int {
        let listener = try NetworkNamespace.run(in: serverNamespace) { () throws -> Int32 in
            let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
            try bind(fd, .unspecified, flow.remotePort)
            guard listen(fd, 4) == 0 else { throw Failed(description: "listen: \(String(cString: strerror(errno)))") }
            return fd
        }
        defer { close(listener) }
        let client = try NetworkNamespace.run(in: clientNamespace) { () throws -> Int32 in
            let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
            try bind(fd, flow.localAddress, flow.localPort)
            return fd
        }
        defer { close(client) }
        timeouts(client, seconds: seconds)

        let received = ReceivedCounter()
        let done = DispatchSemaphore(value: 0)
        let server = Thread {
            defer { done.signal() }
            var pfd = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, Int32(seconds * 1000)) == 1 else { return }
            let conn = accept(listener, nil, nil)
            guard conn >= 0 else { return }
            defer { close(conn) }
            timeouts(conn, seconds: seconds)
            var buf = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = recv(conn, &buf, buf.count, 0)
                if n <= 0 { break }
                received.add(n)
            }
        }
        server.start()
        var sa = sockaddr6(flow.remoteAddress, flow.remotePort)
        let c = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
        guard c == 0 else {
            let e = errno
            shutdown(listener, Int32(SHUT_RDWR))
            _ = done.wait(timeout: .now() + .seconds(seconds))
            throw Failed(description: "connect \(flow): \(String(cString: strerror(e)))")
        }
        let chunk = [UInt8](repeating: 0x5a, count: 65536)
        var sent = 0
        while sent < bytes {
            let n = chunk.withUnsafeBytes { send(client, $0.baseAddress, min($0.count, bytes - sent), Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }
            sent += n
        }
        shutdown(client, Int32(SHUT_WR))
        guard done.wait(timeout: .now() + .seconds(seconds)) == .success else {
            throw Failed(description: "receiver did not finish within \(seconds) s (\(received.value) of \(sent) bytes)")
        }
        return received.value
    }
}

package final class ReceivedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    package func add(_ k: Int) { lock.lock(); n += k; lock.unlock() }
    package var value: Int { lock.lock(); defer { lock.unlock() }; return n }
}
