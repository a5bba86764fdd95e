import Foundation
import Glibc
import SRv6Paths
import LinuxSystem
import SubflowSteering

/// The operations of the subflow protocol beyond opening and closing (Docs/AgentProtocol.md):
/// per-subflow socket options (draft-03 MPTCP_SUB_GETSOCKOPT / MPTCP_SUB_SETSOCKOPT), a
/// subflow's priority (its backup flag), and the event stream of one connection.
extension SubflowBroker {
    /// A program's event stream (op 9): the Unix connection of its request, kept open, on which
    /// the broker writes the events of one connection (its token).
    struct Subscriber {
        var fd: Int32
        var token: UInt32
        var uid: UInt32
        /// Subflow ids by 4-tuple: those at subscription, and those opened through the agent since.
        var ids: [FourTuple: UInt32]
        /// Event frames not written yet (the program reads slowly).
        var output: [UInt8] = []
        /// The connection closed (or the stream is over): dropped once `output` is written.
        var ending = false
    }

    /// Event streams open at once, and of one user other than root.
    static let maxSubscribers = 64
    static let maxSubscribersPerUser = 16
    /// Event bytes a stream may owe its program before the broker ends it.
    static let maxSubscriberBacklog = 64 * 1024
    /// Bytes of an event record (the body of an event frame).
    static let eventLength = 48

    /// Event types on the wire.
    enum EventType: UInt8 {
        case established = 1, closed = 2, subflowEstablished = 3, subflowClosed = 4, subflowPriority = 5
    }

    static func native(_ v: Int32) -> [UInt8] { withUnsafeBytes(of: v) { Array($0) } }
    static func nativeInt32(_ b: [UInt8]) -> Int32? {
        guard b.count >= 4 else { return nil }
        return b.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
    }

    /// Refuses a caller other than root who is not the connection's owner (the uid that created
    /// the MPTCP socket: its inode's owner). Holding a socket someone passed on lets a program
    /// list and read; changing the connection is its owner's.
    func requireOwner(_ c: BrokerConnection, _ cred: UnixSocket.Credentials, _ what: String) throws(BrokerError) {
        guard cred.uid != 0 else { return }
        var st = stat()
        guard fstat(c.socket.fileDescriptor, &st) == 0 else { throw BrokerError(EBADF, "fstat of the socket sent: \(Errno.current)") }
        guard st.st_uid == cred.uid else {
            throw BrokerError(EPERM, "the connection belongs to uid \(st.st_uid): uid \(cred.uid) may not \(what) (holding its socket is not owning it)")
        }
    }

    /// The subflow `id` of the connection, and the kernel's view of it.
    func subflow(_ c: BrokerConnection, id: UInt32) throws(BrokerError) -> (SubflowSnapshot, SubflowDiagnostics?) {
        guard let s = c.subflows.first(where: { $0.id == id }) else {
            throw BrokerError(EINVAL, "no subflow with id \(id) on this connection")
        }
        let d: SubflowDiagnostics?
        do { d = try SubflowDiagnostics.lookup(local: s.local, remote: s.remote, on: diag) } catch {
            throw Self.kernelError(error)
        }
        return (s, d.flatMap { $0.token == c.token ? $0 : nil })
    }

    /// Integer options the program sets with `bpf_setsockopt` and reads with `bpf_getsockopt`:
    /// (level, name, its name, the values an unprivileged caller may set).
    static let integerOptions: [(level: Int32, name: Int32, text: String, unprivileged: ClosedRange<Int64>)] = [
        (SOL_SOCKET, SO_PRIORITY, "SO_PRIORITY", 0...6),                 // 7 and above need CAP_NET_ADMIN
        (SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF", 0...Int64(Int32.max)),      // the kernel clamps to net.core.wmem_max
        (SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF", 0...Int64(Int32.max)),      // and net.core.rmem_max
        (SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", 0...1),
        (SOL_SOCKET, SO_RCVLOWAT, "SO_RCVLOWAT", 0...Int64(Int32.max)),
        (SOL_SOCKET, SO_MAX_PACING_RATE, "SO_MAX_PACING_RATE", Int64(Int32.min)...Int64(Int32.max)),
        (Int32(IPPROTO_TCP), TCP_NODELAY, "TCP_NODELAY", 0...1),
        (Int32(IPPROTO_TCP), TCP_KEEPIDLE, "TCP_KEEPIDLE", 1...32767),
        (Int32(IPPROTO_TCP), TCP_KEEPINTVL, "TCP_KEEPINTVL", 1...32767),
        (Int32(IPPROTO_TCP), TCP_KEEPCNT, "TCP_KEEPCNT", 1...127),
        (Int32(IPPROTO_TCP), TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT", 0...Int64(Int32.max)),
        (Int32(IPPROTO_TCP), TCP_NOTSENT_LOWAT, "TCP_NOTSENT_LOWAT", 0...Int64(Int32.max)),
        (Int32(IPPROTO_TCP), TCP_WINDOW_CLAMP, "TCP_WINDOW_CLAMP", 0...Int64(Int32.max)),
    ]
    static func integerOption(_ level: Int32, _ name: Int32) -> (level: Int32, name: Int32, text: String, unprivileged: ClosedRange<Int64>)? {
        integerOptions.first { $0.level == level && $0.name == name }
    }
    static var integerOptionNames: String { integerOptions.map(\.text).joined(separator: ", ") }
    static var readableOptions: String {
        "TCP_INFO, TCP_CONGESTION, TCP_MAXSEG, SO_MARK, IPV6_TCLASS, IP_TOS (sock_diag) and \(integerOptionNames) (bpf_getsockopt at the subflow's next acknowledgment)"
    }
    static var settableOptions: String { "SO_MARK, IPV6_TCLASS (IPv6 subflows), IP_TOS (IPv4 subflows), TCP_CONGESTION, \(integerOptionNames)" }

    /// An integer option read through the program (`bpf_getsockopt`, answered at the subflow's
    /// next acknowledgment): the wait for it, which answers the value; when none comes in time,
    /// the value the program read back when it set the option through the agent, if it did.
    func integerOption(_ c: BrokerConnection, id: UInt32, _ o: (level: Int32, name: Int32, text: String, unprivileged: ClosedRange<Int64>)) throws(BrokerError) -> Deferred {
        let (s, found) = try subflow(c, id: id)
        guard found != nil else { throw BrokerError(EINVAL, "subflow \(id) is not in the kernel's socket table any more") }
        let opts = try reachableOptions(s, id: id, token: c.token)
        // A value set through the agent that the kernel refused when the program applied it (the
        // set itself answers at once: the agent does not wait for the subflow's next ACK).
        if opts.status(local: s.local, remote: s.remote, namespace: namespaceCookie)?.applied == true,
           let r = opts.integerResults(local: s.local, remote: s.remote, namespace: namespaceCookie)
               .first(where: { $0.level == o.level && $0.name == o.name }), r.error != 0 {
            throw BrokerError(-r.error, "the kernel refused \(o.text) = \(r.value) on subflow \(id) when the agent's program applied it: \(Errno(rawValue: -r.error))")
        }
        // Answered later (``Deferred``): the agent's loop serves everything else meanwhile.
        let pending: SubflowSocketOptions.PendingRead
        do { pending = try opts.startRead(level: o.level, name: o.name, local: s.local, remote: s.remote, namespace: namespaceCookie) } catch {
            throw BrokerError(EIO, "asking the option program for \(o.text) of subflow \(id): \(error)")
        }
        let namespace = namespaceCookie
        return Deferred(deadline: ContinuousClock.now + Self.optionReadWait) { expired in
            switch opts.result(of: pending) {
            case .success(let v)?: return .success(Self.native(v))
            case .failure(let e)?: return .failure(BrokerError(e.rawValue, "bpf_getsockopt(\(o.text)) on subflow \(id): \(e)"))
            case nil:
                guard expired else { return nil }
                if let r = opts.integerResults(local: s.local, remote: s.remote, namespace: namespace)
                    .first(where: { $0.level == o.level && $0.name == o.name && $0.error == 0 }),
                   opts.status(local: s.local, remote: s.remote, namespace: namespace)?.applied == true {
                    return .success(Self.native(r.effective))
                }
                return .failure(BrokerError(EAGAIN, "\(o.text) of subflow \(id) is read by the agent's BPF program at the subflow's next acknowledgment, and none came within \(Self.optionReadWait.pollMilliseconds) ms: retry while the subflow carries traffic"))
            }
        }
    }

    /// How long a live option read waits for the subflow's next acknowledgment.
    static let optionReadWait: Duration = .milliseconds(100)

    /// The option program, if it reaches subflow `s` (connected while it was attached; IPv6 or IPv4).
    func reachableOptions(_ s: SubflowSnapshot, id: UInt32, token: UInt32) throws(BrokerError) -> SubflowSocketOptions {
        guard let opts = socketOptions else {
            throw BrokerError(EOPNOTSUPP, "per-subflow socket options are not available: \(socketOptionsProblem ?? "the agent's BPF sock_ops program is not attached")")
        }
        guard reachable[FourTuple(s.local, s.remote)] == token else {
            throw BrokerError(EOPNOTSUPP, "subflow \(id) connected before the agent's option program was attached (or the agent missed its event): upstream Linux reaches a live subflow only from a BPF sock_ops callback, and the program turns RTT callbacks on for subflows when they connect")
        }
        return opts
    }

    /// Op 6, MPTCP_SUB_GETSOCKOPT: body u32 id, i32 level, i32 name, u32 the caller's buffer
    /// length; the answer is the value, at most that long (as getsockopt truncates). Read from
    /// the kernel's socket diagnostics of the subflow (sock_diag), which is what upstream
    /// exposes per subflow.
    func subflowOption(_ c: BrokerConnection, _ body: [UInt8]) throws(BrokerError) -> [UInt8] {
        guard body.count == 16 else {
            throw BrokerError(EINVAL, "get option takes a subflow id, level, name and buffer length (16 bytes, got \(body.count))")
        }
        let id = Self.u32(body, 0)
        let level = Int32(bitPattern: Self.u32(body, 4)), name = Int32(bitPattern: Self.u32(body, 8))
        let cap = Int(Self.u32(body, 12))
        let value: [UInt8]
        switch (level, name) {
        case (Int32(IPPROTO_TCP), TCP_INFO), (Int32(IPPROTO_TCP), TCP_CONGESTION), (Int32(IPPROTO_TCP), TCP_MAXSEG),
             (SOL_SOCKET, SO_MARK), (Int32(IPPROTO_IPV6), IPV6_TCLASS), (Int32(IPPROTO_IP), IP_TOS):
            let (_, found) = try subflow(c, id: id)
            guard let d = found else { throw BrokerError(EINVAL, "subflow \(id) is not in the kernel's socket table any more") }
            switch (level, name) {
            case (Int32(IPPROTO_TCP), TCP_INFO):
                guard let t = d.tcpInfo else { throw BrokerError(EOPNOTSUPP, "the kernel sent no tcp_info for subflow \(id)") }
                value = t
            case (Int32(IPPROTO_TCP), TCP_CONGESTION):
                // As getsockopt: the name, zero-padded to TCP_CA_NAME_MAX (16).
                let n = Array((d.congestionControl ?? "").utf8.prefix(15))
                value = n + [UInt8](repeating: 0, count: 16 - n.count)
            case (Int32(IPPROTO_TCP), TCP_MAXSEG):
                guard let t = d.tcpInfo, t.count >= 20 else { throw BrokerError(EOPNOTSUPP, "the kernel sent no tcp_info for subflow \(id)") }
                value = Array(t[16..<20])           // tcpi_snd_mss, native byte order
            case (SOL_SOCKET, SO_MARK):
                value = Self.native(Int32(bitPattern: d.mark ?? 0))
            case (Int32(IPPROTO_IP), IP_TOS):
                value = Self.native(Int32(d.typeOfService ?? 0))
            default:
                value = Self.native(Int32(d.trafficClass ?? 0))
            }
        case _ where Self.integerOption(level, name) != nil:
            // Answered later (the value, too, at most `cap` bytes): ``respond(_:)`` hands the
            // wait to the client.
            let d = try integerOption(c, id: id, Self.integerOption(level, name)!)
            deferred = Deferred(deadline: d.deadline) { expired in d.answer(expired).map { $0.map { Array($0.prefix(cap)) } } }
            value = []
        default:
            throw BrokerError(EOPNOTSUPP, "per-subflow getsockopt(level \(level), option \(name)) is not supported: srte reads \(Self.readableOptions) of one subflow, nothing else")
        }
        return Array(value.prefix(cap))
    }

    /// Op 7, MPTCP_SUB_SETSOCKOPT: body u32 id, i32 level, i32 name, then the value as
    /// setsockopt takes it. Applied by the BPF sock_ops program (`SubflowSocketOptions`) at the
    /// subflow's next RTT sample, which it enables for the subflows the broker opens.
    func setSubflowOption(_ c: BrokerConnection, _ body: [UInt8], _ cred: UnixSocket.Credentials) throws(BrokerError) -> [UInt8] {
        guard body.count >= 12 else {
            throw BrokerError(EINVAL, "set option takes a subflow id, level and name (12 bytes) and the value (got \(body.count) bytes)")
        }
        let id = Self.u32(body, 0)
        let level = Int32(bitPattern: Self.u32(body, 4)), name = Int32(bitPattern: Self.u32(body, 8))
        let value = Array(body[12...])
        try requireOwner(c, cred, "set socket options of its subflows")
        let option: SubflowSocketOptions.Option
        switch (level, name) {
        case (SOL_SOCKET, SO_MARK):
            guard let v = Self.nativeInt32(value) else { throw BrokerError(EINVAL, "SO_MARK takes an int (got \(value.count) bytes)") }
            let mark = UInt32(bitPattern: v)
            if cred.uid != 0 {
                guard let marks = policy().grant(for: cred.uid)?.marks else {
                    throw BrokerError(EPERM, "setting SO_MARK needs CAP_NET_ADMIN: uid \(cred.uid)'s grant in the agent's policy names no marks")
                }
                guard marks.contains(mark) else {
                    throw BrokerError(EPERM, "mark \(mark) is not granted to uid \(cred.uid) (granted: \(marks.lowerBound)-\(marks.upperBound))")
                }
            }
            option = .mark(mark)
        case (Int32(IPPROTO_IPV6), IPV6_TCLASS):
            guard let v = Self.nativeInt32(value) else { throw BrokerError(EINVAL, "IPV6_TCLASS takes an int (got \(value.count) bytes)") }
            guard (-1...255).contains(v) else { throw BrokerError(EINVAL, "IPV6_TCLASS \(v): -1 (the default) or 0-255") }
            option = .trafficClass(v)
        case (Int32(IPPROTO_IP), IP_TOS):
            guard let v = Self.nativeInt32(value) else { throw BrokerError(EINVAL, "IP_TOS takes an int (got \(value.count) bytes)") }
            guard (0...255).contains(v) else { throw BrokerError(EINVAL, "IP_TOS \(v): 0-255") }
            option = .typeOfService(v)
        case (Int32(IPPROTO_TCP), TCP_CONGESTION):
            let cc = String(decoding: value.prefix { $0 != 0 }, as: UTF8.self)
            guard !cc.isEmpty, cc.utf8.count < 16 else { throw BrokerError(EINVAL, "TCP_CONGESTION takes a name of 1-15 bytes") }
            let available = Self.words((try? Sysctl.read("net/ipv4/tcp_available_congestion_control")) ?? "")
            guard available.contains(cc) else {
                throw BrokerError(ENOENT, "congestion control '\(cc)' is not available (net.ipv4.tcp_available_congestion_control: \(available.joined(separator: " ")))")
            }
            if cred.uid != 0 {
                let allowed = Self.words((try? Sysctl.read("net/ipv4/tcp_allowed_congestion_control")) ?? "")
                guard allowed.contains(cc) else {
                    throw BrokerError(EPERM, "congestion control '\(cc)' needs CAP_NET_ADMIN: not in net.ipv4.tcp_allowed_congestion_control (\(allowed.joined(separator: " ")))")
                }
            }
            option = .congestionControl(cc)
        case _ where Self.integerOption(level, name) != nil:
            let o = Self.integerOption(level, name)!
            guard let v = Self.nativeInt32(value), value.count == 4 else { throw BrokerError(EINVAL, "\(o.text) takes an int (got \(value.count) bytes)") }
            // bpf_setsockopt runs with the kernel's rights: what setsockopt would refuse a
            // caller without CAP_NET_ADMIN is refused here.
            if cred.uid != 0 && !o.unprivileged.contains(Int64(v)) {
                throw BrokerError(o.name == SO_PRIORITY ? EPERM : EINVAL,
                                  "\(o.text) \(v): \(o.name == SO_PRIORITY ? "priorities above 6 need CAP_NET_ADMIN" : "out of range (\(o.unprivileged.lowerBound)-\(o.unprivileged.upperBound))")")
            }
            option = .integer(level: level, name: name, value: v)
        default:
            throw BrokerError(EOPNOTSUPP, "per-subflow setsockopt(level \(level), option \(name)) is not supported: srte reaches \(Self.settableOptions) of one subflow (BPF sock_ops bpf_setsockopt), nothing else")
        }
        let (s, found) = try subflow(c, id: id)
        guard found != nil, Self.isLive(s) else { throw BrokerError(EINVAL, "subflow \(id) is closed or closing") }
        // The IP header's class field: IPV6_TCLASS on an IPv6 subflow, IP_TOS on an IPv4 one.
        if case .trafficClass = option, s.local.isIPv4 {
            throw BrokerError(EOPNOTSUPP, "subflow \(id) is IPv4 (\(s.local)): its TOS is IP_TOS (level IPPROTO_IP), not IPV6_TCLASS")
        }
        if case .typeOfService = option, !s.local.isIPv4 {
            throw BrokerError(EOPNOTSUPP, "subflow \(id) is IPv6 (\(s.local)): its traffic class is IPV6_TCLASS (level IPPROTO_IPV6), not IP_TOS")
        }
        let opts = try reachableOptions(s, id: id, token: c.token)
        do { try opts.set(option, local: s.local, remote: s.remote, namespace: namespaceCookie) } catch {
            throw BrokerError(EIO, "recording the option for subflow \(id): \(error)")
        }
        optioned.insert(FourTuple(s.local, s.remote))
        return []
    }

    /// The events of subflows that connected (CREATED: the initial subflow; SUB_ESTABLISHED: a
    /// join) after the option program was attached: it turned their RTT callbacks on.
    func noteReachable(_ e: MPTCPEvent) {
        guard socketOptions != nil, let token = e.token else { return }
        let flow = e.local.flatMap { l in e.remote.map { FourTuple(l, $0) } }
        switch e.type {
        case .created, .subflowEstablished:
            if let flow { reachable[flow] = token }
            if reachable.count > 8192 { pruneReachable() }
        case .subflowClosed:
            if let flow { reachable[flow] = nil }
        case .closed:
            reachable = reachable.filter { $0.value != token }
        default: break
        }
    }

    /// Forgets subflows the kernel no longer lists (their CLOSED event was lost).
    func pruneReachable() {
        guard let all = try? SubflowDiagnostics.all(on: diag) else { return }
        let live = Set(all.map { FourTuple($0.local, $0.remote) })
        reachable = reachable.filter { live.contains($0.key) }
    }

    static func words(_ s: String) -> [String] { s.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).map(String.init) }

    /// Op 8: a subflow's priority (draft-03 `prio`; MP_PRIO to the peer) through the userspace
    /// path manager's SET_FLAGS. Body u32 id, u32 flags (bit 0 = low priority, backup).
    func setPriority(_ c: BrokerConnection, _ body: [UInt8], _ cred: UnixSocket.Credentials) throws(BrokerError) -> [UInt8] {
        guard body.count == 8 else { throw BrokerError(EINVAL, "priority takes a subflow id and flags (8 bytes, got \(body.count))") }
        let id = Self.u32(body, 0), flags = Self.u32(body, 4)
        guard flags & ~1 == 0 else { throw BrokerError(EINVAL, "priority flags \(flags): bit 0 = low priority (backup), nothing else") }
        try requireOwner(c, cred, "change the priority of its subflows")
        _ = try grant(cred, "change subflow priorities")
        let (s, found) = try subflow(c, id: id)
        guard found != nil, Self.isLive(s) else { throw BrokerError(EINVAL, "subflow \(id) is closed or closing") }
        let backup = flags & 1 != 0
        do throws(NetlinkError) {
            try pm.setBackup(token: c.token, local: s.local, remote: s.remote, backup: backup)
        } catch {
            if error.errno == ESRCH || error.errno == ENOENT { throw BrokerError(EINVAL, "no subflow with id \(id) (the kernel: \(error))") }
            throw Self.kernelError(error)
        }
        if (try? c.socket.info().token) != c.token {
            throw BrokerError(ECONNABORTED, "the connection ended during the request")
        }
        // The kernel sends no event for a change made on this side: the stream gets one from here.
        deliver(token: c.token, Self.eventRecord(.subflowPriority, flags: backup ? 1 : 0, error: 0, id: id, local: s.local, remote: s.remote))
        return []
    }

    // MARK: - Events

    /// Op 9: the request's Unix connection becomes the connection's event stream once the
    /// (empty) answer is written. Body empty.
    func subscribe(_ c: BrokerConnection, client: Client, _ cred: UnixSocket.Credentials) throws(BrokerError) -> [UInt8] {
        let streams = subscribers.count + pendingSubscriptions.count
        let mine = subscribers.filter { $0.uid == cred.uid }.count + pendingSubscriptions.values.filter { $0.uid == cred.uid }.count
        guard streams < Self.maxSubscribers, cred.uid == 0 || mine < Self.maxSubscribersPerUser else {
            throw BrokerError(EMFILE, "too many event streams open (\(streams); at most \(Self.maxSubscribers), \(Self.maxSubscribersPerUser) per user): close some")
        }
        let subs = c.subflows
        let ids = Dictionary(subs.map { (FourTuple($0.local, $0.remote), $0.id) }, uniquingKeysWith: { a, _ in a })
        pendingSubscriptions[client.fd] = Subscriber(fd: client.fd, token: c.token, uid: cred.uid, ids: ids)
        return []
    }

    /// After its answer is written: whether the client became an event stream (kept, not closed).
    func adoptSubscription(_ c: Client) -> Bool {
        guard let s = pendingSubscriptions.removeValue(forKey: c.fd) else { return false }
        subscribers.append(s)
        return true
    }

    /// One event record in its frame (op 9, error 0).
    static func eventRecord(_ type: EventType, flags: UInt8, error: UInt8, id: UInt32, local: SocketEndpoint?, remote: SocketEndpoint?) -> [UInt8] {
        var w = ByteWriter()
        w.append(type.rawValue)
        w.append(flags)
        w.append(UInt8(local.map { $0.isIPv4 ? AF_INET : AF_INET6 } ?? 0))
        w.append(error)
        w.appendBigEndian(id)
        w.appendBigEndian(local?.port ?? 0)
        w.appendBigEndian(remote?.port ?? 0)
        w.append(local?.address.bytes ?? [UInt8](repeating: 0, count: 16))
        w.append(remote?.address.bytes ?? [UInt8](repeating: 0, count: 16))
        w.appendBigEndian(UInt32(0))
        return frame(op: AgentProtocol.Operation.events.rawValue, error: 0, body: w.bytes)
    }

    /// A path-manager event, to the streams of its connection; notes the subflows the option
    /// program reaches.
    func publish(_ e: MPTCPEvent) {
        noteReachable(e)
        guard !subscribers.isEmpty, let token = e.token else { return }
        let type: EventType
        switch e.type {
        case .established: type = .established
        case .closed: type = .closed
        case .subflowEstablished: type = .subflowEstablished
        case .subflowClosed: type = .subflowClosed
        case .subflowPriority: type = .subflowPriority
        case .created:
            // A new connection with a token a stream follows: that connection ended unseen.
            for i in subscribers.indices where subscribers[i].token == token { subscribers[i].ending = true }
            flushSubscribers()
            return
        default: return
        }
        for i in subscribers.indices where subscribers[i].token == token && !subscribers[i].ending {
            let flow = e.local.flatMap { l in e.remote.map { FourTuple(l, $0) } }
            let id = flow.flatMap { subscribers[i].ids[$0] } ?? 0
            // Bit 0: low priority (backup); bit 1: the peer changed it (MP_PRIO received).
            var flags: UInt8 = e.backup == true ? 1 : 0
            if type == .subflowPriority { flags |= 2 }
            subscribers[i].output += Self.eventRecord(type, flags: flags, error: e.error ?? 0, id: id, local: e.local, remote: e.remote)
            if type == .closed { subscribers[i].ending = true }
        }
        flushSubscribers()
    }

    /// An event made by the broker itself, to the streams of `token`.
    func deliver(token: UInt32, _ record: [UInt8]) {
        for i in subscribers.indices where subscribers[i].token == token && !subscribers[i].ending {
            subscribers[i].output += record
        }
        flushSubscribers()
    }

    /// Notes a subflow the broker opened, so the streams of its connection name it by id.
    func noteOpened(token: UInt32, flow: FourTuple, id: UInt32) {
        for i in subscribers.indices where subscribers[i].token == token { subscribers[i].ids[flow] = id }
    }

    /// Writes what the streams owe; drops those whose program is gone, that owe too much, or that
    /// ended and are written.
    func flushSubscribers() {
        var kept: [Subscriber] = []
        for var s in subscribers {
            var gone = false
            while !s.output.isEmpty {
                let n = s.output.withUnsafeBytes { Glibc.send(s.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT)) }
                if n < 0 {
                    if errno == EINTR { continue }
                    if errno != EAGAIN { gone = true }
                    break
                }
                s.output.removeFirst(n)
            }
            if gone || s.output.count > Self.maxSubscriberBacklog || (s.ending && s.output.isEmpty) {
                close(s.fd)
                continue
            }
            kept.append(s)
        }
        subscribers = kept
    }

    /// Every call of ``serve(listener:)``: ends the streams whose program closed them (end of
    /// file, or bytes it should not send). Every second: ends the streams whose connection is
    /// gone from the kernel (its CLOSED event lost), and forgets the options of closed subflows.
    func sweepSubscribers(everySecond: Bool) {
        for i in subscribers.indices {
            var b: UInt8 = 0
            let n = recv(subscribers[i].fd, &b, 1, Int32(MSG_PEEK) | Int32(MSG_DONTWAIT))
            if n >= 0 || (errno != EAGAIN && errno != EINTR) {
                subscribers[i].output = []
                subscribers[i].ending = true
            }
        }
        if everySecond, !subscribers.isEmpty, let all = try? MPTCPConnectionDiagnostics.all(on: diag) {
            let tokens = Set(all.map(\.token))
            for i in subscribers.indices where !tokens.contains(subscribers[i].token) && !subscribers[i].ending {
                subscribers[i].output += Self.eventRecord(.closed, flags: 0, error: 0, id: 0, local: nil, remote: nil)
                subscribers[i].ending = true
            }
        }
        if everySecond, !optioned.isEmpty, let all = try? SubflowDiagnostics.all(on: diag), let opts = socketOptions {
            let live = Set(all.filter { $0.tcpState != 7 }.map { FourTuple($0.local, $0.remote) })
            for f in optioned where !live.contains(f) {
                opts.forget(local: SocketEndpoint(f.localAddress, port: f.localPort), remote: SocketEndpoint(f.remoteAddress, port: f.remotePort), namespace: namespaceCookie)
                optioned.remove(f)
            }
        }
        flushSubscribers()
    }
}
