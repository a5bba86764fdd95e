import Glibc
import LinuxSystem

/// The mechanisms that attach an SRH to exactly one TCP flow, and the choice between them.
///
/// - ``route``: policy routing (``PolicyRoutingSteering``): an `ip rule` per flow into a table
///   whose seg6 inline route inserts the SRH. The kernel accounts for the SRH in the MTU. Needs
///   seg6 lightweight tunnels (`CONFIG_IPV6_SEG6_LWTUNNEL`).
/// - ``bpf``: a tc egress BPF program (``BPFSteering``) that inserts the SRH from a map keyed by
///   the 4-tuple. Needs TCX (Linux 6.6+).
///
/// ```swift
/// let (mechanism, steering) = try SteeringMechanism.make(nil) { try RouteTable.egressInterface(toward: peer) }
/// ```
public enum SteeringMechanism: String, Sendable, CaseIterable, Codable {
    case route, bpf

    /// Sets up `choice` in the calling thread's namespace; for `nil`, policy routing where the
    /// kernel has seg6 routes and else the BPF program.
    /// - Parameters:
    ///   - choice: the mechanism, or `nil` for the default.
    ///   - egress: the BPF program's interface (asked only for ``bpf``).
    /// - Returns: the mechanism chosen and the steering.
    /// - Throws: what the mechanism's initializer throws; for an explicit ``route`` on a kernel
    ///   without seg6 routes, EOPNOTSUPP naming the missing option and `--steer bpf`.
    public static func make(_ choice: SteeringMechanism?, egress: () throws -> String) throws -> (SteeringMechanism, SRHSteering) {
        switch choice {
        case .route?: return (.route, try PolicyRoutingSteering())
        case .bpf?: return (.bpf, try BPFSteering(interface: try egress()))
        case nil:
            do { return (.route, try PolicyRoutingSteering()) } catch where error.errno == EOPNOTSUPP {
                return (.bpf, try BPFSteering(interface: try egress()))
            }
        }
    }
}
