import Glibc
import Synchronization

/// A generic netlink family as the controller (`nlctrl`) describes it.
public struct GenericNetlinkFamily: Hashable, Sendable {
    /// `CTRL_ATTR_FAMILY_NAME`
    public var name: String
    /// `CTRL_ATTR_FAMILY_ID`: the message type to use for this family.
    public var id: UInt16
    /// `CTRL_ATTR_VERSION`
    public var version: UInt32
    /// `CTRL_ATTR_MCAST_GROUPS`: group name → group id.
    public var multicastGroups: [String: UInt32]

    /// `CTRL_CMD_GETFAMILY`
    static let getFamilyCommand: UInt8 = 3

    /// The request payload that looks up `name` (genlmsghdr + `CTRL_ATTR_FAMILY_NAME`).
    static func lookupPayload(_ name: String) -> [UInt8] {
        var w = ByteWriter()
        w.append(GenericNetlinkHeader(command: getFamilyCommand, version: 1).encoded)
        w.attribute(2, string: name)
        return w.bytes
    }

    /// Decodes a `CTRL_CMD_NEWFAMILY` reply.
    package init(decoding m: NetlinkMessage) throws(NetlinkDecodingError) {
        _ = try GenericNetlinkHeader(decoding: m.payload)
        let attrs = try NetlinkAttribute.decode(m.payload, from: 4)
        guard let id = attrs.first(1), let name = attrs.first(2) else {
            throw NetlinkDecodingError(what: "family reply without CTRL_ATTR_FAMILY_ID/NAME", offset: 0)
        }
        self.id = try id.u16()
        self.name = name.string()
        self.version = try attrs.first(3)?.u32() ?? 0
        var groups: [String: UInt32] = [:]
        if let g = attrs.first(7) {
            for entry in try g.nested() {
                let ga = try entry.nested()
                if let n = ga.first(1), let i = ga.first(2) { groups[n.string()] = try i.u32() }
            }
        }
        self.multicastGroups = groups
    }

    /// Looks a family up by name.
    /// - Throws: ``NetlinkError`` (ENOENT when the kernel has no such family,
    ///   e.g. `mptcp_pm` without `CONFIG_MPTCP`).
    public static func resolve(_ name: String, on connection: NetlinkConnection) throws(NetlinkError) -> GenericNetlinkFamily {
        let op = "genetlink CTRL_CMD_GETFAMILY \(name)"
        let replies: [NetlinkMessage]
        do {
            replies = try connection.request(type: .genericControl, payload: lookupPayload(name), operation: op)
        } catch where error.errno == ENOENT && error.extAckMessage == nil {
            var e = error
            e.extAckMessage = "no generic netlink family \"\(name)\" in this kernel"
            throw e
        }
        guard let m = replies.first else {
            throw NetlinkError(operation: op, errno: EPROTO, extAckMessage: "no family in the reply")
        }
        do { return try GenericNetlinkFamily(decoding: m) } catch {
            throw NetlinkError(operation: op, errno: EBADMSG, extAckMessage: error.description)
        }
    }
}

/// Multicast messages from one netlink socket, as an `AsyncSequence`.
///
/// A dedicated thread blocks in `recv` (never a cooperative-pool thread) and
/// stops within ~100 ms of the consumer going away or ``cancel()``.
public final class NetlinkSubscription: @unchecked Sendable {
    private let socket: MNLSocket
    private let stopped = Atomic<Bool>(false)
    private let groups: [UInt32]
    /// Messages lost because the socket buffer overflowed (`ENOBUFS`).
    public var overruns: Int { overrunCount.load(ordering: .relaxed) }
    private let overrunCount = Atomic<Int>(0)

    /// Subscribes a new socket (in the current namespace) to `groups`.
    public init(_ proto: NetlinkProtocol, groups: [UInt32]) throws(NetlinkError) {
        socket = try MNLSocket(proto, receiveTimeout: .milliseconds(100))
        self.groups = groups
        for g in groups { try socket.join(group: g) }
    }

    /// The socket's file descriptor (for poll(2)).
    public var fileDescriptor: Int32 { socket.fileDescriptor }

    /// Shrinks or grows the receive buffer (tests provoke overruns with a small one).
    package func setReceiveBuffer(bytes: Int32) { socket.setReceiveBuffer(bytes: bytes) }

    /// Leaves the groups at once and stops the reader thread; the stream finishes.
    ///
    /// Leaving matters beyond this process: the kernel asks whether anyone on the host listens
    /// to a group (a userspace-PM server accepts MP_JOINs only while someone subscribes to
    /// `mptcp_pm_events`), and the socket itself may outlive this call by up to 100 ms (the
    /// reader thread's wait).
    public func cancel() {
        guard !stopped.exchange(true, ordering: .relaxed) else { return }
        for g in groups { socket.leave(group: g) }
    }

    deinit { stopped.store(true, ordering: .relaxed) }

    /// The messages, one element per netlink message, in arrival order.
    /// Only one consumer: calling this twice is a bug.
    public func messages() -> AsyncThrowingStream<NetlinkMessage, Error> {
        let (stream, continuation) = AsyncThrowingStream<NetlinkMessage, Error>.makeStream(bufferingPolicy: .unbounded)
        continuation.onTermination = { [weak self] _ in self?.cancel() }
        let socket = self.socket
        startThread { [self] in
            while !self.stopped.load(ordering: .relaxed) {
                do {
                    guard let d = try socket.receive() else { continue }
                    for m in try NetlinkMessage.decode(d) { continuation.yield(m) }
                } catch let e as NetlinkError where e.errno == ENOBUFS {
                    self.overrunCount.add(1, ordering: .relaxed)
                } catch {
                    continuation.finish(throwing: error)
                    return
                }
            }
            continuation.finish()
        }
        return stream
    }

    /// Every datagram already queued, as raw bytes (golden-byte capture).
    func receiveAllRaw() -> [[UInt8]] {
        socket.setReceiveTimeout(.milliseconds(20))
        var out: [[UInt8]] = []
        while let d = try? socket.receive() { out.append(d) }
        return out
    }

    /// Every datagram already queued (up to `max`), without waiting: for a caller whose poll(2)
    /// said the socket is readable.
    public func receiveQueued(max: Int) throws -> [NetlinkMessage] {
        var out: [NetlinkMessage] = []
        for _ in 0..<max {
            guard let d = try socket.receiveNow() else { break }
            out += try NetlinkMessage.decode(d)
        }
        return out
    }

    /// Waits for the next datagram synchronously (nil on timeout), for callers
    /// with their own thread.
    public func receive(timeout: Duration) throws -> [NetlinkMessage]? {
        socket.setReceiveTimeout(timeout)
        guard let d = try socket.receive() else { return nil }
        return try NetlinkMessage.decode(d)
    }
}
