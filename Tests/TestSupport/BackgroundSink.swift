import Foundation
import SubflowSteering

/// An `MPTCPSink` serving one connection on a thread of its own, and its report.
package final class SinkResult: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Result<SinkReport, Error>?
    private let done = DispatchSemaphore(value: 0)

    package init() {}

    /// Starts `sink.serveOne(timeout:)` on a new thread.
    package static func serving(_ sink: MPTCPSink, timeout: Duration = .seconds(30)) -> SinkResult {
        let r = SinkResult()
        Thread { r.set(Result { try sink.serveOne(timeout: timeout) }) }.start()
        return r
    }

    package func set(_ r: Result<SinkReport, Error>) {
        lock.lock(); value = r; lock.unlock()
        done.signal()
    }

    /// Whether the sink finished within `seconds`.
    package func finished(within seconds: Double) -> Bool { done.wait(timeout: .now() + seconds) == .success }

    package func get() throws -> SinkReport? { lock.lock(); defer { lock.unlock() }; return try value?.get() }
}

/// A Python program that knows nothing of srte: it opens an MPTCP socket
/// (`socket(AF_INET6, SOCK_STREAM, IPPROTO_MPTCP)`), optionally binds `local`, connects to
/// `remote`, sends `bytes` and closes. For `python3 -c`.
package func pythonMPTCPClient(to remote: String, port: UInt16, bytes: Int, bind local: (String, UInt16)? = nil) -> String {
    """
    import socket
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM, 262)
    \(local.map { "s.bind((\"\($0.0)\", \($0.1)))" } ?? "")
    s.connect(("\(remote)", \(port)))
    chunk = b"x" * 65536
    sent = 0
    while sent < \(bytes):
        n = min(len(chunk), \(bytes) - sent)
        s.sendall(chunk[:n])
        sent += n
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
    s.close()
    """
}
