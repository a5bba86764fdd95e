import Foundation
import SRv6Paths
import LinuxSystem

/// Re-plans around failures for an ``EngineeredConnection`` whose subflows follow planned
/// paths: the replacement policy behind `srte open --keep` and `srte experiment --fail`.
///
/// When subflow *i* fails, the links of its path that no working subflow uses are taken as
/// suspect (the sender cannot tell which one broke), and a new path is planned that avoids
/// every suspect link and, if possible, stays disjoint from the working paths
/// (`DisjointPathPlanner.replacement(from:to:surviving:avoiding:disjoint:strict:)`). It is
/// encoded against the topology's IGP as configured — the network is not assumed to have
/// reconverged, so the segment list forces the whole path (checked by the forwarding simulation).
///
/// ```swift
/// let keeper = PathKeeper(plan: report)
/// connection.keep = keeper.policy()
/// ```
public final class PathKeeper: @unchecked Sendable {
    private let lock = NSLock()
    /// The topology planned on.
    public let topology: Topology
    /// Source and destination node indices.
    public let from: Int, to: Int
    /// The disjointness replacements keep from the working paths.
    public let disjoint: Disjointness
    private let planner: DisjointPathPlanner
    private let encoder: SegmentEncoder
    private let msd: Int?
    private let strict: Bool
    private var paths: [Int: PlannedPath]
    private var failed = Set<Int>()
    /// How replacement paths are packed: `off` plans the fewest SIDs; `full` and `reduced` the
    /// fewest SRH bytes with the topology's C-SIDs (RFC 9800), as containers, and `reduced`
    /// leaves a first container out of the Segment List (``EngineeredConnection/KeepPolicy/Replacement/reduced``).
    public let compression: SRHCompression

    /// A keeper for the connection opened with `plan`'s paths, subflow *i* on path *i*.
    /// - Parameters:
    ///   - plan: the plan the connection's subflows follow.
    ///   - compression: how replacement paths are packed (`off`: whole SIDs). Give the mode
    ///     the connection's own paths were packed with; the plan's topology must carry the C-SIDs.
    public init(plan: PlanReport, compression: SRHCompression = .off) {
        self.compression = compression
        topology = plan.topology
        from = plan.from
        to = plan.to
        disjoint = plan.disjoint
        strict = plan.strict
        planner = DisjointPathPlanner(topology: plan.topology, metric: plan.metric)
        encoder = SegmentEncoder(planner: planner)
        msd = topology.nodes[plan.from].msd ?? topology.defaultMSD
        paths = Dictionary(uniqueKeysWithValues: plan.paths.enumerated().map { ($0.offset, $0.element.path) })
    }

    /// The planned path of subflow `index`, if known.
    public func path(ofSubflow index: Int) -> PlannedPath? { lock.withLock { paths[index] } }

    /// Links believed down so far.
    public var suspectLinks: Set<Int> { lock.withLock { failed } }

    /// The node names of a path, space-separated.
    public func hops(_ p: PlannedPath) -> String { p.nodes.map { topology.nodes[$0].name }.joined(separator: " ") }

    /// The replacement for failed subflow `index`, to become subflow `newIndex`, given the
    /// subflows still working; nil when no path avoids the suspect links or none can be encoded.
    public func replacement(forFailed index: Int, active: [Int], newIndex: Int) -> EngineeredConnection.KeepPolicy.Replacement? {
        lock.withLock {
            guard let broken = paths[index] else { return nil }
            let surviving = active.compactMap { paths[$0] }
            var suspect = Set(broken.links)
            for p in surviving { suspect.subtract(p.links) }
            failed.formUnion(suspect)
            guard let r = planner.replacement(from: from, to: to, surviving: surviving, avoiding: failed,
                                              disjoint: disjoint, strict: strict) else { return nil }
            let waypoints: [IPv6Address], reduced: Bool
            if compression == .off {
                guard let segments = try? encoder.encode(r.path, msd: msd) else { return nil }
                (waypoints, reduced) = (segments.waypoints, false)
            } else {
                guard let e = try? encoder.encodeFewestBytes(r.path, msd: msd, reduced: compression == .reduced) else { return nil }
                (waypoints, reduced) = (Array(e.list.segments.dropLast()), compression == .reduced && e.list.reducible)
            }
            paths[newIndex] = r.path
            var label = hops(r.path)
            if !r.disjoint { label += ", shared with a working path" }
            return .init(waypoints: waypoints, label: label, reduced: reduced)
        }
    }

    /// A keep policy that replaces failed subflows with this keeper's plans.
    public func policy(stallTimeout: Duration = .milliseconds(300),
                       onEvent: ((EngineeredConnection.Event) -> Void)? = nil) -> EngineeredConnection.KeepPolicy {
        EngineeredConnection.KeepPolicy(stallTimeout: stallTimeout, replace: { [self] failed, active, subflows in
            replacement(forFailed: failed, active: active, newIndex: subflows.count)
        }, onEvent: onEvent)
    }
}
