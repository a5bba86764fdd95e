/// How a sender packs a planned segment list into its SRH.
///
/// ```swift
/// let r = try PlanReport(topology: t, from: "h1", to: "h2", k: 3, encoding: .fewestBytes)
/// let w = r.paths[2].wire(.reduced, topology: t)
/// w.destination   // fc00:0:c:: — the first container, as Destination Address
/// w.srhBytes      // 24: only the final destination is left in the Segment List
/// ```
public enum SRHCompression: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// Every SID whole (RFC 8754).
    case off
    /// RFC 9800 NEXT-C-SID containers in a full SRH (the first container is in the Segment List
    /// too): every node that processes a container must run NEXT-C-SID, and a receiver sees the
    /// whole list (`srte serve --reflect` reverses it).
    case full
    /// Containers, and the first entry only as Destination Address (RFC 8754 §4.1.1 reduced
    /// SRH) when it is a container: 16 bytes less again. The node that finishes the first
    /// entry must accept Segments Left = Last Entry + 1 (srte's BPF End; not the kernel's).
    case reduced

    public var description: String { rawValue }

    /// What the planner chooses segment lists for when they are sent this way: the fewest SIDs
    /// (off), the fewest bytes of a full SRH (full), of a reduced SRH (reduced).
    public var encoding: PlanReport.Encoding {
        switch self {
        case .off: .fewestSIDs
        case .full: .fewestBytes
        case .reduced: .fewestReducedBytes
        }
    }
}

/// A planned path as a sender puts it in its packets.
public struct WireSegmentList: Sendable, Hashable {
    /// The Segment List entries in path order (containers and whole SIDs), the final destination last.
    public var entries: [IPv6Address]
    /// Whether the SRH is reduced: ``entries``[0] travels only as Destination Address.
    public var reduced: Bool
    /// The entries before the final destination (empty: the IGP path, no SRH).
    public var waypoints: [IPv6Address] { Array(entries.dropLast()) }
    /// The packets' Destination Address: the first entry.
    public var destination: IPv6Address? { entries.first }
    /// SRH bytes per packet (no TLVs): `8 + 16 × entries`, 16 less when reduced, 0 without waypoints.
    public var srhBytes: Int { entries.count > 1 ? 8 + 16 * (entries.count - (reduced ? 1 : 0)) : 0 }

    /// The SRH as the packet leaves with it (Segments Left pointing at ``destination``), or nil
    /// without waypoints (no SRH).
    /// - Parameter nextHeader: the protocol that follows (default 6, TCP).
    /// - Throws: ``SRHError`` from the encoder (a list too long for one header).
    public func header(nextHeader: UInt8 = 6) throws(SRHError) -> [UInt8]? {
        guard entries.count > 1 else { return nil }
        if reduced { return try ReducedSegmentRoutingHeader(path: entries, nextHeader: nextHeader).encoded() }
        return try SegmentRoutingHeader(path: entries, nextHeader: nextHeader).encoded()
    }
}

extension PlanReport.Path {
    /// This path's segment list as sent with `compression`. Compression uses ``compressed`` when
    /// the plan was made for the fewest bytes, else compresses ``segments`` with `topology`'s C-SIDs;
    /// without C-SIDs on the path it stays as it is.
    /// - Parameters:
    ///   - compression: how to pack the list.
    ///   - topology: the topology planned on (its C-SID settings).
    public func wire(_ compression: SRHCompression, topology: Topology) -> WireSegmentList {
        let plain = segments.map(\.sid)
        guard compression != .off else { return WireSegmentList(entries: plain, reduced: false) }
        let list = compressed ?? topology.compressed(plain)
        return WireSegmentList(entries: list.segments, reduced: compression == .reduced && list.reducible)
    }
}
