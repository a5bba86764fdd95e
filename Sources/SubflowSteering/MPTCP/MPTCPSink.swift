import Glibc
import SRv6Paths
import LinuxSystem

/// What an ``MPTCPSink`` saw of one connection.
public struct SinkReport: Hashable, Sendable {
    /// One subflow as the receiver saw it.
    public struct Subflow: Hashable, Sendable {
        /// The sink's end.
        public var local: SocketEndpoint
        /// The sender's end.
        public var remote: SocketEndpoint
        /// Bytes received on this subflow (`tcpi_bytes_received`, last value seen).
        public var bytesReceived: UInt64
    }

    /// The sender of the initial subflow.
    public var peer: SocketEndpoint
    /// Bytes read from the connection.
    public var bytes: UInt64
    /// From accept to end of stream.
    public var seconds: Double
    /// Whether the connection used MPTCP (did not fall back to TCP).
    public var multipath: Bool
    /// The connection token (`mptcpi_token`), when MPTCP.
    public var token: UInt32?
    /// Every subflow seen during the transfer.
    public var subflows: [Subflow]
    /// With verification on: the stream checked against ``TransferPattern``.
    public var verification: TransferPattern.Verifier?

    /// Whether verification was on and every byte read was the pattern's.
    public var verified: Bool { verification.map { $0.firstMismatch == nil && $0.offset == bytes } ?? false }
}

/// An MPTCP receiver that counts bytes per subflow: `srte serve`.
///
/// A server on the userspace path manager accepts joins only while some process
/// subscribes to `mptcp_pm_events` (anywhere on the host: the kernel's check is not
/// per namespace), so the sink subscribes for as long as it exists.
///
/// ```swift
/// let sink = try MPTCPSink(listen: SocketEndpoint(.unspecified, port: 5201))
/// let report = try sink.serveOne(timeout: .seconds(60))
/// ```
public final class MPTCPSink: @unchecked Sendable {
    /// The listening socket.
    public let listener: MPTCPSocket
    private let events: MPTCPEventSubscription?
    /// Steers each accepted subflow's replies along its reversed SRH (`--reflect`), when set.
    public var reflector: SRHReflector?

    /// Listens on `endpoint` (any address: `IPv6Address.unspecified`).
    /// - Throws: ``SubflowError`` (MPTCP disabled) or a system error (address in use, …).
    public init(listen endpoint: SocketEndpoint) throws {
        listener = try MPTCPSocket()
        try listener.setOption(level: SOL_SOCKET, name: SO_REUSEADDR, value: 1)
        try listener.bind(endpoint)
        try listener.listen()
        if let state = MPTCPNamespaceState.current(), state.isUserspace {
            events = try MPTCPPathManager().subscribe()
        } else {
            events = nil
        }
    }

    /// The address and port actually listened on.
    public var endpoint: SocketEndpoint { get throws { try listener.localEndpoint() } }

    /// Accepts one connection, reads it to the end, and reports.
    /// - Parameters:
    ///   - timeout: how long to wait for the connection, and for each read.
    ///   - verify: check every byte against ``TransferPattern`` (what srte's senders write).
    /// - Throws: ``SubflowError`` or `SystemCallError`; a `timedOut`
    ///   `SystemCallError` (ETIMEDOUT) when nothing arrives in time.
    public func serveOne(timeout: Duration = .seconds(3600), verify: Bool = false) throws -> SinkReport {
        guard try listener.waitReadable(timeout: timeout) else {
            throw SystemCallError("accept (no connection within \(timeout))", errno: ETIMEDOUT)
        }
        let conn = try listener.accept()
        let start = ContinuousClock.now
        try reflector?.reflect()
        let peer = (try? conn.remoteEndpoint()) ?? SocketEndpoint(.unspecified, port: 0)
        var total: UInt64 = 0
        var seen: [SocketEndpoint: SinkReport.Subflow] = [:]   // keyed by the sender's end
        var token: UInt32? = nil
        var multipath = false
        var lastSnapshot = ContinuousClock.now
        func snapshot() {
            guard let full = try? conn.fullInfo() else { return }
            token = full.info.token
            multipath = !full.info.isFallback
            for s in full.subflows {
                let prior = seen[s.remote]?.bytesReceived ?? 0
                seen[s.remote] = SinkReport.Subflow(local: s.local, remote: s.remote, bytesReceived: max(prior, s.bytesReceived))
            }
        }
        var buffer = [UInt8](repeating: 0, count: 1 << 18)
        var verifier: TransferPattern.Verifier? = verify ? TransferPattern.Verifier() : nil
        while true {
            guard try conn.waitReadable(timeout: timeout) else {
                throw SystemCallError("recv (no data within \(timeout))", errno: ETIMEDOUT)
            }
            let n = try syscallValue("recv") { buffer.withUnsafeMutableBytes { recv(conn.fileDescriptor, $0.baseAddress, $0.count, 0) } }
            if n == 0 { break }
            total += UInt64(n)
            if verifier != nil { buffer.withUnsafeBytes { verifier!.check(UnsafeRawBufferPointer(rebasing: $0[0..<n])) } }
            if ContinuousClock.now - lastSnapshot > .milliseconds(100) {
                snapshot()
                try reflector?.reflect()
                _ = try? events?.poll(timeout: .zero)     // keep the event socket drained
                lastSnapshot = ContinuousClock.now
            }
        }
        snapshot()
        let d = ContinuousClock.now - start
        let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        let subflows = seen.values.sorted { ($0.remote.port, "\($0.remote.address)") < ($1.remote.port, "\($1.remote.address)") }
        return SinkReport(peer: peer, bytes: total, seconds: seconds, multipath: multipath, token: token, subflows: subflows,
                          verification: verifier)
    }
}
