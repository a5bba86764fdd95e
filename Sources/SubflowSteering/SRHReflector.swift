import Glibc
internal import CSRH
import SRv6Paths
import LinuxSystem

/// Reverse-path steering for a receiver (`srte serve --reflect`): a tc ingress
/// BPF program (Sources/CSRH/bpf/srh_learn.bpf.c) remembers the SRH each TCP
/// flow arrives with; ``reflect(where:)`` steers the replies of every new flow along
/// the reversed segment list (waypoints in reverse order, then the sender).
///
/// The learning program sits on a TCX link, gone with the process. Reversing a
/// list is exact for node SIDs; an adjacency SID (End.X) forces a link in one
/// direction only, so a list with End.X SIDs is reversed as it is and may not
/// retrace the path.
public final class SRHReflector {
    /// Where the replies' SRHs are installed.
    public let steering: SRHSteering
    private var object: BPFObject?
    private var linkFD: Int32 = -1
    private var learnedFD: Int32 = -1
    /// Flows whose replies are steered, with the list they arrived with (path order).
    public private(set) var reflected: [FourTuple: [IPv6Address]] = [:]

    /// Loads the learning program on `interface` ingress (calling thread's namespace).
    public init(interface: String, steering: SRHSteering) throws {
        self.steering = steering
        do throws(SystemCallError) {
            let ifindex = try NetworkInterface.index(of: interface)
            let o = try BPFObject(embedded: srhLearnObject, what: "the SRH learning program")
            learnedFD = try o.mapFD("srte_learned")
            linkFD = try o.attachTCX(ifindex: Int32(ifindex), ingress: true)
            object = o
        } catch {
            throw SteeringError(error.call, errno: error.errno, detail: error.detail)
        }
    }

    deinit { close() }

    /// Steers the replies of every flow that arrived with an SRH since the last call (and
    /// that `accept` takes: a host that also steers its own connections leaves those out).
    /// - Returns: the flows newly reflected.
    @discardableResult
    public func reflect(where accept: (FourTuple) -> Bool = { _ in true }) throws -> [FourTuple] {
        guard object != nil else { return [] }
        var keys: [csrh_steer_key] = []
        var key = csrh_steer_key()
        var next = csrh_steer_key()
        var more = BPFMap.nextKey(learnedFD, after: nil, into: &next)
        while more {
            keys.append(next)
            key = next
            more = BPFMap.nextKey(learnedFD, after: &key, into: &next)
        }
        var added: [FourTuple] = []
        for var k in keys {
            let flow = withUnsafeBytes(of: k) { raw -> FourTuple in
                FourTuple(local: IPv6Address(bytes: raw[0..<16]), localPort: UInt16(bigEndian: raw.loadUnaligned(fromByteOffset: 32, as: UInt16.self)),
                          remote: IPv6Address(bytes: raw[16..<32]), remotePort: UInt16(bigEndian: raw.loadUnaligned(fromByteOffset: 34, as: UInt16.self)))
            }
            guard reflected[flow] == nil, accept(flow) else { continue }
            var v = csrh_steer_value()
            guard BPFMap.lookup(learnedFD, key: &k, into: &v) else { continue }
            let bytes = withUnsafeBytes(of: &v.srh) { Array($0.prefix(Int(v.length))) }
            guard let srh = try? SegmentRoutingHeader(decoding: bytes), srh.segments.count >= 2 else { continue }
            // Arrived along [w1, …, wn, local]: reply along [wn, …, w1, remote].
            let waypoints = Array(srh.segments.dropLast().reversed())
            try steering.steer(flow, along: try SegmentRoutingHeader(path: waypoints + [flow.remoteAddress], nextHeader: UInt8(IPPROTO_TCP)))
            reflected[flow] = srh.segments
            added.append(flow)
        }
        return added
    }

    /// Stops reflecting `flow` (closed): removes its reply steering and what was learned for it,
    /// so a later flow with the same 4-tuple is learned afresh.
    public func forget(_ flow: FourTuple) {
        guard reflected.removeValue(forKey: flow) != nil else { return }
        try? steering.unsteer(flow)
        guard object != nil else { return }
        var k = csrh_steer_key()
        withUnsafeMutableBytes(of: &k.saddr) { $0.copyBytes(from: flow.localAddress.bytes) }
        withUnsafeMutableBytes(of: &k.daddr) { $0.copyBytes(from: flow.remoteAddress.bytes) }
        k.sport = flow.localPort.bigEndian
        k.dport = flow.remotePort.bigEndian
        _ = try? BPFMap.delete(learnedFD, key: &k)
    }

    /// The only interface other than `lo` in the calling thread's namespace.
    /// - Throws: ``SteeringError`` when there is none or more than one (then name one).
    public static func soleInterface() throws -> String {
        let names: [String]
        do throws(SystemCallError) { names = try NetworkInterface.names().filter { $0 != "lo" } } catch {
            throw SteeringError(error.call, errno: error.errno)
        }
        guard names.count == 1 else {
            throw SteeringError(names.isEmpty ? "no network interface besides lo" : "several interfaces (\(names.joined(separator: ", "))): name the one the traffic arrives on")
        }
        return names[0]
    }

    /// Detaches the learning program and removes the reply steering.
    public func close() {
        if linkFD >= 0 { Glibc.close(linkFD); linkFD = -1 }
        object?.close(); object = nil
        for f in reflected.keys { try? steering.unsteer(f) }
        reflected.removeAll()
    }
}

/// `net.ipv6.conf.*.seg6_enabled` in the calling thread's namespace: a host drops
/// every packet that arrives with an SRH unless both `all` and the receiving
/// interface have it set.
public enum SRv6Reception {
    /// The scopes among `all` and `interfaces` where `seg6_enabled` is 0 (or unreadable).
    public static func disabled(on interfaces: [String]) -> [String] {
        (["all"] + interfaces).filter { scope in
            (try? Sysctl.read("net/ipv6/conf/\(scope)/seg6_enabled")).flatMap { Int($0) } ?? 0 == 0
        }
    }

    /// The sysctl command that enables reception on `scopes`.
    public static func fix(_ scopes: [String]) -> String {
        "sysctl -w " + scopes.map { "net.ipv6.conf.\($0).seg6_enabled=1" }.joined(separator: " ")
    }
}
