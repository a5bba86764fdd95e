/// Which MPTCP path manager hosts run (`net.mptcp.pm_type`).
///
/// The testbed defaults to ``userspace`` because srte's subflow steering creates subflows
/// itself (generic netlink `mptcp_pm` SUBFLOW_CREATE). A server on the userspace PM accepts
/// MP_JOINs only while some process subscribes to the `mptcp_pm_events` group — in any
/// namespace, since the kernel's check (`genl_has_listeners`) is host-wide — and ignores
/// `ip mptcp limits`; `srte serve` subscribes while it serves. Choose ``kernel`` for plain
/// tools like `mptcpize` when nothing subscribes.
public enum MPTCPPathManagerKind: Int, Codable, Sendable, CaseIterable {
    /// The in-kernel path manager (`pm_type=0`): joins accepted up to `ip mptcp limits`.
    case kernel = 0
    /// The userspace path manager (`pm_type=1`).
    case userspace = 1
}
