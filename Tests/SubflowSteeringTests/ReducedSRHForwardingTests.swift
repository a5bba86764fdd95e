import Glibc
import Testing
import SRv6Paths
import LinuxSystem
import TestSupport

/// srte's model of the kernel's own SRH processing (`SegmentRoutingHeader.kernelReceive`,
/// after `ipv6_srh_rcv` in net/ipv6/exthdrs.c) against this kernel, for full and
/// reduced SRHs, compressed containers and generated headers.
///
/// Lab: h1 — r — h2. r is a router without seg6local: its locator `fc00:0:1::/48`
/// (End C-SID 1 of the F3216 block `fc00::/32`) is a local route on lo, so any
/// address in it — its End SID `fc00:0:1::` or a container `fc00:0:1:2::` —
/// is one of r's addresses. `fc00:dead::/32` is unreachable at r. h1 sends raw
/// UDP packets with DA in r's locator; UDP receivers on r and h2 (zero UDP
/// checksums allowed, so delivery does not depend on which address ends up as
/// DA) and an ICMPv6 socket on h1 show what became of each: delivered at r,
/// delivered at h2, a Parameter Problem (and its pointer), or nothing.
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates network namespaces"))
final class ReducedSRHForwardingTests {
    let lab: TestLab
    let h1 = try! IPv6Address(parsing: "fc00:1::1")
    let h2 = try! IPv6Address(parsing: "fc00:2::2")
    let format = try! CSIDFormat.f3216(block: IPv6Prefix(parsing: "fc00::/32"))
    let rLocator = try! IPv6Prefix(parsing: "fc00:0:1::/48")
    let rLinks = [try! IPv6Address(parsing: "fc00:1::2"), try! IPv6Address(parsing: "fc00:2::1")]
    let unreachable = try! IPv6Address(parsing: "fc00:dead::1")
    let port: UInt16 = 7100

    init() throws {
        lab = try TestLab("rsrh", nodes: ["h1", "r", "h2"])
        do {
            _ = try lab.link("h1", "r")
            _ = try lab.link("r", "h2")
            try lab.exec("h1", ["ip", "-6", "addr", "add", "fc00:1::1/64", "dev", "h1-r", "nodad"])
            try lab.exec("h1", ["ip", "-6", "route", "add", "default", "via", "fc00:1::2"])
            try lab.exec("r", ["ip", "-6", "addr", "add", "fc00:1::2/64", "dev", "r-h1", "nodad"])
            try lab.exec("r", ["ip", "-6", "addr", "add", "fc00:2::1/64", "dev", "r-h2", "nodad"])
            try lab.exec("r", ["ip", "-6", "route", "add", "local", "fc00:0:1::/48", "dev", "lo"])
            try lab.exec("r", ["ip", "-6", "route", "add", "unreachable", "fc00:dead::/32"])
            try lab.exec("h2", ["ip", "-6", "addr", "add", "fc00:2::2/64", "dev", "h2-r", "nodad"])
            try lab.exec("h2", ["ip", "-6", "route", "add", "default", "via", "fc00:2::1"])
            try lab.sysctl("r", "net.ipv6.conf.all.forwarding", "1")
            for (n, dev) in [("r", "r-h1"), ("r", "r-h2"), ("h2", "h2-r")] {
                try lab.sysctl(n, "net.ipv6.conf.all.seg6_enabled", "1")
                try lab.sysctl(n, "net.ipv6.conf.\(dev).seg6_enabled", "1")
                try lab.sysctl(n, "net.ipv6.icmp.ratelimit", "0")     // one Parameter Problem per packet
            }
            try lab.exec("h1", ["ping", "-6", "-c", "1", "-w", "5", "fc00:2::2"])
        } catch { lab.destroy(); throw error }
    }

    deinit { lab.destroy() }

    // MARK: The model, over the lab

    enum Outcome: Hashable, CustomStringConvertible {
        case deliveredAtR, deliveredAtH2, parameterProblem(pointer: Int), lost
        var description: String {
            switch self {
            case .deliveredAtR: return "delivered at r"
            case .deliveredAtH2: return "delivered at h2"
            case .parameterProblem(let p): return "ICMPv6 parameter problem, pointer \(p)"
            case .lost: return "nothing"
            }
        }
    }

    func isLocal(_ node: String, _ a: IPv6Address) -> Bool {
        node == "r" ? rLocator.contains(a) || rLinks.contains(a) : a == h2
    }

    /// What the model says happens to a packet whose DA is one of r's addresses.
    func predicted(_ srh: [UInt8]) -> Outcome {
        var bytes = srh
        var node = "r"
        for _ in 0..<300 {
            switch SegmentRoutingHeader.kernelReceive(bytes) {
            case .deliver: return node == "r" ? .deliveredAtR : .deliveredAtH2
            case .parameterProblem(let o): return .parameterProblem(pointer: 40 + o)
            case .truncated, .seg6Disabled: return .lost
            case .forward(let next, let sl):
                bytes[3] = sl
                if isLocal(node, next) { continue }              // the kernel loops back to itself
                if node == "r" && next == h2 { node = "h2"; continue }
                return .lost                                     // unreachable, or a host that does not forward
            }
        }
        return .lost
    }

    // MARK: Packets

    /// IPv6 + SRH bytes + UDP with a zero checksum (receivers allow it) and `payload`.
    func packet(destination: IPv6Address, srh: [UInt8], payload: [UInt8]) -> [UInt8] {
        let udpLength = 8 + payload.count
        let udp: [UInt8] = [0x1b, 0x58, UInt8(port >> 8), UInt8(port & 0xff),
                            UInt8(udpLength >> 8), UInt8(udpLength & 0xff), 0, 0] + payload
        var s = srh
        s[0] = 17
        let payloadLength = s.count + udp.count
        return [0x60, 0, 0, 0, UInt8(payloadLength >> 8), UInt8(payloadLength & 0xff), 43, 64]
            + h1.bytes + destination.bytes + s + udp
    }

    /// A datagram socket bound to [::]:port accepting zero UDP checksums (UDP_NO_CHECK6_RX).
    func receiver(in node: String) throws -> UDPReceiver {
        let rx = try NetworkNamespace.run(in: lab.ns(node)) { try UDPReceiver(port: port) }
        var one: Int32 = 1
        guard setsockopt(rx.fd, Int32(IPPROTO_UDP), 102 /* UDP_NO_CHECK6_RX */, &one, socklen_t(4)) == 0 else {
            throw SystemCallError("setsockopt(UDP_NO_CHECK6_RX)", errno: errno)
        }
        return rx
    }

    /// A raw ICMPv6 socket in h1: (type, code, pointer, invoking packet) per message.
    final class ICMPListener {
        let fd: Int32
        init(in ns: String) throws {
            fd = try NetworkNamespace.run(in: ns) {
                let fd = socket(AF_INET6, Int32(SOCK_RAW.rawValue), Int32(IPPROTO_ICMPV6))
                guard fd >= 0 else { throw SystemCallError("socket(ICMPv6)", errno: errno) }
                return fd
            }
        }
        deinit { close(fd) }
        func receive(timeout: Double) -> (type: UInt8, code: UInt8, pointer: Int, body: [UInt8])? {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, Int32(timeout * 1000)) == 1 else { return nil }
            var buf = [UInt8](repeating: 0, count: 2048)
            let n = recv(fd, &buf, buf.count, 0)
            guard n >= 8 else { return nil }
            let pointer = Int(buf[4]) << 24 | Int(buf[5]) << 16 | Int(buf[6]) << 8 | Int(buf[7])
            return (buf[0], buf[1], pointer, Array(buf[8..<n]))
        }
    }

    /// Sends every case, in batches, and returns what the lab did with each.
    func observe(_ cases: [(destination: IPv6Address, srh: [UInt8])], tag: String) throws -> [Outcome] {
        let atR = try receiver(in: "r"), atH2 = try receiver(in: "h2")
        defer { atR.close(); atH2.close() }
        let icmp = try ICMPListener(in: lab.ns("h1"))
        var outcomes = [Outcome](repeating: .lost, count: cases.count)
        func caseIndex(_ bytes: [UInt8]) -> Int? {
            let marker = Array("srte-\(tag)-".utf8)
            guard bytes.count >= marker.count + 5 else { return nil }
            for i in 0...(bytes.count - marker.count - 5) where Array(bytes[i..<(i + marker.count)]) == marker {
                return Int(String(decoding: bytes[(i + marker.count)..<(i + marker.count + 5)], as: UTF8.self))
            }
            return nil
        }
        let batch = 40
        for start in stride(from: 0, to: cases.count, by: batch) {
            try NetworkNamespace.run(in: lab.ns("h1")) {
                for i in start..<min(start + batch, cases.count) {
                    let id = String(100000 + i).dropFirst()
                    let p = packet(destination: cases[i].destination, srh: cases[i].srh, payload: Array("srte-\(tag)-\(id)".utf8))
                    try RawIPv6.send(p, to: cases[i].destination)
                }
            }
            // Drain until all three sockets stay quiet for 300 ms.
            var quiet = false
            while !quiet {
                quiet = true
                while let d = atR.receive(timeout: 0.1) { quiet = false; if let i = caseIndex(d) { outcomes[i] = .deliveredAtR } }
                while let d = atH2.receive(timeout: 0.1) { quiet = false; if let i = caseIndex(d) { outcomes[i] = .deliveredAtH2 } }
                while let m = icmp.receive(timeout: 0.1) {
                    quiet = false
                    if m.type == 4, m.code == 0, let i = caseIndex(m.body) { outcomes[i] = .parameterProblem(pointer: m.pointer) }
                }
            }
        }
        return outcomes
    }

    // MARK: Tests

    /// The cases that matter for compressed segment lists, one by one.
    @Test func reducedAndCompressedHeadersThroughTheKernel() throws {
        let rSID = try format.sid(csid: 1)
        let container = try format.container([1, 2])                    // r, then a node 2 that does not exist
        let full = try SegmentRoutingHeader(path: [rSID, h2]).encoded()
        let reduced = try ReducedSegmentRoutingHeader(path: [rSID, h2]).encoded()
        let reducedPadded8 = try ReducedSegmentRoutingHeader(path: [rSID, h2], tlvs: [.padding(8)]).encoded()
        let reducedPadded16 = try ReducedSegmentRoutingHeader(path: [rSID, h2], tlvs: [.padding(8), .padding(8)]).encoded()
        let containerFull = try SegmentRoutingHeader(path: [container, h2]).encoded()
        let containerReduced = try ReducedSegmentRoutingHeader(path: [container, h2]).encoded()
        let cases: [(String, IPv6Address, [UInt8], Outcome)] = [
            ("full SRH", rSID, full, .deliveredAtH2),
            ("reduced SRH", rSID, reduced, .parameterProblem(pointer: 43)),
            ("reduced SRH, 8 bytes of TLVs", rSID, reducedPadded8, .parameterProblem(pointer: 43)),
            ("reduced SRH, 16 bytes of TLVs", rSID, reducedPadded16, .deliveredAtH2),
            // The kernel's End knows no NEXT-C-SID: r takes the container for one of its
            // addresses and moves to the next list entry, skipping C-SID 2.
            ("container, full SRH", container, containerFull, .deliveredAtH2),
            ("container, reduced SRH", container, containerReduced, .parameterProblem(pointer: 43)),
        ]
        let seen = try observe(cases.map { ($0.1, $0.2) }, tag: "named")
        for (i, c) in cases.enumerated() {
            #expect(predicted(c.2) == c.3, "model, \(c.0)")
            #expect(seen[i] == c.3, "kernel, \(c.0): \(seen[i]), expected \(c.3); SRH \(Hex.encode(c.2))")
        }
    }

    /// Generated headers — consistent or not, reduced or not — get the model's outcome from the kernel.
    @Test(arguments: [UInt64(11), 12, 13])
    func generatedHeadersAgreeWithTheModel(seed: UInt64) throws {
        var rng = SeededRNG(seed: seed)
        let slots = [h2, try format.sid(csid: 1), try format.container([1, 2]), rLinks[1], unreachable]
        var cases: [(destination: IPv6Address, srh: [UInt8])] = []
        for _ in 0..<240 {
            let n = Int.random(in: 1...5, using: &rng)
            let tlvBytes = 8 * Int.random(in: 0...4, using: &rng)
            let hdrlen = (16 * n + tlvBytes) / 8
            var b: [UInt8] = [17, UInt8(hdrlen), 4, 0, 0, 0, 0, 0]
            for _ in 0..<n { b += slots.randomElement(using: &rng)!.bytes }
            for _ in 0..<(tlvBytes / 8) { b += [4, 6, 0, 0, 0, 0, 0, 0] }      // PadN of 8
            let le = Int.random(in: 0...(n + 1), using: &rng)
            b[4] = UInt8(le)
            let choices = [0, le, le + 1, n - 1, n, hdrlen >> 1, (hdrlen >> 1) - 1, Int.random(in: 0...(n + 3), using: &rng)]
            b[3] = UInt8(max(0, choices.randomElement(using: &rng)!))
            let da = [try format.sid(csid: 1), try format.container([1, 3]), rLinks[0]].randomElement(using: &rng)!
            cases.append((da, b))
        }
        let seen = try observe(cases, tag: "s\(seed)")
        var tally: [String: Int] = [:]
        for (i, c) in cases.enumerated() {
            let want = predicted(c.srh)
            tally[want.description, default: 0] += 1
            #expect(seen[i] == want, "seed \(seed) case \(i): kernel \(seen[i]), model \(want); DA \(c.destination) SRH \(Hex.encode(c.srh))")
        }
        // The generator must reach every outcome.
        for o in [Outcome.deliveredAtR, .deliveredAtH2, .parameterProblem(pointer: 43), .lost] {
            #expect(tally[o.description, default: 0] > 0, "seed \(seed): no case predicted \(o); \(tally)")
        }
    }
}
