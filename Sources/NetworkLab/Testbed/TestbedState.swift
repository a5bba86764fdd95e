import Foundation
import SRv6Paths
import LinuxSystem
import SubflowSteering

/// What a lab has created, as recorded in `/run/srte/testbed/<lab>.json`.
///
/// `up` writes it before creating anything and rewrites it before and after creating each
/// namespace (node or link namespace), and after starting delay bridges, so `down` can remove
/// exactly what exists even after a failed, interrupted or killed `up`. Everything else a lab
/// creates (veths, addresses, routes, qdiscs, sysctls) lives inside its namespaces and
/// disappears with them; bridge processes are stopped first.
public struct TestbedState: Sendable {
    /// How far `up` got.
    public enum Phase: String, Codable, Sendable {
        /// `up` is running (or died while running).
        case creating
        /// `up` finished.
        case up
    }

    /// Version of this file's layout.
    public var schemaVersion = 1
    /// The lab name.
    public var lab: String
    /// How far `up` got.
    public var phase: Phase
    /// The process that ran `up`.
    public var pid: Int32
    /// That process's start time (`/proc/PID/stat` field 22), so a recycled pid is not
    /// mistaken for a running `up`.
    public var pidStartTime: UInt64?
    /// When `up` started (seconds since 1970).
    public var created: Double
    /// The topology file, when `up` was given one.
    public var topologyFile: String?
    /// Namespaces `up` created, in creation order.
    public var namespaces: [String]
    /// A namespace `up` was about to create (set just before `ip netns add`).
    public var pendingNamespace: String?
    /// Whether link delays are emulated (netem or bridges); `nil` until decided.
    public var delayEmulated: Bool?
    /// How delays are emulated (`netem`, `bridge` or `off`; never `auto`); `nil` until decided.
    public var delayMode: DelayMode?
    /// ``delayMode``, or for state files written before it existed what ``delayEmulated`` says.
    public var effectiveDelayMode: DelayMode { delayMode ?? (delayEmulated == true ? .netem : .off) }
    /// Link namespaces (`<lab>+L<i>`, for bridges) `up` created, in creation order.
    public var linkNamespaces: [String] = []
    /// A link namespace `up` was about to create.
    public var pendingLinkNamespace: String?
    /// The delay bridges `up` started.
    public var bridges: [Bridge] = []

    /// A running delay bridge (a `srte-delay-bridge` process).
    public struct Bridge: Codable, Sendable, Hashable {
        /// The link it delays.
        public var link: Int
        /// Its link namespace.
        public var namespace: String
        /// The process.
        public var pid: Int32
        /// The process's start time (`/proc/PID/stat` field 22), so a recycled pid is never signalled.
        public var startTime: UInt64?
    }
    /// The MPTCP path manager hosts run.
    public var mptcpPathManager: MPTCPPathManagerKind
    /// Hosts that run another path manager, by node name (`Testbed.UpOptions.hostPathManagers`).
    public var hostPathManagers: [String: MPTCPPathManagerKind] = [:]

    /// The MPTCP path manager `node` runs (hosts only: routers run none).
    public func mptcpPathManager(of node: String) -> MPTCPPathManagerKind {
        hostPathManagers[node] ?? mptcpPathManager
    }
    /// How routers realise End / End.X; `nil` until `up` chose.
    public var routerSIDs: Testbed.RouterSIDs?
    /// Facts a user should know about this lab (e.g. that delays are not emulated).
    public var notes: [String]
    /// The plan `up` realised.
    public var plan: TestbedPlan {
        didSet { planJSON = PlanJSON() }
    }
    /// The plan's JSON, encoded once: `up` rewrites the state file before and after each
    /// namespace, and the plan is most of the file.
    private var planJSON = PlanJSON()

    /// Creates a state record.
    public init(lab: String, phase: Phase, pid: Int32, created: Double, topologyFile: String?, namespaces: [String],
                pendingNamespace: String?, delayEmulated: Bool?, mptcpPathManager: MPTCPPathManagerKind, notes: [String],
                plan: TestbedPlan) {
        self.lab = lab
        self.phase = phase
        self.pid = pid
        self.created = created
        self.topologyFile = topologyFile
        self.namespaces = namespaces
        self.pendingNamespace = pendingNamespace
        self.delayEmulated = delayEmulated
        self.mptcpPathManager = mptcpPathManager
        self.notes = notes
        self.plan = plan
    }

    /// Everything but the plan, as stored under `"state"`.
    private struct Header: Codable {
        var schemaVersion: Int
        var lab: String
        var phase: Phase
        var pid: Int32
        var pidStartTime: UInt64?
        var created: Double
        var topologyFile: String?
        var namespaces: [String]
        var pendingNamespace: String?
        var delayEmulated: Bool?
        var delayMode: DelayMode?
        var linkNamespaces: [String]?
        var pendingLinkNamespace: String?
        var bridges: [Bridge]?
        var mptcpPathManager: MPTCPPathManagerKind
        var hostPathManagers: [String: MPTCPPathManagerKind]?
        var routerSIDs: Testbed.RouterSIDs?
        var notes: [String]
    }

    /// The file: `{"state": Header, "plan": TestbedPlan}`.
    private struct File: Decodable {
        var state: Header
        var plan: TestbedPlan
    }

    private final class PlanJSON: @unchecked Sendable {
        var data: Data?
    }

    /// The state file of a lab.
    static func path(of lab: String) -> String { "\(Testbed.stateDirectory)/\(lab).json" }

    /// Reads a lab's state file.
    static func load(_ lab: String) throws(TestbedError) -> TestbedState {
        let p = path(of: lab)
        guard let data = FileManager.default.contents(atPath: p) else {
            let known = Testbed.labs()
            throw TestbedError(.state, "no lab '\(lab)' (no \(p)); " + (known.isEmpty ? "no lab is up" : "labs: \(known.joined(separator: ", "))"))
        }
        do {
            let f = try JSONDecoder().decode(File.self, from: data)
            let h = f.state
            var s = TestbedState(lab: h.lab, phase: h.phase, pid: h.pid, created: h.created, topologyFile: h.topologyFile,
                                 namespaces: h.namespaces, pendingNamespace: h.pendingNamespace, delayEmulated: h.delayEmulated,
                                 mptcpPathManager: h.mptcpPathManager, notes: h.notes, plan: f.plan)
            s.schemaVersion = h.schemaVersion
            s.pidStartTime = h.pidStartTime
            s.delayMode = h.delayMode
            s.linkNamespaces = h.linkNamespaces ?? []
            s.pendingLinkNamespace = h.pendingLinkNamespace
            s.bridges = h.bridges ?? []
            s.routerSIDs = h.routerSIDs
            s.hostPathManagers = h.hostPathManagers ?? [:]
            return s
        } catch {
            throw TestbedError(.state, "\(p) is not a testbed state file: \(error)")
        }
    }

    /// Creates the state file; fails if the lab already has one (O_EXCL, so two `up`s of the
    /// same lab cannot both proceed).
    func create() throws(TestbedError) {
        do { try FileManager.default.createDirectory(atPath: Testbed.stateDirectory, withIntermediateDirectories: true) } catch {
            throw TestbedError(.system, "cannot create \(Testbed.stateDirectory): \(error)")
        }
        let p = TestbedState.path(of: lab)
        let fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 {
            if Errno.current == EEXIST {
                throw TestbedError(.state, "lab '\(lab)' already exists (\(p)); run `srte testbed down \(lab)` first")
            }
            throw TestbedError(.system, "cannot create \(p): \(Errno.current.message)")
        }
        close(fd)
        try save()
    }

    /// Rewrites the state file atomically (write a temporary file, then rename).
    func save() throws(TestbedError) {
        let p = TestbedState.path(of: lab)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            let header = Header(schemaVersion: schemaVersion, lab: lab, phase: phase, pid: pid, pidStartTime: pidStartTime, created: created,
                                topologyFile: topologyFile, namespaces: namespaces, pendingNamespace: pendingNamespace,
                                delayEmulated: delayEmulated, delayMode: delayMode, linkNamespaces: linkNamespaces,
                                pendingLinkNamespace: pendingLinkNamespace, bridges: bridges,
                                mptcpPathManager: mptcpPathManager, hostPathManagers: hostPathManagers.isEmpty ? nil : hostPathManagers,
                                routerSIDs: routerSIDs, notes: notes)
            if planJSON.data == nil { planJSON.data = try enc.encode(plan) }
            var data = Data("{\"state\": ".utf8)
            data += try enc.encode(header)
            data += Data(",\n\"plan\": ".utf8)
            data += planJSON.data!
            data += Data("}\n".utf8)
            try FileReplacement.write([UInt8](data), to: p)
        } catch {
            throw TestbedError(.system, "cannot write \(p): \(error)")
        }
    }

    /// Whether the process that ran `up` is still alive (same pid and start time).
    public var upProcessIsAlive: Bool {
        guard kill(pid, 0) == 0 || Errno.current == EPERM else { return false }
        // A zombie (killed, not yet reaped by its parent) is not running.
        return DelayBridgeProcess.isRunning(pid, startTime: pidStartTime)
    }

    /// A process's start time in clock ticks since boot (`/proc/PID/stat` field 22).
    static func startTime(of pid: Int32) -> UInt64? { processStat(pid)?.startTime }

    /// A process's state letter and start time (`/proc/PID/stat`).
    static func processStat(_ pid: Int32) -> (state: Substring, startTime: UInt64?)? { Processes.status(pid) }

    /// Whether a recorded bridge process is still running (same pid and start time).
    public static func isRunning(_ bridge: Bridge) -> Bool {
        DelayBridgeProcess.isRunning(bridge.pid, startTime: bridge.startTime)
    }

    /// Removes the state file.
    func remove() {
        unlink(TestbedState.path(of: lab))
        unlink(TestbedState.path(of: lab) + ".tmp")
    }
}
