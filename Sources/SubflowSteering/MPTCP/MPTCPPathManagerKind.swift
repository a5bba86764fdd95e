/// Which MPTCP path manager hosts run (`net.mptcp.pm_type`).
///
/// The testbed defaults to ``userspace`` because srte's subflow steering creates subflows
/// itself (generic netlink `mptcp_pm` SUBFLOW_CREATE). A server on the userspace PM rejects
/// every MP_JOIN unless some process in its namespace is subscribed to the `mptcp_pm_events`
/// group, so the serving side must run a listener for those events (as `srte serve` will);
/// choose ``kernel`` for plain tools like `mptcpize`.
public enum MPTCPPathManagerKind: Int, Codable, Sendable, CaseIterable {
    /// The in-kernel path manager (`pm_type=0`): joins accepted up to `ip mptcp limits`.
    case kernel = 0
    /// The userspace path manager (`pm_type=1`).
    case userspace = 1
}
