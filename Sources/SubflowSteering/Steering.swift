import SRv6Paths
import LinuxSystem


/// A way to make the packets of exactly one TCP flow carry an SRH.
///
/// Implementations install state in the kernel and remove all of it in
/// ``removeAll()`` (and when the value is released).
public protocol SRHSteering: AnyObject {
    /// Makes the packets this host sends on `flow` carry `srh` (inline:
    /// the SRH's last segment must be `flow.remoteAddress`). Replaces an
    /// existing entry, which re-steers a live flow.
    func steer(_ flow: FourTuple, along srh: SegmentRoutingHeader) throws
    /// Stops steering `flow`; its packets follow the routing table again.
    func unsteer(_ flow: FourTuple) throws
    /// The flows currently steered.
    var steeredFlows: [FourTuple: SegmentRoutingHeader] { get }
    /// Removes everything this instance installed.
    func removeAll()
    /// Makes room for `bytes` of SRH in the packets toward `flow.remoteAddress` without steering
    /// `flow` itself, held until `unsteer(flow)`: a connection whose initial subflow stays on the
    /// IGP path but whose joins will carry SRHs needs this before it connects, so that the initial
    /// subflow gets the joins' MSS and all subflows send the same segment size.
    /// ``BPFSteering`` lowers the route MTU toward the peer. The default does
    /// nothing: ``PolicyRoutingSteering`` does not implement it (its seg6 routes reserve room
    /// only for the flows they steer).
    func reserveHeadroom(_ flow: FourTuple, bytes: Int) throws
    /// Makes the packets this host sends on `flow` carry a reduced SRH (RFC 8754 §4.1.1): the
    /// first segment (an RFC 9800 container, typically) only as Destination Address, the rest
    /// in the header. ``BPFSteering`` implements it; the default throws (the kernel's seg6
    /// routes that ``PolicyRoutingSteering`` uses have no reduced inline mode).
    func steer(_ flow: FourTuple, alongReduced srh: ReducedSegmentRoutingHeader) throws
}

extension SRHSteering {
    public func reserveHeadroom(_ flow: FourTuple, bytes: Int) throws {}

    public func steer(_ flow: FourTuple, alongReduced srh: ReducedSegmentRoutingHeader) throws {
        throw SteeringError("\(type(of: self)) cannot send reduced SRHs: use BPF steering, or full SRHs")
    }
}

/// Why steering failed.
public struct SteeringError: Error, CustomStringConvertible, Sendable {
    /// What was being done.
    public var operation: String
    /// The errno, when a system call failed.
    public var errno: Errno?
    /// The details (e.g. the BPF verifier log).
    public var detail: String

    /// For an errno value a C shim returned.
    public init(_ operation: String, errno: Int32, detail: String = "") {
        self.init(operation, errno: Errno(errno), detail: detail)
    }

    public init(_ operation: String, errno: Errno? = nil, detail: String = "") {
        self.operation = operation
        self.errno = errno
        self.detail = detail
    }

    public var description: String {
        var s = operation
        if let e = errno { s += ": \(e)" }
        if !detail.isEmpty { s += "\n" + detail }
        return s
    }
}
