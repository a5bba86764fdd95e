import Foundation
import Glibc
import SRv6Paths
import LinuxSystem
import SubflowSteering

/// The agent's subflow protocol (Docs/AgentProtocol.md, version 1): the draft-hesmans-mptcp-socket-03
/// operations for programs that are not root, on their own MPTCP connections.
///
/// A request is one frame on the agent's control socket, the program's MPTCP socket attached
/// (SCM_RIGHTS) with the caller's credentials (SCM_CREDENTIALS). A request with flag
/// ``keepConnection`` keeps its connection open for the next one, each answered before the next
/// is read; without it the connection closes after the answer.
/// Every integer is in network byte order.
///
/// ```
/// request  header (16 bytes): "SRTA" | version u8 | op u8 | flags u16 | length u32 | reserved u32 = 0
/// response header (16 bytes): "SRTA" | version u8 | op u8 | flags u16 | length u32 | error i32
/// ```
public enum AgentProtocol {
    /// The first four bytes of every frame: "SRTA".
    public static let magic: [UInt8] = [0x53, 0x52, 0x54, 0x41]
    /// The protocol version this agent speaks.
    public static let version: UInt8 = 1
    /// Bytes of a request or response header.
    public static let headerLength = 16
    /// The longest request body (a tuple with the longest SRH fits: 48 + 2040).
    public static let maxBody = 4096
    /// Bytes of an encoded tuple before its SRH.
    public static let tupleLength = 48
    /// Header flag bit 0. In a request: the client will send further requests on this
    /// connection (without it the agent closes the connection after the answer, as agents
    /// before it did). In an answer: the agent keeps the connection open for the next request.
    /// An agent that does not know the bit answers EINVAL (flags must be 0) and closes.
    public static let keepConnection: UInt16 = 1

    /// The operations.
    public enum Operation: UInt8, Sendable {
        /// Version, agent pid, namespace cookie, the caller's credentials and grant. No socket.
        case hello = 1
        /// MPTCP_GET_SUB_IDS: every subflow's id and its fully-established and low-priority bits.
        case subflowIDs = 2
        /// MPTCP_OPEN_SUB_TUPLE: opens a subflow from a tuple (optional SRH).
        case openSubflow = 3
        /// MPTCP_CLOSE_SUB_ID: closes one subflow (FIN, or RST).
        case closeSubflow = 4
        /// MPTCP_GET_SUB_TUPLE: a subflow's tuple, with its SRH when the agent steers it.
        case subflowTuple = 5
        /// MPTCP_SUB_GETSOCKOPT: an option of one subflow (TCP_INFO, TCP_CONGESTION, …).
        case subflowOption = 6
        /// MPTCP_SUB_SETSOCKOPT: sets an option of one subflow (SO_MARK, IPV6_TCLASS, TCP_CONGESTION).
        case setSubflowOption = 7
        /// A subflow's priority (backup flag), MP_PRIO to the peer.
        case setPriority = 8
        /// The connection's events, on the request's Unix connection kept open.
        case events = 9
    }
}

/// An error answered to a request: an errno value the C API sets, and a message for a person.
struct BrokerError: Error {
    var errno: Int32
    var message: String
    init(_ errno: Int32, _ message: String) {
        self.errno = errno
        self.message = message
    }
}

/// An answer that waits for the kernel (a live option read): `answer(false)` is asked on each
/// turn of the agent's loop until it gives one, `answer(true)` once `deadline` passed (it must
/// answer then).
struct Deferred {
    let deadline: ContinuousClock.Instant
    let answer: (_ expired: Bool) -> Result<[UInt8], BrokerError>?
}

/// A request's connection: its socket (the request's descriptor, borrowed), its token and
/// its subflows when the request arrived.
struct BrokerConnection {
    let socket: MPTCPSocket
    let token: UInt32
    let subflows: [SubflowSnapshot]
}

/// Answers the agent's control socket: the `status` text request and the binary subflow
/// protocol (``AgentProtocol``). Never blocks: every client socket is non-blocking, a request
/// that is not complete waits in ``clients`` for the next ``serve(listener:readable:listenerReady:)`` (at most
/// ``requestTimeout``), an answer the client does not read goes out as it drains.
///
/// Every 4-tuple the broker touches comes from the connection whose socket came with the
/// request (MPTCP_FULL_INFO of that socket); the one exception, the 4-tuple of a subflow to
/// open, is checked to be unused before any steering is installed for it.
final class SubflowBroker {
    /// One connected client. A connection carries requests one after another (the C API keeps
    /// one per thread); each request is read on its own, with its own descriptors and
    /// credentials, and nothing of one request carries over to the next.
    struct Client {
        var fd: Int32
        /// The connecting process's uid (SO_PEERCRED), for the per-user limit of clients.
        var peerUID: UInt32?
        var input: [UInt8] = []
        var descriptors: [Int32] = []
        var credentials: UnixSocket.Credentials?
        /// Why the request is refused before it is read (several descriptors, changed credentials…).
        var refusal: BrokerError?
        var output: [UInt8] = []
        /// The current request is answered (its answer in ``output`` until written).
        var answered = false
        /// The connection ends once the answer is written: a text request, a frame whose end
        /// cannot be told (bad length, another version), end of file.
        var closing = false
        /// When the client is dropped if nothing changes: ``requestTimeout`` after a request's
        /// first byte or its answer, ``idleTimeout`` between requests.
        var deadline: ContinuousClock.Instant
        /// When the last request was answered (or the client connected): the idle client
        /// that waited longest is the one to go when the limits are reached.
        var lastActive: ContinuousClock.Instant
        /// Requests answered on this connection.
        var served = 0
        /// The current request's answer waits for the kernel (its operation and the wait).
        var pending: (op: UInt8, wait: Deferred)?

        /// Between requests: nothing read, nothing to write.
        var isIdle: Bool { !answered && pending == nil && input.isEmpty && descriptors.isEmpty }
    }

    static let requestTimeout: Duration = .seconds(2)
    /// A connection without a request for this long is closed (its client reconnects when it
    /// has one: the C API does so transparently).
    static let idleTimeout: Duration = .seconds(60)
    static let maxClients = 256
    /// Clients of one user other than root: one user's connections cannot take every slot.
    static let maxClientsPerUser = 64
    /// Where the broker picks the local port of a subflow whose tuple says 0 when the kernel
    /// cannot (an IPv4 subflow, or an agent whose connect-time program does not see every
    /// socket); otherwise the kernel picks an ephemeral port (``openFromAnyPort``).
    static let ports: ClosedRange<UInt16> = 43000...43999
    /// Local address ids the broker gives (the agent's own joins count up from 1).
    static let localIDs: ClosedRange<UInt8> = 128...255

    let steering: BPFSteering
    let pm: MPTCPPathManager
    let diag: NetlinkConnection
    let namespaceCookie: UInt64
    /// The current policy (its grants).
    let policy: () -> AgentPolicy
    /// The paths of the agent's rule for an engineered connection (the initial subflow's first),
    /// with the agent's open joins and the index of their path.
    let enginePaths: (UInt32) -> (paths: [PathSpec], joins: [(flow: FourTuple, path: Int)])?
    /// The agent's connect-time program, when it sees every socket of the namespace (attached
    /// at the cgroup v2 root): it steers a subflow the broker opens with local port 0 before
    /// its SYN and reports the port the kernel gave it.
    let onConnect: ConnectSteering?
    /// The local address id of the agent's own joins of connection `token` from `address`
    /// (port 0), if it opened any.
    let agentJoinID: (UInt32, IPv6Address) -> UInt8?
    /// The answer to a text request line, for the peer's credentials (SO_PEERCRED).
    let textAnswer: (String, UnixSocket.Credentials?) -> String

    var clients: [Client] = []
    /// Subflows the broker steered, with their connection; unsteered once gone from the
    /// kernel's socket table (checked by ``sweep()``).
    var steered: [FourTuple: (token: UInt32, opened: ContinuousClock.Instant, missing: Int)] = [:]
    var nextPort = 0
    var nextLocalID: [UInt32: UInt8] = [:]
    /// Per connection and local address, the local address id of the subflows the broker opened
    /// from it with port 0: the kernel keeps one id per address and port, so they (and the
    /// agent's own joins from that address) share it.
    var anyPortIDs: [UInt32: [IPv6Address: UInt8]] = [:]
    /// Subflows the broker opened with port 0 along an SRH (steered by the connect-time
    /// program, which removes the entry when the socket closes), with their waypoints: the
    /// paths a rule's next open without an SRH must not take again.
    var connectSteered: [FourTuple: (token: UInt32, waypoints: [IPv6Address])] = [:]
    var lastSweep = ContinuousClock.now
    /// The per-subflow option program (nil when the kernel refused it: `socketOptionsProblem` says why).
    let socketOptions: SubflowSocketOptions?
    let socketOptionsProblem: String?
    /// 4-tuples given options, forgotten once closed.
    var optioned: Set<FourTuple> = []
    /// Subflows the option program reaches (RTT callbacks on: they connected or were
    /// established since it was attached, as the path-manager events tell), with their token.
    var reachable: [FourTuple: UInt32] = [:]
    /// Event streams, and requests whose stream starts once their answer is written (by client fd).
    var subscribers: [Subscriber] = []
    var pendingSubscriptions: [Int32: Subscriber] = [:]
    var lastIDSweep = ContinuousClock.now
    /// Requests answered, and those answered with an error.
    private(set) var requests = 0, refused = 0

    init(steering: BPFSteering, pm: MPTCPPathManager, policy: @escaping () -> AgentPolicy,
         enginePaths: @escaping (UInt32) -> (paths: [PathSpec], joins: [(flow: FourTuple, path: Int)])?,
         onConnect: ConnectSteering? = nil, agentJoinID: @escaping (UInt32, IPv6Address) -> UInt8? = { _, _ in nil },
         textAnswer: @escaping (String, UnixSocket.Credentials?) -> String) throws {
        self.steering = steering
        self.pm = pm
        self.onConnect = onConnect
        self.agentJoinID = agentJoinID
        self.diag = NetlinkConnection(transport: try MNLSocket(.sockDiag))
        self.namespaceCookie = try NetworkNamespace.currentCookie()
        self.policy = policy
        self.enginePaths = enginePaths
        self.textAnswer = textAnswer
        // Attached now, so that subflows that connect from now on get RTT callbacks.
        do throws(SubflowError) {
            socketOptions = try SubflowSocketOptions(ports: Self.ports, allSubflows: true)
            socketOptionsProblem = nil
        } catch {
            socketOptions = nil
            socketOptionsProblem = "\(error)"
        }
    }

    /// Closes every client and every descriptor still held.
    func stop() {
        for c in clients { drop(c) }
        clients.removeAll()
        for s in subscribers { close(s.fd) }
        subscribers.removeAll()
        pendingSubscriptions.removeAll()
    }

    func drop(_ c: Client) {
        for d in c.descriptors { close(d) }
        close(c.fd)
    }

    // MARK: - Serving

    /// Accepts waiting clients, reads what they sent, answers complete requests, writes
    /// pending answers, drops clients past their deadline, and unsteers subflows that closed.
    /// A client accepted now whose request has not arrived yet is waited for at most
    /// ``newClientWait`` (clients send right after connecting; without this its request would
    /// wait for the next call).
    /// - Parameters:
    ///   - listener: the control socket.
    ///   - readable: the clients a poll found readable (`nil`: try every client).
    ///   - listenerReady: whether a poll found the listener readable (`false`: no `accept`).
    func serve(listener: Int32, readable: Set<Int32>? = nil, listenerReady: Bool = true) {
        var accepted = 0
        while listenerReady, let fd = UnixSocket.acceptWaiting(listener) {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            let uid = try? UnixSocket.peerCredentials(fd).uid
            if !makeRoom(for: uid) {
                close(fd)     // the client sees end of file: EAGAIN in the C API
                continue
            }
            let now = ContinuousClock.now
            clients.append(Client(fd: fd, peerUID: uid, deadline: now + Self.idleTimeout, lastActive: now))
            accepted += 1
        }
        var fresh = Set(clients.suffix(accepted).map(\.fd))
        step(readable: readable.map { $0.union(fresh) })
        if accepted > 0 {
            fresh = Set(clients.filter { fresh.contains($0.fd) && $0.isIdle && $0.served == 0 }.map(\.fd))
            if !fresh.isEmpty {
                var fds = fresh.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
                if poll(&fds, nfds_t(fds.count), Int32(Self.newClientWait.pollMilliseconds)) > 0 {
                    step(readable: Set(fds.filter { $0.revents != 0 }.map(\.fd)))
                }
            }
        }
        let second = ContinuousClock.now - lastSweep > .seconds(1)
        if second {
            lastSweep = ContinuousClock.now
            sweep()
        }
        if !subscribers.isEmpty || !optioned.isEmpty { sweepSubscribers(everySecond: second) }
    }

    /// Whether a client of `uid` may be added: at the limits, the idle client (of that user
    /// when the user's limit is reached) that waited longest is closed to make room; a client
    /// in the middle of a request is never closed for another.
    func makeRoom(for uid: UInt32?) -> Bool {
        let userFull = uid != 0 && clients.filter({ $0.peerUID == uid }).count >= Self.maxClientsPerUser
        guard userFull || clients.count >= Self.maxClients else { return true }
        let candidates = clients.indices.filter { clients[$0].isIdle && (!userFull || clients[$0].peerUID == uid) }
        guard let oldest = candidates.min(by: { clients[$0].lastActive < clients[$1].lastActive }) else { return false }
        drop(clients.remove(at: oldest))
        return true
    }

    /// At most this long ``serve(listener:readable:listenerReady:)`` waits for the request of a client it just accepted.
    static let newClientWait: Duration = .milliseconds(2)

    /// The descriptors whose readability means work for ``serve(listener:readable:listenerReady:)``: every
    /// client whose answer is not pending (waiting for a request's bytes, or idle between
    /// requests; a run loop polls them with the listener).
    var waitingDescriptors: [Int32] { clients.filter { !$0.answered && $0.pending == nil }.map(\.fd) }

    /// Whether an answer waits for the kernel: the run loop then turns every few milliseconds.
    var hasPending: Bool { clients.contains { $0.pending != nil } }

    /// Set by an operation whose answer waits (``Deferred``); ``respond(_:)`` hands it to the client.
    var deferred: Deferred?

    /// One pass over the clients: read, answer, write, drop the finished and the expired.
    /// - Parameter readable: read only these clients (`nil`: every client).
    func step(readable: Set<Int32>? = nil) {
        var kept: [Client] = []
        for var c in clients {
            if !c.answered && c.pending == nil && (readable?.contains(c.fd) ?? true) { read(&c) }
            if let p = c.pending {
                let expired = ContinuousClock.now >= p.wait.deadline
                if let r = p.wait.answer(expired) {
                    c.pending = nil
                    switch r {
                    case .success(let body): complete(&c, with: Self.frame(op: p.op, error: 0, body: body))
                    case .failure(let e):
                        refused += 1
                        complete(&c, with: Self.frame(op: p.op, error: e.errno, body: Array(e.message.utf8)))
                    }
                }
            }
            if c.answered {
                if flush(&c) {
                    // An event stream (op 9): the connection carries its events from now on.
                    if adoptSubscription(c) { continue }
                    if c.closing { Self.drain(c.fd); drop(c); continue }
                    // Ready for the connection's next request.
                    let now = ContinuousClock.now
                    c.answered = false
                    c.served += 1
                    c.lastActive = now
                    c.deadline = now + Self.idleTimeout
                }
            }
            if ContinuousClock.now > c.deadline { pendingSubscriptions[c.fd] = nil; drop(c); continue }
            kept.append(c)
        }
        clients = kept
    }

    /// Reads (and discards) what the client sent beyond its last request, so that closing
    /// the connection ends it with end of file: a Unix socket closed with unread data makes
    /// the peer's next read fail with ECONNRESET once it has read the answer.
    static func drain(_ fd: Int32) {
        for _ in 0..<16 {
            guard let r = try? UnixSocket.receive(fd, max: 4096), !r.bytes.isEmpty else { return }
            for d in r.fileDescriptors { close(d) }
        }
    }

    /// Writes what it can of the answer; true when the client is done with (written or gone).
    func flush(_ c: inout Client) -> Bool {
        while !c.output.isEmpty {
            let n = c.output.withUnsafeBytes { Glibc.send(c.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT)) }
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { return false }
                c.closing = true      // the client is gone
                c.output = []
                return true
            }
            c.output.removeFirst(n)
        }
        return true
    }

    /// How many bytes the request in `input` still needs (0: complete, or answerable now):
    /// a binary request is read exactly to its end, so no read takes bytes, descriptors or
    /// credentials of the next request on the connection.
    static func missing(_ input: [UInt8]) -> Int {
        let magic = AgentProtocol.magic
        let prefix = min(input.count, magic.count)
        guard Array(input[0..<prefix]) == Array(magic[0..<prefix]) else {
            // A text request: one line.
            return input.contains(UInt8(ascii: "\n")) || input.count > AgentProtocol.maxBody ? 0 : AgentProtocol.maxBody + 1 - input.count
        }
        guard input.count >= AgentProtocol.headerLength else { return AgentProtocol.headerLength - input.count }
        let length = Int(u32(input, 8))
        if length > AgentProtocol.maxBody { return 0 }
        return max(0, AgentProtocol.headerLength + length - input.count)
    }

    /// Reads the rest of the current request; answers once it is complete (or cannot be).
    func read(_ c: inout Client) {
        while !c.answered {
            let r: UnixSocket.Received?
            do { r = try UnixSocket.receive(c.fd, max: max(1, Self.missing(c.input))) } catch {
                c.answered = true     // the client is gone: nothing to answer
                c.closing = true
                c.output = []
                return
            }
            guard let r else { return }     // nothing more yet
            if r.truncated && c.refusal == nil {
                c.refusal = BrokerError(EINVAL, "the control data was truncated (too many descriptors): send exactly one socket")
            }
            c.descriptors += r.fileDescriptors
            if let cred = r.credentials {
                if c.credentials == nil { c.credentials = cred } else if c.credentials != cred, c.refusal == nil {
                    c.refusal = BrokerError(EPERM, "the request's parts came with different credentials")
                }
            }
            if r.bytes.isEmpty {
                // End of file: answer what can be answered of a request cut short, then close.
                c.closing = true
                if c.input.isEmpty {
                    for d in c.descriptors { close(d) }
                    c.answered = true
                } else {
                    let output = respond(c)
                    if !takeDeferred(&c) { complete(&c, with: output) }
                }
                finishRequest(&c)
                return
            }
            if c.input.isEmpty { c.deadline = ContinuousClock.now + Self.requestTimeout }
            c.input += r.bytes
            if Self.missing(c.input) == 0 {
                let output = respond(c)
                c.closing = c.closing || Self.endsConnection(c.input)
                if !takeDeferred(&c) { complete(&c, with: output) }
                finishRequest(&c)
                return
            }
        }
    }

    /// The answer is `output`: to be written (with the keep flag unless the connection ends).
    func complete(_ c: inout Client, with output: [UInt8]) {
        c.output = output
        c.answered = true
        if !c.closing && c.output.count >= AgentProtocol.headerLength {
            c.output[7] |= UInt8(AgentProtocol.keepConnection)    // the answer says: kept open
        }
    }

    /// Moves an answer that waits (``deferred``, set by the operation) to the client; false when
    /// the request was answered at once.
    @discardableResult
    func takeDeferred(_ c: inout Client) -> Bool {
        guard let d = deferred else { return false }
        deferred = nil
        c.pending = (c.input.count > 5 ? c.input[5] : 0, d)
        c.output = []
        return true
    }

    /// Forgets what belonged to the answered request (``respond(_:)`` closed its descriptors).
    func finishRequest(_ c: inout Client) {
        c.input = []
        c.descriptors = []
        c.credentials = nil
        c.refusal = nil
        c.deadline = ContinuousClock.now + Self.requestTimeout    // for writing the answer
    }

    /// Whether the connection ends after the answer to `input`: the request did not ask to keep
    /// it (flags bit 0), or it cannot carry another request: a text request, a frame of another
    /// version or one whose length is refused (where it ends is unknown).
    static func endsConnection(_ input: [UInt8]) -> Bool {
        guard input.count >= AgentProtocol.headerLength, Array(input[0..<4]) == AgentProtocol.magic else { return true }
        return input[4] != AgentProtocol.version || Int(u32(input, 8)) > AgentProtocol.maxBody
            || u16(input, 6) & AgentProtocol.keepConnection == 0
    }

    /// Handles `c`'s request (complete, or cut short by end of file) and closes what came with it.
    func respond(_ c: Client) -> [UInt8] {
        defer { for d in c.descriptors { close(d) } }
        let input = c.input
        let magic = AgentProtocol.magic
        if input.count < magic.count || Array(input[0..<4]) != magic {
            // The text protocol: `status`.
            let line = String(decoding: input.prefix { $0 != UInt8(ascii: "\n") }, as: UTF8.self)
            return Array((textAnswer(line, try? UnixSocket.peerCredentials(c.fd)) + "\n").utf8)
        }
        requests += 1
        let op = input.count > 5 ? input[5] : 0
        do {
            let body = try request(c, op: op)
            return Self.frame(op: op, error: 0, body: body)
        } catch {
            deferred = nil      // (an operation that failed after deferring answers now)
            refused += 1
            return Self.frame(op: op, error: error.errno, body: Array(error.message.utf8))
        }
    }

    static func frame(op: UInt8, error: Int32, body: [UInt8]) -> [UInt8] {
        var w = ByteWriter()
        w.append(AgentProtocol.magic)
        w.append(AgentProtocol.version)
        w.append(op)
        w.appendBigEndian(UInt16(0))
        w.appendBigEndian(UInt32(body.count))
        w.appendBigEndian(error)
        w.append(body)
        return w.bytes
    }

    static func u16(_ b: [UInt8], _ at: Int) -> UInt16 { UInt16(b[at]) << 8 | UInt16(b[at + 1]) }
    static func u32(_ b: [UInt8], _ at: Int) -> UInt32 { UInt32(u16(b, at)) << 16 | UInt32(u16(b, at + 2)) }

    // MARK: - Requests

    /// Checks the frame and runs the operation.
    func request(_ c: Client, op: UInt8) throws(BrokerError) -> [UInt8] {
        let input = c.input
        guard input.count >= AgentProtocol.headerLength else {
            throw BrokerError(EBADMSG, "the request ended after \(input.count) bytes, inside its \(AgentProtocol.headerLength)-byte header")
        }
        guard input[4] == AgentProtocol.version else {
            throw BrokerError(EPROTONOSUPPORT, "protocol version \(input[4]) is not spoken here: this agent speaks version \(AgentProtocol.version)")
        }
        guard Self.u16(input, 6) & ~AgentProtocol.keepConnection == 0, Self.u32(input, 12) == 0 else {
            throw BrokerError(EINVAL, "the header's flags (bytes 6-7) may have bit 0 set (keep the connection), nothing else; the reserved word (bytes 12-15) must be 0")
        }
        let length = Int(Self.u32(input, 8))
        guard length <= AgentProtocol.maxBody else {
            throw BrokerError(EMSGSIZE, "a request body of \(length) bytes: at most \(AgentProtocol.maxBody)")
        }
        guard input.count == AgentProtocol.headerLength + length else {
            throw BrokerError(EBADMSG, input.count < AgentProtocol.headerLength + length
                ? "the request ended after \(input.count - AgentProtocol.headerLength) of its \(length) body bytes"
                : "\(input.count - AgentProtocol.headerLength - length) bytes follow the request's \(length)-byte body")
        }
        if let refusal = c.refusal { throw refusal }
        guard let operation = AgentProtocol.Operation(rawValue: op) else {
            throw BrokerError(ENOSYS, "unknown operation \(op) (1 hello, 2 subflow ids, 3 open, 4 close, 5 tuple, 6 get option, 7 set option, 8 priority, 9 events)")
        }
        guard let cred = c.credentials else {
            throw BrokerError(EACCES, "the request came without SCM_CREDENTIALS")
        }
        let body = Array(input[AgentProtocol.headerLength...])
        if operation == .hello {
            guard c.descriptors.isEmpty else { throw BrokerError(EINVAL, "hello takes no socket") }
            guard body.isEmpty else { throw BrokerError(EINVAL, "hello has no body (got \(body.count) bytes)") }
            return hello(cred)
        }
        guard c.descriptors.count == 1 else {
            throw BrokerError(EBADF, c.descriptors.isEmpty ? "the request needs the MPTCP socket (SCM_RIGHTS)" : "the request came with \(c.descriptors.count) descriptors: send exactly one socket")
        }
        let socket = try connection(c.descriptors[0])
        switch operation {
        case .hello: return []
        case .subflowIDs:
            guard body.isEmpty else { throw BrokerError(EINVAL, "get subflow ids has no body (got \(body.count) bytes)") }
            return try subflowIDs(socket)
        case .openSubflow: return try open(socket, body, cred)
        case .closeSubflow: return try closeSubflow(socket, body, cred)
        case .subflowTuple:
            guard body.count == 4 else { throw BrokerError(EINVAL, "get tuple takes a 4-byte subflow id (got \(body.count) bytes)") }
            return try tuple(socket, id: Self.u32(body, 0))
        case .subflowOption: return try subflowOption(socket, body)
        case .setSubflowOption: return try setSubflowOption(socket, body, cred)
        case .setPriority: return try setPriority(socket, body, cred)
        case .events:
            guard body.isEmpty else { throw BrokerError(EINVAL, "events has no body (got \(body.count) bytes)") }
            return try subscribe(socket, client: c, cred)
        }
    }

    /// The grant of a non-root caller (root: `nil` and everything allowed).
    func grant(_ cred: UnixSocket.Credentials, _ what: String) throws(BrokerError) -> Grant? {
        guard cred.uid != 0 else { return nil }
        guard let g = policy().grant(for: cred.uid) else {
            throw BrokerError(EACCES, "uid \(cred.uid) has no grant in the agent's policy: it may not \(what)")
        }
        return g
    }

    func hello(_ cred: UnixSocket.Credentials) -> [UInt8] {
        var w = ByteWriter()
        w.appendBigEndian(UInt16(1))                 // lowest version spoken
        w.appendBigEndian(UInt16(AgentProtocol.version))
        w.appendBigEndian(UInt32(bitPattern: getpid()))
        w.appendBigEndian(namespaceCookie)
        w.appendBigEndian(cred.uid)
        w.appendBigEndian(cred.gid)
        let granted: UInt32 = cred.uid == 0 ? .max : UInt32(policy().grant(for: cred.uid)?.subflows ?? 0)
        w.appendBigEndian(granted)
        return w.bytes
    }

    /// The connection behind a received descriptor, after the checks: a socket, MPTCP, in the
    /// agent's network namespace, connected (a token), not fallen back to TCP; with its
    /// subflows as one `MPTCP_FULL_INFO` read them (token and subflows in one call).
    /// The descriptor stays the request's: ``respond(_:)`` closes it.
    func connection(_ fd: Int32) throws(BrokerError) -> BrokerConnection {
        // Only an MPTCP socket answers MPTCP_FULL_INFO (level SOL_MPTCP), so what the
        // descriptor is is asked only when that read fails: one system call less per request.
        let socket = MPTCPSocket(borrowing: fd)
        let full: (info: MPTCPInfo, subflows: [SubflowSnapshot])
        do { full = try Self.fullInfo(socket) } catch {
            let proto: Int32
            do { proto = try UnixSocket.socketProtocol(fd) } catch {
                if error.errno == ENOTSOCK { throw BrokerError(ENOTSOCK, "the descriptor sent is not a socket") }
                throw BrokerError(error.errno.rawValue, "getsockopt(SO_PROTOCOL) on the socket sent: \(error.errno.message)")
            }
            guard proto == 262 else {
                throw BrokerError(ENOPROTOOPT, "the socket sent is not an MPTCP socket (IPPROTO_MPTCP, protocol \(proto))")
            }
            try checkNamespace(fd)
            if error.kind == .fallback { throw BrokerError(EOPNOTSUPP, "the connection fell back to plain TCP: there are no MPTCP subflows") }
            throw BrokerError(error.errno.rawValue, error.message)
        }
        try checkNamespace(fd)
        if full.info.isFallback { throw BrokerError(EOPNOTSUPP, "the connection fell back to plain TCP: there are no MPTCP subflows") }
        guard full.info.token != 0 else { throw BrokerError(ENOTCONN, "the socket is not a connected MPTCP connection (no token: listening or unconnected)") }
        return BrokerConnection(socket: socket, token: full.info.token, subflows: full.subflows)
    }

    /// The socket `fd` lives in the agent's network namespace (EXDEV otherwise: the C API then
    /// looks for the agent of the caller's namespace).
    func checkNamespace(_ fd: Int32) throws(BrokerError) {
        let cookie = (try? NetworkNamespace.cookie(ofSocket: fd)) ?? 0
        guard cookie == namespaceCookie else {
            throw BrokerError(EXDEV, "the socket lives in another network namespace (cookie \(cookie)); this agent serves namespace \(namespaceCookie)")
        }
    }

    /// MPTCP_FULL_INFO with room for 8 subflows, again with room for 64 when 8 came back (the
    /// arrays are zeroed and converted on every read: most connections have a few subflows).
    static func fullInfo(_ s: MPTCPSocket) throws(SubflowError) -> (info: MPTCPInfo, subflows: [SubflowSnapshot]) {
        let few = try s.fullInfo(maxSubflows: 8)
        return few.subflows.count < 8 ? few : try s.fullInfo(maxSubflows: 64)
    }

    /// The kernel's view of the connection's subflows (flags, uid), by 4-tuple.
    func diagnostics(token: UInt32) -> [FourTuple: SubflowDiagnostics] {
        var out: [FourTuple: SubflowDiagnostics] = [:]
        for d in (try? SubflowDiagnostics.all(on: diag)) ?? [] where d.token == token { out[FourTuple(d.local, d.remote)] = d }
        return out
    }

    /// The kernel's view of these subflows of the connection `token`, by 4-tuple: one exact
    /// sock_diag lookup per subflow (a dump would walk the host's TCP hash tables: milliseconds).
    func diagnostics(of subs: [SubflowSnapshot], token: UInt32) -> [FourTuple: SubflowDiagnostics] {
        var out: [FourTuple: SubflowDiagnostics] = [:]
        for s in subs {
            if let d = try? SubflowDiagnostics.lookup(local: s.local, remote: s.remote, on: diag), d.token == token {
                out[FourTuple(s.local, s.remote)] = d
            }
        }
        return out
    }

    static func isLive(_ s: SubflowSnapshot) -> Bool { s.tcpState != 7 && s.tcpState != 6 && s.tcpState != 11 }

    func subflowIDs(_ c: BrokerConnection) throws(BrokerError) -> [UInt8] {
        let subs = c.subflows
        let diags = diagnostics(of: subs, token: c.token)
        var w = ByteWriter()
        w.appendBigEndian(UInt32(subs.count))
        for s in subs {
            let d = diags[FourTuple(s.local, s.remote)]
            var flags: UInt8 = 0
            if d?.fullyEstablished == true { flags |= 1 }
            if d?.backup == true { flags |= 2 }
            w.appendBigEndian(s.id)
            w.append(flags)
            w.append([UInt8](repeating: 0, count: 3))
        }
        return w.bytes
    }

    /// A tuple as it goes on the wire.
    static func encodeTuple(local: SocketEndpoint, remote: SocketEndpoint, backup: Bool, interfaceIndex: Int32, srh: [UInt8]) -> [UInt8] {
        var w = ByteWriter()
        w.append(UInt8(backup ? 1 : 0))
        w.append(UInt8(local.isIPv4 ? AF_INET : AF_INET6))
        w.appendBigEndian(UInt16(srh.count))
        w.appendBigEndian(interfaceIndex)
        w.appendBigEndian(local.port)
        w.appendBigEndian(remote.port)
        w.append(local.address.bytes)
        w.append(remote.address.bytes)
        w.appendBigEndian(UInt32(0))
        w.append(srh)
        return w.bytes
    }

    func tuple(_ c: BrokerConnection, id: UInt32) throws(BrokerError) -> [UInt8] {
        guard let s = c.subflows.first(where: { $0.id == id }) else {
            throw BrokerError(EINVAL, "no subflow with id \(id) on this connection")
        }
        let flow = FourTuple(s.local, s.remote)
        // As the kernel's flow map holds it: the broker's, the connect-time program's (port-0
        // opens, the agent's own joins) or the agent's.
        let srh = steering.installed(flow)?.srh ?? []
        let backup = diagnostics(of: [s], token: c.token)[flow]?.backup ?? false
        return Self.encodeTuple(local: s.local, remote: s.remote, backup: backup, interfaceIndex: 0, srh: srh)
    }

    func closeSubflow(_ c: BrokerConnection, _ body: [UInt8], _ cred: UnixSocket.Credentials) throws(BrokerError) -> [UInt8] {
        guard body.count == 8 else { throw BrokerError(EINVAL, "close takes a subflow id and how (8 bytes, got \(body.count))") }
        let id = Self.u32(body, 0)
        let how = Int32(bitPattern: Self.u32(body, 4))
        switch how {
        case Int32(SHUT_RD), Int32(SHUT_WR):
            throw BrokerError(EOPNOTSUPP, "closing one direction of a subflow (SHUT_RD, SHUT_WR) is not supported by this kernel: use SHUT_RDWR (FIN) or -1 (RST)")
        case Int32(SHUT_RDWR), -1: break
        default: throw BrokerError(EINVAL, "how = \(how): SHUT_RDWR (2) closes with FIN, -1 with RST")
        }
        _ = try grant(cred, "close subflows")
        let subs = c.subflows
        guard let s = subs.first(where: { $0.id == id }) else { throw BrokerError(EINVAL, "no subflow with id \(id) on this connection") }
        guard subs.filter({ Self.isLive($0) && $0.id != id }).count >= 1 else {
            throw BrokerError(EBUSY, "subflow \(id) is the connection's last subflow: close the socket instead")
        }
        do throws(NetlinkError) {
            if how == -1 {
                try SubflowDiagnostics.destroy(local: s.local, remote: s.remote, on: diag)
            } else {
                try pm.destroySubflow(token: c.token, local: s.local, remote: s.remote)
            }
        } catch {
            if error.errno == ESRCH || error.errno == ENOENT { throw BrokerError(EINVAL, "no subflow with id \(id) (the kernel: \(error))") }
            throw Self.kernelError(error)
        }
        if (try? c.socket.info().token) != c.token {
            throw BrokerError(ECONNABORTED, "the connection ended during the request")
        }
        return []
    }

    /// A path-manager or sock_diag error as the caller sees it.
    static func kernelError(_ e: NetlinkError) -> BrokerError {
        if e.extAckMessage?.contains("userspace PM not selected") == true {
            return BrokerError(EINVAL, "the connection was created while net.mptcp.pm_type was not 1 (userspace path manager): the kernel refuses every subflow command on it (\(e))")
        }
        return BrokerError(e.errno.rawValue, "\(e)")
    }

    /// `srh` with draft-03's `::` final segment (Figure 11, Segment List[0]) replaced by the
    /// subflow's destination.
    static func completed(_ srh: SegmentRoutingHeader, toward remote: IPv6Address) throws(BrokerError) -> SegmentRoutingHeader {
        guard let last = srh.segments.last else { throw BrokerError(EINVAL, "the SRH has no segments") }
        if last == remote { return srh }
        guard last == .unspecified else {
            throw BrokerError(EINVAL, "the SRH's final segment (Segment List[0]) \(last) is not the subflow's destination \(remote): give the destination or ::")
        }
        var s = srh
        s.segments[s.segments.count - 1] = remote
        return s
    }

    func open(_ c: BrokerConnection, _ body: [UInt8], _ cred: UnixSocket.Credentials) throws(BrokerError) -> [UInt8] {
        guard body.count >= AgentProtocol.tupleLength else {
            throw BrokerError(EINVAL, "open takes a \(AgentProtocol.tupleLength)-byte tuple (got \(body.count) bytes)")
        }
        let flags = body[0], family = Int32(body[1])
        let srhLength = Int(Self.u16(body, 2))
        let interfaceIndex = Int32(bitPattern: Self.u32(body, 4))
        var localPort = Self.u16(body, 8), remotePort = Self.u16(body, 10)
        var localAddress = IPv6Address(bytes: Array(body[12..<28])), remoteAddress = IPv6Address(bytes: Array(body[28..<44]))
        guard flags & ~1 == 0 else { throw BrokerError(EINVAL, "tuple byte 0: unknown flags \(flags) (bit 0 = low priority)") }
        guard family == AF_INET6 || family == AF_INET else { throw BrokerError(EAFNOSUPPORT, "tuple byte 1: family \(family) (AF_INET6 = 10, AF_INET = 2)") }
        guard Self.u32(body, 44) == 0 else { throw BrokerError(EINVAL, "tuple bytes 44-47 are reserved and must be 0") }
        guard body.count == AgentProtocol.tupleLength + srhLength else {
            throw BrokerError(EINVAL, "the tuple announces a \(srhLength)-byte SRH but \(body.count - AgentProtocol.tupleLength) bytes follow it")
        }
        guard interfaceIndex >= 0 else { throw BrokerError(EINVAL, "interface index \(interfaceIndex)") }
        let grant = try grant(cred, "open subflows")

        // Unspecified parts come from the connection (its initial subflow).
        let subs = c.subflows
        guard let first = subs.first else { throw BrokerError(ENOTCONN, "the connection has no subflow") }
        if localAddress == .unspecified { localAddress = first.local.address }
        if remoteAddress == .unspecified { remoteAddress = first.remote.address }
        if remotePort == 0 { remotePort = first.remote.port }
        let v4 = SocketEndpoint(localAddress, port: 0).isIPv4
        guard v4 == SocketEndpoint(remoteAddress, port: 0).isIPv4, v4 == (family == AF_INET) else {
            throw BrokerError(EINVAL, "the tuple mixes address families (IPv4 goes as ::ffff:a.b.c.d with family AF_INET)")
        }
        if let grant, subs.filter(Self.isLive).count >= grant.subflows {
            throw BrokerError(EACCES, "uid \(cred.uid)'s grant allows \(grant.subflows) subflow(s) per connection; this one has \(subs.filter(Self.isLive).count)")
        }
        if cred.uid != 0, localPort != 0 {
            let start = (try? SysctlFile("net/ipv4/ip_unprivileged_port_start").read()).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 1024
            if Int(localPort) < start {
                throw BrokerError(EPERM, "local port \(localPort) is below net.ipv4.ip_unprivileged_port_start (\(start)): only root may open subflows from it")
            }
        }

        // The SRH: the caller's, or the next unused path of the agent's rule for this connection.
        var srh: SegmentRoutingHeader? = nil
        if srhLength > 0 {
            let bytes = Array(body[AgentProtocol.tupleLength...])
            do { srh = try SegmentRoutingHeader(decoding: bytes) } catch {
                throw BrokerError(EINVAL, "the SRH (tuple byte \(AgentProtocol.tupleLength) on): \(error)")
            }
            guard !v4 else { throw BrokerError(EINVAL, "an SRH needs an IPv6 subflow") }
            srh = try Self.completed(srh!, toward: remoteAddress)
            if let grant {
                let waypoints = Array(srh!.segments.dropLast())
                guard grant.allows(waypoints: waypoints) else {
                    let denied = waypoints.first { w in !grant.sids.contains { $0.contains(w) } }!
                    throw BrokerError(EACCES, "SID \(denied) is not granted to uid \(cred.uid) (granted: \(grant.sids.isEmpty ? "none" : grant.sids.map(\.description).joined(separator: ", ")))")
                }
            }
        } else if let (paths, joins) = enginePaths(c.token) {
            // The paths live subflows take: those the broker steered (with a port it chose, or
            // through the connect-time program) and the agent's own joins.
            let live = Set(subs.filter(Self.isLive).map { FourTuple($0.local, $0.remote) })
            var used = Set(live.compactMap { steering.steeredFlows[$0].map { Array($0.segments.dropLast()) } ?? connectSteered[$0]?.waypoints })
            for j in joins where live.contains(j.flow) && j.path < paths.count {
                if case .segments(let w) = paths[j.path] { used.insert(w) }
            }
            // The initial subflow carries the first path.
            for p in paths.dropFirst() {
                guard case .segments(let w) = p else { continue }
                if used.contains(w) { continue }
                do { srh = try SegmentRoutingHeader(path: w + [remoteAddress], nextHeader: UInt8(IPPROTO_TCP)) } catch {
                    throw BrokerError(EINVAL, "the SRH of the rule's path \(p): \(error)")
                }
                break
            }
        }

        let remote = SocketEndpoint(remoteAddress, port: remotePort)
        if localPort == 0, !v4, let onConnect {
            return try openFromAnyPort(c, from: localAddress, to: remote, along: srh, onConnect: onConnect,
                                       interfaceIndex: interfaceIndex, backup: flags & 1 != 0)
        }
        // Any TCP socket with the 4-tuple (another user's plain TCP connection included):
        // steering it, even for the moment until SUBFLOW_CREATE fails, would put an SRH on
        // someone else's packets. One exact sock_diag lookup per candidate (a dump of the
        // namespace's sockets walks the host's TCP hash tables: milliseconds). A subflow
        // without an SRH steers nothing: the kernel's bind refuses a 4-tuple in use
        // (EADDRINUSE, handled below), so it is not looked up.
        func inUse(_ local: SocketEndpoint) throws(BrokerError) -> Bool {
            do { return try SubflowDiagnostics.fourTupleInUse(local: local, remote: remote, on: diag) } catch {
                throw BrokerError(error.errno.rawValue, "looking up the namespace's TCP sockets: \(error)")
            }
        }
        // The local address ids in use on the connection (one sock_diag lookup per subflow):
        // read on the broker's first open on a connection, and again when the kernel refuses
        // an id (EINVAL: taken by a subflow the broker did not open, e.g. before an agent
        // restart). In between, the ids the broker hands out go round ``localIDs``.
        var used: Set<UInt8>? = nextLocalID[c.token] == nil ? Set(diagnostics(of: subs, token: c.token).values.map(\.localID)) : nil
        let chosen = localPort == 0
        for attempt in 0..<16 {
            if chosen {
                localPort = Self.ports.lowerBound + UInt16(nextPort % Self.ports.count)
                nextPort += 1
            }
            let local = SocketEndpoint(localAddress, port: localPort)
            let flow = FourTuple(local, remote)
            var taken = steering.steeredFlows[flow] != nil || steered[flow] != nil
            if !taken && srh != nil { taken = try inUse(local) }
            if taken {
                if chosen { continue }
                throw BrokerError(EADDRINUSE, "the 4-tuple \(flow) is in use")
            }
            guard let id = freshLocalID(c.token, skipping: used ?? []) else {
                throw BrokerError(ENOSPC, "no free local address id left on this connection")
            }
            if let srh {
                do { try steering.steer(flow, along: srh) } catch {
                    throw BrokerError(EIO, "steering \(flow): \(error)")
                }
            }
            do throws(NetlinkError) {
                try pm.createSubflow(token: c.token, localID: id, local: local, remote: remote, interfaceIndex: interfaceIndex, backup: flags & 1 != 0)
            } catch {
                if srh != nil { try? steering.unsteer(flow) }
                if error.errno == EADDRINUSE && chosen && attempt < 15 { continue }
                if error.errno == EINVAL && used == nil && attempt < 15 {
                    used = Set(diagnostics(of: subs, token: c.token).values.map(\.localID))
                    continue
                }
                if error.errno == ENOTCONN {
                    throw BrokerError(EAGAIN, "the connection is not fully established yet (the peer has not acknowledged data): retry shortly")
                }
                if error.errno == EADDRNOTAVAIL { throw BrokerError(EADDRNOTAVAIL, "\(localAddress) is not an address of this host") }
                throw Self.kernelError(error)
            }
            // The token could have gone to another connection if this one ended meanwhile
            // (MPTCP_FULL_INFO carries the token with the subflows: one call for both).
            let after = try? Self.fullInfo(c.socket)
            if after?.info.token != c.token {
                try? pm.destroySubflow(token: c.token, local: local, remote: remote)
                if srh != nil { try? steering.unsteer(flow) }
                throw BrokerError(ECONNABORTED, "the connection ended during the request")
            }
            if srh != nil { steered[flow] = (c.token, ContinuousClock.now, 0) }
            guard let s = after?.subflows.first(where: { $0.local == local && $0.remote == remote }) else {
                throw BrokerError(ECONNREFUSED, "the kernel accepted the subflow \(flow) but it is already gone")
            }
            return opened(s, of: c, backup: flags & 1 != 0, interfaceIndex: interfaceIndex, srh: srh)
        }
        throw BrokerError(EADDRINUSE, "no free local port in \(Self.ports.lowerBound)-\(Self.ports.upperBound) toward \(remote)")
    }

    /// Opens a subflow from `address` with local port 0: the kernel picks the port, and the
    /// agent's connect-time program, armed for this one connect, gives the subflow `srh`
    /// before its SYN and reports the port (without an SRH nothing is armed: the program
    /// leaves the agent's connects alone). The steering thus goes on the
    /// 4-tuple the kernel assigned, atomically with the connect: no port to choose, no lookup
    /// of the namespace's sockets first, no window in which another socket could take it.
    ///
    /// Every port-0 subflow of a connection from one address shares one local address id with
    /// the agent's own joins from it (the kernel keeps one id per address and port: another id
    /// is refused with EINVAL "did not match address and id").
    func openFromAnyPort(_ c: BrokerConnection, from address: IPv6Address, to remote: SocketEndpoint, along srh: SegmentRoutingHeader?,
                         onConnect: ConnectSteering, interfaceIndex: Int32, backup: Bool) throws(BrokerError) -> [UInt8] {
        let subs = c.subflows
        let local = SocketEndpoint(address, port: 0)
        var id: UInt8
        if let known = anyPortIDs[c.token]?[address] ?? agentJoinID(c.token, address) {
            id = known
        } else {
            // A fresh id: the connection's ids in use (one sock_diag lookup per subflow) are skipped.
            let inUse = nextLocalID[c.token] == nil ? Set(diagnostics(of: subs, token: c.token).values.map(\.localID)) : []
            guard let fresh = freshLocalID(c.token, skipping: inUse) else {
                throw BrokerError(ENOSPC, "no free local address id left on this connection")
            }
            id = fresh
        }
        var tried: Set<UInt8> = []
        var port: UInt16? = nil
        while true {
            do {
                if let srh {
                    (_, port) = try onConnect.connectJoin(to: remote, along: srh) {
                        try pm.createSubflow(token: c.token, localID: id, local: local, remote: remote, interfaceIndex: interfaceIndex, backup: backup)
                    }
                } else {
                    // The IGP path: nothing to arm (the program matches no rule for a socket the
                    // agent connects); the new subflow is found by its id below.
                    try pm.createSubflow(token: c.token, localID: id, local: local, remote: remote, interfaceIndex: interfaceIndex, backup: backup)
                }
                break
            } catch let error as NetlinkError {
                if error.errno == EINVAL, (error.extAckMessage ?? "").contains("did not match address and id") {
                    // The address carries another id on this connection (given before an agent
                    // restart, say): one of the ids its subflows from this address use.
                    tried.insert(id)
                    let candidates = diagnostics(of: subs, token: c.token).values
                        .filter { $0.local.address == address && $0.localID != 0 && !tried.contains($0.localID) }.map(\.localID)
                    if let next = candidates.min(), tried.count < 8 { id = next; continue }
                }
                if error.errno == ENOTCONN {
                    throw BrokerError(EAGAIN, "the connection is not fully established yet (the peer has not acknowledged data): retry shortly")
                }
                if error.errno == EADDRNOTAVAIL { throw BrokerError(EADDRNOTAVAIL, "\(address) is not an address of this host") }
                throw Self.kernelError(error)
            } catch {
                throw BrokerError(EIO, "arming the connect-time program for the subflow toward \(remote): \(error)")
            }
        }
        anyPortIDs[c.token, default: [:]][address] = id
        // The new subflow: the reported port's, else the one from this address the connection
        // did not have before. The token could have gone to another connection if this one
        // ended meanwhile (MPTCP_FULL_INFO carries the token with the subflows).
        let after = try? Self.fullInfo(c.socket)
        let before = Set(subs.map(\.id))
        let found = after?.subflows.first { s in
            s.local.address == address && s.remote == remote && (port.map { s.local.port == $0 } ?? !before.contains(s.id))
        }
        guard after?.info.token == c.token else {
            if let found { try? pm.destroySubflow(token: c.token, local: found.local, remote: remote) }
            throw BrokerError(ECONNABORTED, "the connection ended during the request")
        }
        guard let s = found else {
            throw BrokerError(ECONNREFUSED, "the kernel accepted the subflow toward \(remote) but it is already gone")
        }
        let flow = FourTuple(s.local, remote)
        if let srh {
            guard port != nil else {
                // Its SYN went out unsteered: the program did not see the connect.
                try? pm.destroySubflow(token: c.token, local: s.local, remote: remote)
                throw BrokerError(EIO, "the agent's connect-time program did not see the subflow \(flow) connect, so it could not carry the SRH: closed again (the program is attached at the cgroup v2 root when the agent starts; restart the agent if something detached it)")
            }
            connectSteered[flow] = (c.token, Array(srh.segments.dropLast()))
        }
        return opened(s, of: c, backup: backup, interfaceIndex: interfaceIndex, srh: srh)
    }

    /// The answer to an open: the new subflow's id and tuple. Its connection's event streams
    /// name it by that id from now on, and its options can be set at once (the option program,
    /// which sees every subflow, turned RTT callbacks on as it connected).
    func opened(_ s: SubflowSnapshot, of c: BrokerConnection, backup: Bool, interfaceIndex: Int32, srh: SegmentRoutingHeader?) -> [UInt8] {
        let flow = FourTuple(s.local, s.remote)
        if socketOptions != nil { reachable[flow] = c.token }
        noteOpened(token: c.token, flow: flow, id: s.id)
        var reply = ByteWriter()
        reply.appendBigEndian(s.id)
        reply.append(Self.encodeTuple(local: s.local, remote: s.remote, backup: backup, interfaceIndex: interfaceIndex,
                                      srh: (try? srh?.encoded()) ?? []))
        return reply.bytes
    }

    /// A local address id for a new entry of connection `token`: the one after the last the
    /// broker gave, going round ``localIDs``, skipping `inUse` (ids of live subflows) and the
    /// ids of the connection's port-0 entries, which the kernel keeps for the connection's life
    /// (a destroy names the subflow's real port, never port 0). `nil` when none is left.
    func freshLocalID(_ token: UInt32, skipping inUse: Set<UInt8>) -> UInt8? {
        let range = Self.localIDs
        let held = Set(anyPortIDs[token]?.values.map { $0 } ?? [])
        let start = Int(nextLocalID[token] ?? range.lowerBound) - Int(range.lowerBound)
        for k in 0..<range.count {
            let id = UInt8(Int(range.lowerBound) + (start + k) % range.count)
            guard !inUse.contains(id), !held.contains(id) else { continue }
            nextLocalID[token] = id == range.upperBound ? range.lowerBound : id + 1
            return id
        }
        return nil
    }

    /// Unsteers subflows the broker opened that the kernel no longer lists (twice in a row,
    /// a second apart, so one that is still being set up is not taken for closed): one exact
    /// sock_diag lookup per steered subflow (a dump walks the host's TCP hash tables for
    /// milliseconds, during which no request is served).
    /// Also forgets, at most once a minute, the local address ids given on connections that
    /// are gone (that takes a dump).
    func sweep() {
        for (flow, entry) in steered {
            let live: Bool
            do {
                let d = try SubflowDiagnostics.lookup(local: SocketEndpoint(flow.localAddress, port: flow.localPort),
                                                      remote: SocketEndpoint(flow.remoteAddress, port: flow.remotePort), on: diag)
                live = d.map { $0.tcpState != 7 } ?? false
            } catch {
                continue      // not known to be gone
            }
            if live {
                steered[flow]?.missing = 0
            } else if entry.missing >= 1 {
                try? steering.unsteer(flow)
                steered[flow] = nil
            } else {
                steered[flow]?.missing = 1
            }
        }
        if !(nextLocalID.isEmpty && anyPortIDs.isEmpty && connectSteered.isEmpty), ContinuousClock.now - lastIDSweep > .seconds(60), let all = try? SubflowDiagnostics.all(on: diag) {
            lastIDSweep = ContinuousClock.now
            let tokens = Set(all.map(\.token))
            nextLocalID = nextLocalID.filter { tokens.contains($0.key) }
            anyPortIDs = anyPortIDs.filter { tokens.contains($0.key) }
            connectSteered = connectSteered.filter { tokens.contains($0.value.token) }
        }
    }
}

extension Agent {
    /// The answer to a text request on the control socket: `status` as one JSON object. A
    /// non-root peer (SO_PEERCRED) sees only the connections its uid owns; rules and counters
    /// are shown to everyone.
    func textAnswer(_ request: String, peer: UnixSocket.Credentials?) -> String {
        guard request == "status" else {
            let shown = String(request.unicodeScalars.prefix(40).map { $0.value >= 0x20 && $0.value < 0x7f ? Character($0) : "?" })
            return "{\"error\": \"unknown request: \(shown.replacingOccurrences(of: "\\", with: "?").replacingOccurrences(of: "\"", with: "?"))\"}"
        }
        var s = status()
        if peer?.uid != 0 {
            let owned = Set(((try? SubflowDiagnostics.all()) ?? []).filter { $0.uid == peer?.uid }.map { Agent.tokenText($0.token) })
            s.connections = s.connections.filter { owned.contains($0.token) }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(s)).map { String(decoding: $0, as: UTF8.self) } ?? "{\"error\": \"encoding\"}"
    }
}
