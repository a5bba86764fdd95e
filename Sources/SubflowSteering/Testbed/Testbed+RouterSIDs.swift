#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SRv6Paths
internal import CSRH

extension Testbed {
    /// How a lab's routers realise their SIDs (End on the node SID, End.X on adjacency SIDs).
    public enum RouterSIDs: String, Codable, Sendable, CaseIterable {
        /// The kernel's `seg6local` routes (`encap seg6local action End|End.X ... count`).
        /// Needs `CONFIG_IPV6_SEG6_LWTUNNEL`.
        case seg6local
        /// srte's tc ingress program (Sources/CSRH/bpf/srv6_router.bpf.c) on every router
        /// interface, with the router's SIDs in a BPF map. Works on any kernel with tc BPF and
        /// `bpf_redirect_neigh` (5.10+); the classic tc filter stays until the namespace goes.
        case bpf
    }

    /// Loads the router program once for `node`, fills its SID map and attaches it to the
    /// ingress of every interface of the node (inside its namespace). The process may exit
    /// afterwards: the tc filters hold the program and the program holds its map.
    static func installBPFSIDs(_ node: TestbedPlan.Node) throws(TestbedError) {
        guard let elf = Base64.decode(srv6RouterObject) else { throw TestbedError(.system, "embedded BPF router object is corrupt") }
        var o: OpaquePointer? = nil
        let r = elf.withUnsafeBytes { csrh_bpf_object_load($0.baseAddress, $0.count, &o) }
        guard r == 0, let o else {
            throw TestbedError(.system, "loading the SRv6 router program for \(node.name): \(String(cString: strerror(-r))) "
                                        + String(cString: csrh_bpf_last_log()))
        }
        defer { csrh_bpf_object_close(o) }
        let mapFD = csrh_bpf_object_map_fd(o, "srte_sids")
        guard mapFD >= 0 else { throw TestbedError(.system, "the SRv6 router program has no map srte_sids") }
        let failure: String? = try NetworkNamespace.runTyped(in: node.namespace) {
            for s in node.sids {
                var value = csrh_router_sid()
                value.behavior = UInt32(s.behavior == "End.X" ? CSRH_ROUTER_END_X : CSRH_ROUTER_END)
                if s.behavior == "End.X" {
                    value.ifindex = if_nametoindex(s.interface)
                    guard value.ifindex != 0, let nh = s.nexthop else { return "End.X \(s.address): no interface \(s.interface)" }
                    withUnsafeMutableBytes(of: &value.nexthop) { $0.copyBytes(from: nh.bytes) }
                }
                var key = s.address.bytes
                let u = csrh_bpf_map_update(mapFD, &key, &value)
                if u != 0 { return "adding SID \(s.address): \(String(cString: strerror(-u)))" }
            }
            for i in node.interfaces {
                let index = if_nametoindex(i.name)
                guard index != 0 else { return "no interface \(i.name)" }
                let a = csrh_bpf_object_attach_tc(o, Int32(index), 1)
                if a != 0 { return "attaching to \(i.name) ingress: \(String(cString: strerror(-a))) \(String(cString: csrh_bpf_last_log()))" }
            }
            return nil
        }
        if let failure { throw TestbedError(.system, "SRv6 router program in \(node.namespace): \(failure)") }
    }

    /// The counters of the router program's SIDs in `node` (read from the map of the program
    /// attached to the node's first interface).
    static func bpfSIDCounters(_ node: TestbedPlan.Node) throws(TestbedError) -> [SIDCounters] {
        guard let first = node.interfaces.first else { return [] }
        let behaviours = Dictionary(node.sids.map { ($0.address, $0.behavior) }, uniquingKeysWith: { a, _ in a })
        let result: Result<[SIDCounters], TestbedError> = try NetworkNamespace.runTyped(in: node.namespace) {
            let fd = csrh_bpf_tc_attached_map_fd(Int32(if_nametoindex(first.name)), 1, "srte_sids")
            guard fd >= 0 else {
                return .failure(TestbedError(.system, "no SRv6 router program on \(first.name) in \(node.namespace): \(String(cString: strerror(-fd)))"))
            }
            defer { close(fd) }
            var out: [SIDCounters] = []
            var key = [UInt8](repeating: 0, count: 16), next = key
            var havePrevious = false
            while (havePrevious ? csrh_bpf_map_next_key(fd, &key, &next) : csrh_bpf_map_next_key(fd, nil, &next)) == 0 {
                var v = csrh_router_sid()
                if csrh_bpf_map_lookup(fd, &next, &v) == 0 {
                    let sid = IPv6Address(bytes: next)
                    out.append(SIDCounters(node: node.name, sid: sid, behavior: behaviours[sid] ?? "?",
                                           packets: v.packets, bytes: v.bytes, errors: v.errors))
                }
                key = next
                havePrevious = true
            }
            return .success(out.sorted { $0.sid.bytes.lexicographicallyPrecedes($1.sid.bytes) })
        }
        return try result.get()
    }
}
