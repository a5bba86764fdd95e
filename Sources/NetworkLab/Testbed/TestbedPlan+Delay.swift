import SRv6Paths
import LinuxSystem
import SubflowSteering

/// How a lab emulates its links' delays.
public enum DelayMode: String, Codable, Sendable, CaseIterable {
    /// netem when the kernel has it, else userspace bridges (up to
    /// ``TestbedPlan/maxAutoBridges`` delayed links), else none.
    case auto
    /// `netem delay` under each end's tbf (needs `sch_netem`; `up` fails without it).
    case netem
    /// A `srte-delay-bridge` process per delayed link, in the link's own namespace.
    case bridge
    /// No delay: the topology's delays are used by the planner only.
    case off
}

/// The delay part of a plan: which links get a link namespace and a bridge, and the text
/// that builds them. Pure, like the rest of the plan.
extension TestbedPlan {
    /// The bridge's port toward the link's first endpoint, inside the link namespace.
    public static let bridgePortA = "porta"
    /// The bridge's port toward the second endpoint.
    public static let bridgePortB = "portb"
    /// `auto` starts bridges only up to this many delayed links (one process each); above it,
    /// a lab runs without delays unless `bridge` is asked for explicitly.
    public static let maxAutoBridges = 64

    /// The namespace of link `link`'s bridge: `<lab>+L<index>` (`+` never occurs in a lab
    /// or node name, so it cannot collide with a node's `<lab>-<node>`).
    public func linkNamespace(of link: Link) -> String { "\(lab)+L\(link.index)" }

    /// The links with a delay (> 0 µs): those a bridge lab gives a link namespace.
    public var delayedLinks: [Link] { links.filter { $0.delay > 0 } }

    /// What `mode` means for this plan on a kernel with or without netem: the mode used
    /// (never `auto`) and, if delays are not emulated as the file says, why.
    /// - Throws: ``TestbedError`` (`.system`) for `netem` on a kernel without it.
    public func resolveDelay(_ mode: DelayMode, netemAvailable: Bool, netemError: String = "") throws(TestbedError) -> (mode: DelayMode, note: String?) {
        let delayed = delayedLinks.count
        switch mode {
        case .off:
            return (.off, delayed == 0 ? nil : "link delays are not emulated (--delay off); the topology's delays are only used by the planner")
        case .netem:
            guard netemAvailable else {
                throw TestbedError(.system, "--delay netem: this kernel has no netem qdisc (CONFIG_NET_SCH_NETEM; tc said: \(netemError)); use --delay bridge")
            }
            return (.netem, nil)
        case .bridge:
            return (.bridge, nil)
        case .auto:
            if delayed == 0 { return (.off, nil) }       // nothing to delay: no bridges, no netem
            if netemAvailable { return (.netem, nil) }
            if delayed <= TestbedPlan.maxAutoBridges { return (.bridge, nil) }
            return (.off, "link delays are not emulated: this kernel has no netem qdisc, and \(delayed) delayed links would need \(delayed) bridge processes (auto starts at most \(TestbedPlan.maxAutoBridges); --delay bridge forces them); the topology's delays are only used by the planner")
        }
    }

    /// The links that get a bridge under `mode` (resolved): the delayed links for `bridge`.
    public func bridgedLinks(_ mode: DelayMode) -> [Link] { mode == .bridge ? delayedLinks : [] }

    /// `ip -batch` lines (root namespace) creating every veth pair straight into its
    /// namespaces. A bridged link gets two pairs: A's end ↔ ``bridgePortA`` and B's end ↔
    /// ``bridgePortB``, the bridge ports in the link's namespace.
    public func vethCommands(bridged: Set<Int>) -> [String] {
        links.flatMap { l -> [String] in
            let na = node(l.a)!.namespace, nb = node(l.b)!.namespace
            let mtu = l.mtu.map { " mtu \($0)" } ?? ""
            guard bridged.contains(l.index) else {
                return ["link add name \(l.interfaceA) netns \(na)\(mtu) type veth peer name \(l.interfaceB) netns \(nb)\(mtu)"]
            }
            let ns = linkNamespace(of: l)
            return ["link add name \(l.interfaceA) netns \(na)\(mtu) type veth peer name \(TestbedPlan.bridgePortA) netns \(ns)\(mtu)",
                    "link add name \(l.interfaceB) netns \(nb)\(mtu) type veth peer name \(TestbedPlan.bridgePortB) netns \(ns)\(mtu)"]
        }
    }

    /// Sysctls of a link namespace, before its ports exist: no IPv6 on the ports (they carry
    /// the link's frames, never send their own: no router solicitations, MLD or DAD).
    public func linkNamespaceSysctls() -> [(String, String)] {
        [("net/ipv6/conf/all/disable_ipv6", "1"), ("net/ipv6/conf/default/disable_ipv6", "1")]
    }

    /// `ip -batch` lines for a link namespace: both ports up, aliased with the node they face.
    public func linkNamespaceCommands(for link: Link) -> [String] {
        ["link set dev lo up",
         "link set dev \(TestbedPlan.bridgePortA) up alias \(link.a)",
         "link set dev \(TestbedPlan.bridgePortB) up alias \(link.b)"]
    }

    /// A bridge's queue bound per direction: twice the link's bandwidth-delay product
    /// (unshaped links count as 10 Gbit/s), between 4 and 64 MiB.
    public static func bridgeQueueBytes(for link: Link) -> Int {
        let rate = link.bandwidth ?? 10_000_000_000
        let bdp = Double(rate) / 8 * Double(link.delay) / 1e6
        return min(64 << 20, max(4 << 20, Int(2 * bdp)))
    }

    /// The arguments of `srte-delay-bridge` for a link (without `--ready-fd`).
    public func bridgeArguments(for link: Link) -> [String] {
        ["--netns", linkNamespace(of: link), "--delay-us", String(link.delay),
         "--port-a", TestbedPlan.bridgePortA, "--port-b", TestbedPlan.bridgePortB,
         "--queue-bytes", String(TestbedPlan.bridgeQueueBytes(for: link))]
    }
}
