import Glibc

/// Request/response over one netlink transport: sequence numbers, acks, dumps.
///
/// Every request asks for an ack (`NLM_F_ACK`), so success is confirmed and
/// failure carries the kernel's errno and extended-ack message. Replies are
/// checked: a reply for another sequence number or port is rejected, except
/// late replies to earlier (timed-out) requests, which are dropped.
///
/// Not thread-safe: one request at a time (owners serialise with a lock).
public final class NetlinkConnection {
    /// The transport (a ``MNLSocket``, or a fake).
    public let transport: NetlinkTransport
    fileprivate var lastSequence: UInt32
    /// Every datagram sent and received, when set (used to capture golden bytes).
    public var trace: ((_ sent: Bool, _ bytes: [UInt8]) -> Void)?

    /// A connection over `transport` (a kernel socket, or a fake answering at the message level).
    /// - Parameters:
    ///   - transport: where datagrams go and come from.
    ///   - firstSequence: the sequence number of the first request minus one.
    public init(transport: NetlinkTransport, firstSequence: UInt32 = 0) {
        self.transport = transport
        self.lastSequence = firstSequence
    }

    /// Opens a libmnl socket for `proto` in the current network namespace.
    public convenience init(_ proto: NetlinkProtocol) throws(NetlinkError) {
        self.init(transport: try MNLSocket(proto), firstSequence: UInt32(truncatingIfNeeded: time(nil)))
    }

    /// Sends a request and collects its replies until the ack (or `NLMSG_DONE` for a dump).
    ///
    /// - Parameters:
    ///   - type: the message type (family id for generic netlink).
    ///   - flags: extra flags (`.dump`, `.create`…); `.request` and `.ack` are always set.
    ///   - payload: the message body.
    ///   - operation: a name for errors.
    /// - Returns: the data messages received (none for a plain command).
    /// - Throws: ``NetlinkError`` with the kernel's errno and extended-ack message.
    @discardableResult
    public func request(type: NetlinkMessageType, flags: NetlinkFlags = [], payload: [UInt8], operation: @autoclosure () -> String) throws(NetlinkError) -> [NetlinkMessage] {
        let isDump = flags.contains(.dump)
        var replies: [NetlinkMessage] = []
        try exchange(type: type, flags: flags.union([.request, .ack]), payload: payload, operation: operation()) { (m, seq) throws(NetlinkError) -> Bool in
            switch m.type {
            case .error:
                // The ack (final), or the request's error.
                if let e = try Self.error(in: m, operation: operation(), sequence: seq) { throw e }
                return true
            case .done:
                // A dump's end (final). Its payload is an int: negative when
                // the dump failed part-way, possibly with extended-ack TLVs.
                if let e = NetlinkError.fromDoneMessage(m, operation: operation()) { throw e }
                return isDump
            default:
                replies.append(m)
                return false
            }
        }
        return replies
    }

    /// Sends one message and hands every reply to it to `handle` until `handle` says it was the
    /// last: replies to earlier requests that timed out are dropped, NOOPs skipped, a reply for
    /// another port, a sequence out of place and an overrun are errors.
    private func exchange(type: NetlinkMessageType, flags: NetlinkFlags, payload: [UInt8], operation: @autoclosure () -> String,
                          _ handle: (NetlinkMessage, UInt32) throws(NetlinkError) -> Bool) throws(NetlinkError) {
        lastSequence &+= 1
        if lastSequence == 0 { lastSequence = 1 }
        let seq = lastSequence
        let bytes = NetlinkMessage(type: type, flags: flags, sequence: seq, portID: 0, payload: payload).encoded
        trace?(true, bytes)
        try transport.send(bytes)
        while true {
            guard let datagram = try transport.receive() else {
                throw NetlinkError(operation: operation(), errno: ETIMEDOUT, extAckMessage: "no reply from the kernel", sequence: seq)
            }
            trace?(false, datagram)
            let messages: [NetlinkMessage]
            do { messages = try NetlinkMessage.decode(datagram) } catch {
                throw NetlinkError(operation: operation(), errno: EBADMSG, extAckMessage: error.description, sequence: seq)
            }
            for m in messages {
                if m.sequence != seq {
                    // A late reply to an earlier request that timed out (at most 1023 requests
                    // back, counted modulo 2^32 as the numbers wrap): drop it.
                    let behind = seq &- m.sequence
                    if behind > 0 && behind < 1024 { continue }
                    throw NetlinkError(operation: operation(), errno: EPROTO, extAckMessage: "reply has sequence \(m.sequence), expected \(seq)", sequence: seq)
                }
                if m.portID != 0 && m.portID != transport.portID {
                    throw NetlinkError(operation: operation(), errno: EPROTO, extAckMessage: "reply for port \(m.portID), this socket is \(transport.portID)", sequence: seq)
                }
                switch m.type {
                case .noop:
                    continue
                case .overrun:
                    throw NetlinkError(operation: operation(), errno: ENOBUFS, extAckMessage: "netlink overrun", sequence: seq)
                default:
                    if try handle(m, seq) { return }
                }
            }
        }
    }

    /// The error an NLMSG_ERROR message carries (nil: an ack).
    static func error(in m: NetlinkMessage, operation: @autoclosure () -> String, sequence seq: UInt32) throws(NetlinkError) -> NetlinkError? {
        // An ack (error 0): no error to name.
        if m.payload.count >= 8, m.payload.withUnsafeBytes({ $0.loadUnaligned(as: Int32.self) }) == 0 { return nil }
        do { return try NetlinkError.fromErrorMessage(m, operation: operation()) } catch {
            throw NetlinkError(operation: operation(), errno: EBADMSG, extAckMessage: error.description, sequence: seq)
        }
    }
}

extension NetlinkConnection {
    /// Sends a request that the kernel answers with exactly one message (a sock_diag request
    /// for one socket, by its 4-tuple) without asking for an ack: one datagram back instead of
    /// two. A failure still comes back (the kernel acks every error).
    ///
    /// - Parameters:
    ///   - type: the message type.
    ///   - payload: the message body.
    ///   - operation: a name for errors.
    /// - Returns: the answer.
    /// - Throws: ``NetlinkError`` with the kernel's errno and extended-ack message.
    public func query(type: NetlinkMessageType, payload: [UInt8], operation: @autoclosure () -> String) throws(NetlinkError) -> NetlinkMessage {
        var answer: NetlinkMessage? = nil
        try exchange(type: type, flags: [.request], payload: payload, operation: operation()) { (m, seq) throws(NetlinkError) -> Bool in
            if m.type == .error {
                throw try Self.error(in: m, operation: operation(), sequence: seq)
                    ?? NetlinkError(operation: operation(), errno: ENODATA, extAckMessage: "the kernel acknowledged without an answer", sequence: seq)
            }
            answer = m
            return true
        }
        return answer!
    }
}

/// Runs `body` on a new POSIX thread (not on the cooperative pool: it blocks).
func startThread(_ body: @escaping @Sendable () -> Void) {
    final class Box: @unchecked Sendable { let f: @Sendable () -> Void; init(_ f: @escaping @Sendable () -> Void) { self.f = f } }
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    var tid = pthread_t()
    let r = pthread_create(&tid, nil, { p in
        let b = Unmanaged<AnyObject>.fromOpaque(p!).takeRetainedValue() as! Box
        b.f()
        return nil
    }, box)
    precondition(r == 0, "pthread_create failed: \(r)")
    pthread_detach(tid)
}
