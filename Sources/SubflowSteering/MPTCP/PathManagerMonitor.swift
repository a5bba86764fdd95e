import Glibc
import LinuxSystem

/// What ``PathManagerMonitor`` reports.
public enum MonitorEvent: Hashable, Sendable {
    /// A path-manager event (`mptcp_pm_events`).
    case pathManager(MPTCPEvent)
    /// A local address appeared (RTM_NEWADDR) — draft-hesmans-mptcp-socket-03's "new local address".
    case localAddressAdded(InterfaceAddress)
    /// A local address went away (RTM_DELADDR).
    case localAddressRemoved(InterfaceAddress)
}

/// Live path-manager and local-address events of the current namespace, like
/// `ip mptcp monitor` plus rtnetlink address changes, as one `AsyncSequence`.
///
/// Subscribing also makes servers on the userspace path manager accept joins, in every
/// namespace (the kernel checks for a subscriber host-wide).
public final class PathManagerMonitor: @unchecked Sendable {
    let pm: NetlinkSubscription
    let familyID: UInt16
    let addresses: NetlinkSubscription

    /// Subscribes in the current namespace.
    public init() throws(NetlinkError) {
        let p = try MPTCPPathManager()
        guard let g = p.family.multicastGroups[MPTCPPathManager.eventGroupName] else {
            throw NetlinkError(operation: "mptcp_pm events", errno: ENOENT, extAckMessage: "no \(MPTCPPathManager.eventGroupName) group")
        }
        familyID = p.family.id
        pm = try NetlinkSubscription(.generic, groups: [g])
        addresses = try NetlinkSubscription(.route, groups: [Rtnetlink.ipv4AddressGroup, Rtnetlink.ipv6AddressGroup])
    }

    /// Stops both readers.
    public func cancel() {
        pm.cancel()
        addresses.cancel()
    }

    /// Waits up to `timeout` for events from either source (synchronous; for
    /// callers with their own loop, such as the CLI).
    public func next(timeout: Duration) throws -> [MonitorEvent] {
        var fds = [pollfd(fd: pm.fileDescriptor, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: addresses.fileDescriptor, events: Int16(POLLIN), revents: 0)]
        let ms = timeout.pollMilliseconds
        let n = try syscallValue("poll") { poll(&fds, 2, ms) }
        guard n > 0 else { return [] }
        var out: [MonitorEvent] = []
        if fds[0].revents != 0, let ms = try pm.receive(timeout: .milliseconds(1)) {
            for m in ms where m.type.rawValue == familyID { out.append(.pathManager(try MPTCPEvent(decoding: m))) }
        }
        if fds[1].revents != 0, let ms = try addresses.receive(timeout: .milliseconds(1)) {
            for m in ms {
                if m.type == Rtnetlink.newAddress, let x = try? InterfaceAddress(decoding: m) { out.append(.localAddressAdded(x)) }
                if m.type == Rtnetlink.deleteAddress, let x = try? InterfaceAddress(decoding: m) { out.append(.localAddressRemoved(x)) }
            }
        }
        return out
    }

    /// Both sources merged, in arrival order per source.
    public func events() -> AsyncThrowingStream<MonitorEvent, Error> {
        let (stream, continuation) = AsyncThrowingStream<MonitorEvent, Error>.makeStream()
        let fid = familyID
        let a = pm.messages(), b = addresses.messages()
        let t1 = Task {
            do {
                for try await m in a where m.type.rawValue == fid { continuation.yield(.pathManager(try MPTCPEvent(decoding: m))) }
                continuation.finish()
            } catch { continuation.finish(throwing: error) }
        }
        let t2 = Task {
            do {
                for try await m in b {
                    if m.type == Rtnetlink.newAddress, let x = try? InterfaceAddress(decoding: m) { continuation.yield(.localAddressAdded(x)) }
                    if m.type == Rtnetlink.deleteAddress, let x = try? InterfaceAddress(decoding: m) { continuation.yield(.localAddressRemoved(x)) }
                }
            } catch { continuation.finish(throwing: error) }
        }
        continuation.onTermination = { [weak self] _ in
            t1.cancel()
            t2.cancel()
            self?.cancel()
        }
        return stream
    }
}
