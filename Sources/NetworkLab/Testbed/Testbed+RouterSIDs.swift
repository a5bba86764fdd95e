import Glibc
import SRv6Paths
internal import CSRH
import LinuxSystem
import SubflowSteering

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
        let o: BPFObject, mapFD: Int32
        do throws(SystemCallError) {
            o = try BPFObject(embedded: srv6RouterObject, what: "the SRv6 router program for \(node.name)")
            mapFD = try o.mapFD("srte_sids")
        } catch {
            throw TestbedError(.system, error.description)
        }
        defer { o.close() }
        let csidFD: Int32
        do throws(SystemCallError) { csidFD = try o.mapFD("srte_csid") } catch { throw TestbedError(.system, error.description) }
        if let f = node.csid {
            guard f.block % 8 == 0, f.csid % 8 == 0 else {
                throw TestbedError(.invalidInput, "\(node.name): C-SID format \(f.block)/\(f.csid): srte's BPF router takes a Locator-Block and C-SID length in whole bytes")
            }
            var zero: UInt32 = 0
            var cfg = csrh_router_csid(block_bytes: UInt32(f.block / 8), csid_bytes: UInt32(f.csid / 8))
            do throws(SystemCallError) { try BPFMap.update(csidFD, key: &zero, value: &cfg) } catch {
                throw TestbedError(.system, "\(node.name): setting the C-SID format: \(error.reason)")
            }
        }
        let failure: String? = try NetworkNamespace.runTyped(in: node.namespace) {
            for s in node.sids {
                var value = csrh_router_sid()
                value.behavior = UInt32(s.behavior == "End.X" ? CSRH_ROUTER_END_X : CSRH_ROUTER_END)
                value.flavor = UInt32(s.isNextCSID ? CSRH_ROUTER_NEXT_CSID : CSRH_ROUTER_PLAIN)
                value.local = s.local == true ? 1 : 0
                if s.behavior == "End.X" {
                    value.ifindex = if_nametoindex(s.interface)
                    guard value.ifindex != 0, let nh = s.nexthop else { return "End.X \(s.address): no interface \(s.interface)" }
                    withUnsafeMutableBytes(of: &value.nexthop) { $0.copyBytes(from: nh.bytes) }
                }
                var key = s.address.bytes
                do throws(SystemCallError) { try BPFMap.update(mapFD, key: &key, value: &value) } catch {
                    return "adding SID \(s.address): \(error.reason)"
                }
            }
            for i in node.interfaces {
                let index = if_nametoindex(i.name)
                guard index != 0 else { return "no interface \(i.name)" }
                do throws(SystemCallError) { try o.attachTC(ifindex: Int32(index), ingress: true) } catch {
                    return "attaching to \(i.name) ingress: \(error.reason) \(error.detail)"
                }
            }
            return nil
        }
        if let failure { throw TestbedError(.system, "SRv6 router program in \(node.namespace): \(failure)") }
    }

    /// The counters of the router program's SIDs in `node` (read from the map of the program
    /// attached to the node's first interface).
    static func bpfSIDCounters(_ node: TestbedPlan.Node) throws(TestbedError) -> [SIDCounters] {
        guard let first = node.interfaces.first else { return [] }
        let behaviours = Dictionary(node.sids.map { ($0.address, $0.label) }, uniquingKeysWith: { a, _ in a })
        let result: Result<[SIDCounters], TestbedError> = try NetworkNamespace.runTyped(in: node.namespace) {
            let fd: Int32
            do throws(SystemCallError) { fd = try BPFMap.attachedTCMapFD(ifindex: Int32(if_nametoindex(first.name)), ingress: true, name: "srte_sids") } catch {
                return .failure(TestbedError(.system, "no SRv6 router program on \(first.name) in \(node.namespace): \(error.reason)"))
            }
            defer { close(fd) }
            var out: [SIDCounters] = []
            var key = [UInt8](repeating: 0, count: 16), next = key
            var havePrevious = false
            while havePrevious ? BPFMap.nextKey(fd, after: &key, into: &next) : BPFMap.nextKey(fd, after: nil, into: &next) {
                var v = csrh_router_sid()
                if BPFMap.lookup(fd, key: &next, into: &v) {
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
