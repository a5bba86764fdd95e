import Glibc
internal import CSRH
import LinuxSystem

/// A two-port Ethernet bridge in userspace that holds every frame for a fixed one-way delay:
/// the testbed's stand-in for `tc qdisc … netem delay` on kernels without `sch_netem`.
///
/// `srte testbed up` gives each delayed link A–B its own namespace `<lab>+L<i>` holding two
/// veth ends, ``TestbedPlan/bridgePortA`` (peer: A's end of the link) and
/// ``TestbedPlan/bridgePortB`` (peer: B's end), and runs one bridge there
/// (`srte-delay-bridge`, a detached process). Frames read from one port (a packet
/// socket, incoming frames only) are stamped with their arrival time, queued, and written to
/// the other port when `arrival + delay` has passed, in both directions, so a link's round
/// trip gains 2 × delay. Rate shaping stays on the nodes' ends (tbf), before the bridge.
///
/// ```swift
/// // inside the link namespace, as `srte-delay-bridge` does:
/// var bridge = DelayBridge(portA: "porta", portB: "portb", delay: .milliseconds(2))
/// let stop = try bridge.run(ready: { print("ready") })   // returns when a port disappears
/// ```
///
/// - Frames keep their `virtio_net_hdr` (`PACKET_VNET_HDR`): veth hands TCP over with partial
///   checksums and as GSO super-frames, which are forwarded as they are.
/// - Timing: a frame is due `delay` after the kernel stamped its arrival (`SO_TIMESTAMPNS`),
///   so the bridge's wake-up latency on arrival does not count; one thread waits with `ppoll`
///   (nanosecond timeout, timer slack 1 ns) for the earlier of the next due frame and the next
///   arrival, so frames leave close to their due time.
/// - The queue is bounded (``queueBytes``, ``queueFrames`` per direction); a full queue drops
///   arriving frames, as a router's queue would.
public struct DelayBridge: Sendable {
    /// The interface of port A (in the calling thread's namespace).
    public var portA: String
    /// The interface of port B.
    public var portB: String
    /// The one-way delay, the same both ways.
    public var delay: Duration
    /// Queue bound per direction, in bytes of frames (with their 10-byte headers).
    public var queueBytes: Int
    /// Queue bound per direction, in frames.
    public var queueFrames: Int

    /// The largest frame read: a 64 KiB GSO super-frame, its Ethernet header and the
    /// virtio_net_hdr, with room to spare. Longer frames (`MSG_TRUNC`) are dropped.
    public static let maxFrameBytes = 66 * 1024

    /// Creates a bridge description.
    public init(portA: String, portB: String, delay: Duration, queueBytes: Int = 4 << 20, queueFrames: Int = 8192) {
        self.portA = portA
        self.portB = portB
        self.delay = delay
        self.queueBytes = max(queueBytes, 2 * DelayBridge.maxFrameBytes)
        self.queueFrames = max(queueFrames, 2)
    }

    /// What the bridge did so far (both directions: A→B first).
    public struct Counters: Sendable, Equatable {
        /// Frames forwarded.
        public var forwarded: (aToB: UInt64, bToA: UInt64) = (0, 0)
        /// Frames the bridge dropped: its queue was full, a frame was too long, or the far port
        /// refused it.
        public var dropped: (aToB: UInt64, bToA: UInt64) = (0, 0)
        /// Frames the kernel dropped before the bridge read them (the packet socket's buffer
        /// was full: `PACKET_STATISTICS`), arriving on A and on B.
        public var kernelDropped: (a: UInt64, b: UInt64) = (0, 0)
        /// Frames that left more than 1 ms after they were due (the bridge did not get the CPU
        /// in time), and the latest any frame left, in microseconds.
        public var lateOver1ms: UInt64 = 0
        public var maxLateMicroseconds: UInt64 = 0

        public static func == (l: Counters, r: Counters) -> Bool {
            l.forwarded == r.forwarded && l.dropped == r.dropped && l.kernelDropped == r.kernelDropped
                && l.lateOver1ms == r.lateOver1ms && l.maxLateMicroseconds == r.maxLateMicroseconds
        }

        /// One line of JSON (what `--stats-file` holds).
        public var json: String {
            "{\"forwarded\": [\(forwarded.aToB), \(forwarded.bToA)], \"dropped\": [\(dropped.aToB), \(dropped.bToA)], "
                + "\"kernelDropped\": [\(kernelDropped.a), \(kernelDropped.b)], \"lateOver1ms\": \(lateOver1ms), \"maxLateMicroseconds\": \(maxLateMicroseconds)}"
        }
    }

    /// Why ``run(ready:)`` returned.
    public struct Stop: Sendable, CustomStringConvertible {
        /// The port that disappeared or failed.
        public var port: String
        /// The error the socket reported (ENXIO, ENODEV or ENETDOWN).
        public var error: SystemCallError
        /// Frames forwarded A→B and B→A.
        public var forwarded: (aToB: UInt64, bToA: UInt64)
        /// Frames dropped because a queue was full or a frame too long.
        public var dropped: UInt64

        public var description: String {
            "port \(port): \(error); forwarded \(forwarded.aToB) A→B, \(forwarded.bToA) B→A, dropped \(dropped)"
        }
    }

    /// Opens both ports in the calling thread's network namespace, calls `ready`, and forwards
    /// until a port disappears (its veth pair deleted, e.g. with the lab's namespaces).
    /// `report` gets the counters at most once a second while they change, and once at the end.
    /// - Throws: `SystemCallError` when a port cannot be opened.
    public func run(ready: () -> Void = {}, report: ((Counters) -> Void)? = nil) throws(SystemCallError) -> Stop {
        let a = try DelayBridge.openPort(portA), b: Int32
        do { b = try DelayBridge.openPort(portB) } catch { close(a); throw error }
        defer { close(a); close(b) }
        _ = csrh_set_timer_slack_ns(1)
        let delayNs = UInt64(delay.components.seconds) * 1_000_000_000 + UInt64(delay.components.attoseconds / 1_000_000_000)
        let ab = Direction(from: a, to: b, name: (portA, portB), queue: DelayQueue(bytes: queueBytes, frames: queueFrames))
        let ba = Direction(from: b, to: a, name: (portB, portA), queue: DelayQueue(bytes: queueBytes, frames: queueFrames))
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: DelayBridge.maxFrameBytes + 1, alignment: 16)
        defer { scratch.deallocate() }
        ready()
        let pollIn = csrh_poll_in(), pollErr = csrh_poll_err()
        var counters = Counters(), reported = Counters(), lastReport: UInt64 = 0
        func count(final: Bool) {
            counters.forwarded = (ab.forwarded, ba.forwarded)
            counters.dropped = (ab.dropped, ba.dropped)
            counters.kernelDropped.a += UInt64(csrh_packet_drops(a))
            counters.kernelDropped.b += UInt64(csrh_packet_drops(b))
            counters.lateOver1ms = ab.lateOver1ms + ba.lateOver1ms
            counters.maxLateMicroseconds = max(ab.maxLateNs, ba.maxLateNs) / 1000
            if final || counters != reported { report?(counters); reported = counters }
        }
        defer { if report != nil { count(final: true) } }
        while true {
            // 1. Everything due leaves, oldest first.
            var now = monotonicNanoseconds()
            if let stop = ab.sendDue(now: now) ?? ba.sendDue(now: now) { return stopped(stop, ab, ba) }
            if report != nil && now - lastReport >= 1_000_000_000 {
                lastReport = now
                count(final: false)
            }
            // 2. Wait for the earlier of the next due frame and the next arrival.
            var next = min(ab.queue.nextDue ?? .max, ba.queue.nextDue ?? .max)
            // (Counters not reported yet: wake up to report them within a second.)
            if report != nil && ab.forwarded + ba.forwarded + ab.dropped + ba.dropped != counters.forwarded.aToB + counters.forwarded.bToA + counters.dropped.aToB + counters.dropped.bToA {
                next = min(next, lastReport + 1_000_000_000)
            }
            let timeout: Int64 = next == .max ? -1 : Int64(next - min(next, now))
            var ra: Int16 = 0, rb: Int16 = 0
            let n = csrh_wait2(a, b, timeout, &ra, &rb)
            if n < 0 && -n != EINTR { return stopped((portA, SystemCallError("ppoll", errno: -n)), ab, ba) }
            if n <= 0 { continue }
            // 3. Read what arrived; each frame is due `delay` after the kernel stamped it, so
            //    the time this thread took to wake does not count.
            now = monotonicNanoseconds()
            let clock = ArrivalClock(monotonicNow: now)
            if ra & (pollIn | pollErr) != 0, let stop = ab.receive(delay: delayNs, clock: clock, scratch: scratch) { return stopped(stop, ab, ba) }
            if rb & (pollIn | pollErr) != 0, let stop = ba.receive(delay: delayNs, clock: clock, scratch: scratch) { return stopped(stop, ab, ba) }
        }
    }

    private func stopped(_ s: (String, SystemCallError), _ ab: Direction, _ ba: Direction) -> Stop {
        Stop(port: s.0, error: s.1, forwarded: (ab.forwarded, ba.forwarded), dropped: ab.dropped + ba.dropped)
    }

    /// A packet socket on `port` (see `csrh_packet_open`).
    static func openPort(_ port: String) throws(SystemCallError) -> Int32 {
        var err: Int32 = 0
        let fd = csrh_packet_open(port, 8 << 20, &err)
        guard fd >= 0 else { throw SystemCallError("packet socket on \(port)", errno: err) }
        return fd
    }

    /// Errors that mean a port is gone: its device was unregistered or taken down.
    static func isFatal(_ e: Int32) -> Bool { e == ENXIO || e == ENODEV || e == ENETDOWN || e == EBADF }

    /// One direction: a socket to read, one to write, and the queue between them.
    private final class Direction {
        let from: Int32, to: Int32
        let name: (from: String, to: String)
        let queue: DelayQueue
        var forwarded: UInt64 = 0
        var dropped: UInt64 = 0
        var lateOver1ms: UInt64 = 0
        var maxLateNs: UInt64 = 0

        init(from: Int32, to: Int32, name: (String, String), queue: DelayQueue) {
            self.from = from
            self.to = to
            self.name = name
            self.queue = queue
        }

        /// Sends every frame due by `now`. Frames the far side refuses (queue full, peer down)
        /// are dropped; a vanished port stops the bridge.
        func sendDue(now: UInt64) -> (String, SystemCallError)? {
            while let due = queue.nextDue, due <= now {
                let (p, len) = queue.front
                let r = send(to, p, len, Int32(MSG_DONTWAIT))
                let e = Errno.current
                queue.pop()
                let late = now - due
                if late > 1_000_000 { lateOver1ms += 1 }
                if late > maxLateNs { maxLateNs = late }
                if r >= 0 { forwarded += 1; continue }
                if DelayBridge.isFatal(e.rawValue) { return (name.to, SystemCallError("send", errno: e)) }
                dropped += 1
            }
            return nil
        }

        /// Reads up to 256 frames that have arrived, queueing each due `delay` after its arrival.
        func receive(delay: UInt64, clock: ArrivalClock, scratch: UnsafeMutableRawPointer) -> (String, SystemCallError)? {
            for _ in 0..<256 {
                let slot = queue.reserve()
                let buffer = slot ?? scratch
                var stamp: Int64 = -1
                let r = csrh_packet_recv(from, buffer, DelayBridge.maxFrameBytes + 1, &stamp)
                if r < 0 {
                    let e = Int32(-r)
                    if e == EAGAIN || e == EWOULDBLOCK { return nil }
                    if e == EINTR { continue }
                    if DelayBridge.isFatal(e) { return (name.from, SystemCallError("recv", errno: e)) }
                    dropped += 1
                    continue
                }
                if r == 0 { continue }
                guard slot != nil, r <= DelayBridge.maxFrameBytes else { dropped += 1; continue }
                queue.commit(length: r, due: clock.monotonic(ofRealtime: stamp) + delay)
            }
            return nil
        }
    }
}

/// Converts the kernel's arrival stamps (CLOCK_REALTIME) to CLOCK_MONOTONIC, read once per batch.
struct ArrivalClock {
    let monotonicNow: UInt64
    let realtimeNow: Int64

    init(monotonicNow: UInt64) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        self.monotonicNow = monotonicNow
        realtimeNow = Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    /// The monotonic time of a realtime stamp: no later than now, no earlier than 1 s ago
    /// (a missing stamp, or the wall clock stepped, counts as now).
    func monotonic(ofRealtime stamp: Int64) -> UInt64 {
        guard stamp > 0 else { return monotonicNow }
        let age = realtimeNow - stamp
        guard age >= 0 && age < 1_000_000_000 else { return monotonicNow }
        return monotonicNow - UInt64(age)
    }
}

/// A FIFO of frames, each with the time it is due, in one contiguous byte ring: frames are
/// written in place (``reserve()`` gives room for the largest frame, ``commit(length:due:)``
/// keeps what was written), so forwarding copies nothing. Bounded in bytes and in frames.
final class DelayQueue {
    /// Bytes of storage.
    let capacity: Int
    /// Most frames held at once.
    let maxFrames: Int
    /// Room ``reserve()`` guarantees.
    let frameRoom: Int
    private let storage: UnsafeMutableRawPointer
    private var due: [UInt64], offset: [Int], length: [Int]
    private var head = 0
    /// Frames held.
    private(set) var count = 0
    private var writeOffset = 0
    private var reserved = -1

    init(bytes: Int, frames: Int, frameRoom: Int = DelayBridge.maxFrameBytes) {
        precondition(bytes >= frameRoom && frames > 0, "a delay queue holds at least one frame")
        capacity = bytes
        maxFrames = frames
        self.frameRoom = frameRoom
        storage = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        due = Array(repeating: 0, count: frames)
        offset = Array(repeating: 0, count: frames)
        length = Array(repeating: 0, count: frames)
    }

    deinit { storage.deallocate() }

    /// When the oldest frame is due, or nil when empty.
    var nextDue: UInt64? { count > 0 ? due[head] : nil }

    /// The oldest frame (the queue must not be empty).
    var front: (UnsafeRawPointer, Int) {
        precondition(count > 0)
        return (UnsafeRawPointer(storage + offset[head]), length[head])
    }

    /// Removes the oldest frame.
    func pop() {
        precondition(count > 0)
        head = (head + 1) % maxFrames
        count -= 1
        if count == 0 { writeOffset = 0 }
    }

    /// Room for one frame of up to ``frameRoom`` bytes, or nil when the queue is full.
    func reserve() -> UnsafeMutableRawPointer? {
        guard count < maxFrames else { return nil }
        if count == 0 { reserved = 0; return storage }
        let start = offset[head]
        if writeOffset > start {
            // In use: [start, writeOffset). Room at the end, else wrap to the beginning.
            if capacity - writeOffset >= frameRoom { reserved = writeOffset }
            else if start >= frameRoom { reserved = 0 }
            else { return nil }
        } else {
            // Wrapped; in use: [start, capacity) and [0, writeOffset).
            guard start - writeOffset >= frameRoom else { return nil }
            reserved = writeOffset
        }
        return storage + reserved
    }

    /// Keeps `length` bytes written at the last ``reserve()`` as a frame due at `due`.
    func commit(length n: Int, due d: UInt64) {
        precondition(reserved >= 0 && n > 0 && n <= frameRoom, "commit without reserve, or too long")
        let slot = (head + count) % maxFrames
        due[slot] = d
        offset[slot] = reserved
        length[slot] = n
        writeOffset = reserved + n
        count += 1
        reserved = -1
    }
}

