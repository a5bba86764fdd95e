import Foundation
import Testing
import LinuxSystem
import TestSupport
@testable import SubflowSteering

/// srte's port range in `net.ipv4.ip_local_reserved_ports`: added by the first holder, kept while
/// any holds it, removed by the last; never removed when the administrator had reserved it.
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates network namespaces"))
struct PortReservationTests {
    @Test func theLastHolderGivesTheRangeBack() throws {
        let lab = try TestLab("portres", nodes: ["n"])
        defer { lab.destroy() }
        func reserved() throws -> String { try lab.exec("n", ["cat", "/proc/sys/net/ipv4/ip_local_reserved_ports"]).trimmingCharacters(in: .whitespacesAndNewlines) }
        try lab.sysctl("n", "net.ipv4.ip_local_reserved_ports", "5201")
        try NetworkNamespace.run(in: lab.ns("n")) {
            let a = try PortReservation(), b = try PortReservation()
            #expect(try Sysctl.read("net/ipv4/ip_local_reserved_ports").contains("40000-40999"))
            a.release()
            #expect(try Sysctl.read("net/ipv4/ip_local_reserved_ports").contains("40000-40999"), "b still holds it")
            b.release()
        }
        #expect(try reserved() == "5201", "the administrator's reservation stays, srte's goes")
        // Reserved by the administrator already: srte holds it and leaves it.
        try lab.sysctl("n", "net.ipv4.ip_local_reserved_ports", "40000-40999")
        try NetworkNamespace.run(in: lab.ns("n")) { try PortReservation().release() }
        #expect(try reserved() == "40000-40999")
        // A holder that dies without releasing (its lock goes with it): cleanUp removes the range.
        try lab.sysctl("n", "net.ipv4.ip_local_reserved_ports", "")
        let cookie = try NetworkNamespace.run(in: lab.ns("n")) { () throws -> UInt64 in
            let r = try PortReservation()
            let c = try NetworkNamespace.currentCookie()
            #expect(PortReservation.cleanUp() == nil, "held: nothing to clean")
            // What SIGKILL does: the descriptor (and its lock) goes, release() never runs.
            r.abandonForTesting()
            return c
        }
        #expect(try reserved() == "40000-40999")
        let removed = try NetworkNamespace.run(in: lab.ns("n")) { PortReservation.cleanUp() }
        let after = try reserved()
        #expect(removed == "40000-40999" && after.isEmpty, "\(String(describing: removed)), \(after)")
        #expect(access(PortReservation.lockPath(cookie: cookie), F_OK) != 0, "the lock file goes with the range")
    }
}
