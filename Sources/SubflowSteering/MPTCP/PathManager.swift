import Glibc
import Synchronization
import LinuxSystem

/// The MPTCP userspace path manager of the current network namespace
/// (generic netlink family `mptcp_pm`).
///
/// ```swift
/// let pm = try MPTCPPathManager()
/// try pm.createSubflow(token: t, localID: 1, local: l, remote: r)
/// for try await e in try pm.events() { print(e) }
/// ```
///
/// Commands need `CAP_NET_ADMIN` and `net.mptcp.pm_type=1` in the namespace
/// (see ``MPTCPNamespaceState/check()``). Thread-safe.
public final class MPTCPPathManager: @unchecked Sendable {
    /// The resolved family (id, version, the `mptcp_pm_events` group id).
    public let family: GenericNetlinkFamily
    private let connection: NetlinkConnection
    private let lock = Mutex(())

    /// The multicast group carrying path-manager events.
    public static let eventGroupName = "mptcp_pm_events"

    /// Opens a netlink socket in the current namespace and resolves `mptcp_pm`.
    public init() throws(NetlinkError) {
        let c = try NetlinkConnection(.generic)
        family = try GenericNetlinkFamily.resolve("mptcp_pm", on: c)
        connection = c
    }

    /// Uses an existing connection (e.g. over a fake transport in tests).
    public init(connection c: NetlinkConnection) throws(NetlinkError) {
        family = try GenericNetlinkFamily.resolve("mptcp_pm", on: c)
        connection = c
    }

    var version: UInt8 { UInt8(truncatingIfNeeded: max(family.version, 1)) }

    /// Sends a prepared request; returns the data replies.
    @discardableResult
    public func send(_ command: MPTCPCommand, payload: [UInt8], flags: NetlinkFlags = []) throws(NetlinkError) -> [NetlinkMessage] {
        let type = NetlinkMessageType(rawValue: family.id)
        return try lock.withLock { _ throws(NetlinkError) -> [NetlinkMessage] in
            try connection.request(type: type, flags: flags, payload: payload, operation: "mptcp_pm \(command)")
        }
    }

    /// Captures every datagram sent and received (golden-byte capture).
    public func setTrace(_ f: (@Sendable (_ sent: Bool, _ bytes: [UInt8]) -> Void)?) {
        lock.withLock { _ in connection.trace = f }
    }

    /// `SUBFLOW_CREATE`: starts a subflow handshake. Returns before the
    /// handshake: watch for `SUB_ESTABLISHED` (not followed by `SUB_CLOSED`).
    ///
    /// - Parameters:
    ///   - localID: the local address id (1–255), managed by the caller; the
    ///     same address+port must always use the same id.
    ///   - token: the connection's token (`mptcpi_token`).
    ///   - local: local address and port (port 0: ephemeral).
    ///   - remote: the peer's address and port.
    ///   - interfaceIndex: the interface to bind the subflow to (0: any).
    ///   - backup: open it as a backup subflow (MP_JOIN with the B bit).
    /// - Throws: `NetlinkError`: -EADDRINUSE (98) when the 4-tuple is busy or
    ///   in TIME_WAIT, -EADDRNOTAVAIL (99) when the address is not local, -EINVAL
    ///   with "invalid token" and friends.
    public func createSubflow(token: UInt32, localID: UInt8, local: SocketEndpoint, remote: SocketEndpoint, interfaceIndex: Int32 = 0, backup: Bool = false) throws(NetlinkError) {
        try send(.subflowCreate, payload: MPTCPRequest.subflowCreate(version: version, token: token, localID: localID, local: local, remote: remote, interfaceIndex: interfaceIndex, backup: backup))
    }

    /// `SUBFLOW_DESTROY`: shuts the subflow down (FIN) and releases it. Both ports are required.
    public func destroySubflow(token: UInt32, local: SocketEndpoint, remote: SocketEndpoint) throws(NetlinkError) {
        try send(.subflowDestroy, payload: MPTCPRequest.subflowDestroy(version: version, token: token, local: local, remote: remote))
    }

    /// `SET_FLAGS`: sets or clears the backup flag of one subflow; the kernel sends MP_PRIO
    /// and the peer sees `SUB_PRIORITY` (this side gets no event).
    public func setBackup(token: UInt32, local: SocketEndpoint, remote: SocketEndpoint, backup: Bool) throws(NetlinkError) {
        try send(.setFlags, payload: MPTCPRequest.setFlags(version: version, token: token, local: local, remote: remote, backup: backup))
    }

    /// `ANNOUNCE`: advertises a local address to the peer (ADD_ADDR) with id `id`.
    public func announce(token: UInt32, id: UInt8, address: SocketEndpoint) throws(NetlinkError) {
        try send(.announce, payload: MPTCPRequest.announce(version: version, token: token, id: id, address: address))
    }

    /// `REMOVE`: withdraws local address `id` (RM_ADDR); subflows using it close.
    public func remove(token: UInt32, id: UInt8) throws(NetlinkError) {
        try send(.remove, payload: MPTCPRequest.remove(version: version, token: token, id: id))
    }

    /// Subscribes to `mptcp_pm_events` in the current namespace.
    ///
    /// While a subscription exists, a server on the userspace path manager
    /// accepts MP_JOINs in this namespace.
    public func subscribe() throws(NetlinkError) -> MPTCPEventSubscription {
        guard let g = family.multicastGroups[Self.eventGroupName] else {
            throw NetlinkError(operation: "mptcp_pm events", errno: ENOENT, extAckMessage: "the kernel's mptcp_pm family has no \(Self.eventGroupName) group")
        }
        return MPTCPEventSubscription(try NetlinkSubscription(.generic, groups: [g]), familyID: family.id)
    }

    /// Path-manager events as an `AsyncSequence` (a new subscription).
    public func events() throws(NetlinkError) -> AsyncThrowingStream<MPTCPEvent, Error> {
        try subscribe().events()
    }
}

/// A subscription to `mptcp_pm_events`.
public final class MPTCPEventSubscription: @unchecked Sendable {
    let subscription: NetlinkSubscription
    let familyID: UInt16
    init(_ s: NetlinkSubscription, familyID: UInt16) {
        subscription = s
        self.familyID = familyID
    }

    /// Stops delivery.
    public func cancel() { subscription.cancel() }

    /// Sets the socket's receive buffer: events beyond it are lost (ENOBUFS).
    package func setReceiveBuffer(bytes: Int32) { subscription.setReceiveBuffer(bytes: bytes) }

    /// The socket's file descriptor, for a caller's own poll(2).
    public var fileDescriptor: Int32 { subscription.fileDescriptor }

    /// Events decoded from the group's messages (others are skipped). One consumer.
    public func events() -> AsyncThrowingStream<MPTCPEvent, Error> {
        let raw = subscription.messages()
        let fid = familyID
        let (stream, continuation) = AsyncThrowingStream<MPTCPEvent, Error>.makeStream()
        let task = Task {
            do {
                for try await m in raw where m.type.rawValue == fid { continuation.yield(try MPTCPEvent(decoding: m)) }
                continuation.finish()
            } catch { continuation.finish(throwing: error) }
        }
        continuation.onTermination = { [subscription] _ in
            task.cancel()
            subscription.cancel()
        }
        return stream
    }

    /// The events already queued (up to `max` datagrams), without waiting: for a caller whose
    /// poll(2) on ``fileDescriptor`` said the socket is readable.
    public func queued(max: Int = 256) throws -> [MPTCPEvent] {
        try subscription.receiveQueued(max: max).filter { $0.type.rawValue == familyID }.map { m throws -> MPTCPEvent in try MPTCPEvent(decoding: m) }
    }

    /// The events that arrive within `timeout` (synchronous; for callers with their own loop).
    public func poll(timeout: Duration) throws -> [MPTCPEvent] {
        guard let ms = try subscription.receive(timeout: timeout) else { return [] }
        return try ms.filter { $0.type.rawValue == familyID }.map { m throws -> MPTCPEvent in try MPTCPEvent(decoding: m) }
    }
}

/// The namespace's MPTCP configuration, read from `/proc/sys/net/mptcp`.
public struct MPTCPNamespaceState: Hashable, Sendable {
    /// `net.mptcp.enabled`
    public var enabled: Bool
    /// `net.mptcp.pm_type` (0 in-kernel, 1 userspace), nil when absent (< 5.19).
    public var pmType: Int?
    /// `net.mptcp.path_manager` ("kernel", "userspace"; 6.15+).
    public var pathManager: String?

    /// Reads the state of the current network namespace.
    public static func current() -> MPTCPNamespaceState? {
        guard let e = (try? Sysctl.read("net/mptcp/enabled")).flatMap({ Int($0) }) else { return nil }
        return MPTCPNamespaceState(enabled: e != 0, pmType: (try? Sysctl.read("net/mptcp/pm_type")).flatMap { Int($0) },
                                   pathManager: try? Sysctl.read("net/mptcp/path_manager"))
    }

    /// Whether the userspace path manager is selected.
    public var isUserspace: Bool { pmType == 1 || pathManager == "userspace" }

    /// Throws the one actionable ``SubflowError`` when the namespace cannot run the draft-hesmans-mptcp-socket-03 operations.
    public static func check() throws(SubflowError) {
        guard let s = current() else {
            throw SubflowError(.mptcpDisabled, "this kernel has no MPTCP (/proc/sys/net/mptcp is missing): it needs CONFIG_MPTCP=y")
        }
        guard s.enabled else {
            throw SubflowError(.mptcpDisabled, "MPTCP is disabled in this network namespace: run `sysctl -w net.mptcp.enabled=1`")
        }
        guard s.isUserspace else {
            throw SubflowError(.notUserspacePathManager, "this network namespace uses the in-kernel MPTCP path manager: run `sysctl -w net.mptcp.pm_type=1` (userspace path manager) to open, close or re-prioritise subflows")
        }
    }
}


extension String {
    func trimmingCharacters(in set: String) -> String {
        let s = Set(set)
        var sub = self[...]
        while let f = sub.first, s.contains(f) { sub = sub.dropFirst() }
        while let l = sub.last, s.contains(l) { sub = sub.dropLast() }
        return String(sub)
    }
}
