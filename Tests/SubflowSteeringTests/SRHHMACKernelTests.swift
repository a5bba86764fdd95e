import Foundation
import Testing
import SRv6Paths
@testable import SubflowSteering
import LinuxSystem
import TestSupport

/// srte's HMAC against a real Linux router: h1 — r — h2, where r requires an
/// HMAC on packets arriving from h1 (`seg6_require_hmac 1`) and knows key 7.
/// h1 sends raw IPv6 packets whose SRH (segments r, h2) srte built and signed;
/// h2 counts what arrives on a UDP socket.
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates network namespaces"),
       .enabled(if: seg6HMACProblem == nil, "this kernel has no SRv6 HMAC (CONFIG_IPV6_SEG6_HMAC): \(seg6HMACProblem ?? "")"))
final class SRHHMACKernelTests {
    let lab: TestLab
    let h1 = try! IPv6Address(parsing: "fc00:1::1")
    let r = try! IPv6Address(parsing: "fc00:1::2")
    let h2 = try! IPv6Address(parsing: "fc00:2::2")
    let secret = Array("srte-test-secret".utf8)

    init() throws {
        lab = try TestLab("hmac", nodes: ["h1", "r", "h2"])
        _ = try lab.link("h1", "r")
        _ = try lab.link("r", "h2")
        try lab.exec("h1", ["ip", "-6", "addr", "add", "fc00:1::1/64", "dev", "h1-r", "nodad"])
        try lab.exec("h1", ["ip", "-6", "route", "add", "default", "via", "fc00:1::2"])
        try lab.exec("r", ["ip", "-6", "addr", "add", "fc00:1::2/64", "dev", "r-h1", "nodad"])
        try lab.exec("r", ["ip", "-6", "addr", "add", "fc00:2::1/64", "dev", "r-h2", "nodad"])
        try lab.sysctl("r", "net.ipv6.conf.all.forwarding", "1")
        for dev in ["all", "r-h1"] {
            try lab.sysctl("r", "net.ipv6.conf.\(dev).seg6_enabled", "1")
            try lab.sysctl("r", "net.ipv6.conf.\(dev).seg6_require_hmac", "1")
        }
        try lab.exec("r", ["ip", "sr", "hmac", "set", "7", "sha256"], stdin: String(decoding: secret, as: UTF8.self))
        try lab.exec("r", ["ip", "sr", "hmac", "set", "8", "sha1"], stdin: String(decoding: secret, as: UTF8.self))
        try lab.exec("h2", ["ip", "-6", "addr", "add", "fc00:2::2/64", "dev", "h2-r", "nodad"])
        try lab.exec("h2", ["ip", "-6", "route", "add", "default", "via", "fc00:2::1"])
        for dev in ["all", "h2-r"] {
            try lab.sysctl("h2", "net.ipv6.conf.\(dev).seg6_enabled", "1")
            try lab.sysctl("h2", "net.ipv6.conf.\(dev).seg6_require_hmac", "-1")   // h2 does not check
        }
        // Links up and neighbours resolved before the first raw packet (which would otherwise be lost).
        try lab.exec("h1", ["ping", "-6", "-c", "1", "-w", "5", "fc00:2::2"])
    }

    deinit { lab.destroy() }

    /// Sends one UDP datagram from h1 through r to h2 with `srh`, and returns
    /// whether h2 received it within `timeout` seconds.
    private var nextPort: UInt16 = 5555

    func delivered(_ srh: SegmentRoutingHeader, source: IPv6Address? = nil, payload: String) throws -> Bool {
        // A fresh port per datagram: nothing left over from an earlier check can answer.
        let port = nextPort
        nextPort += 1
        let rx = try NetworkNamespace.run(in: lab.ns("h2")) { try UDPReceiver(port: port) }
        defer { rx.close() }
        let packet = try RawIPv6.udpPacket(source: source ?? h1, srh: srh, destinationPort: port, payload: Array(payload.utf8))
        try NetworkNamespace.run(in: lab.ns("h1")) { try RawIPv6.send(packet, to: srh.activeSegment!) }
        return rx.receive(timeout: 2.0) == Array(payload.utf8)
    }

    @Test func routerForwardsWhatSrteSigned() throws {
        let key = try SRHHMACKey(keyID: 7, secret: secret, algorithm: .sha256)
        let srh = try SegmentRoutingHeader(path: [r, h2], nextHeader: 17).signed(with: key, source: h1)
        #expect(try delivered(srh, payload: "signed sha256"))
    }

    @Test func routerForwardsSHA1() throws {
        let key = try SRHHMACKey(keyID: 8, secret: secret, algorithm: .sha1)
        let srh = try SegmentRoutingHeader(path: [r, h2], nextHeader: 17).signed(with: key, source: h1)
        #expect(try delivered(srh, payload: "signed sha1"))
    }

    @Test func routerDropsWrongKey() throws {
        let wrong = try SRHHMACKey(keyID: 7, secret: Array("not-the-secret".utf8))
        let srh = try SegmentRoutingHeader(path: [r, h2], nextHeader: 17).signed(with: wrong, source: h1)
        #expect(try delivered(srh, payload: "wrong key") == false)
    }

    @Test func routerDropsUnsignedAndForeignSource() throws {
        let plain = try SegmentRoutingHeader(path: [r, h2], nextHeader: 17)
        #expect(try delivered(plain, payload: "unsigned") == false)
        // Signed for another source address: the HMAC covers the source.
        let key = try SRHHMACKey(keyID: 7, secret: secret)
        let other = try plain.signed(with: key, source: try IPv6Address(parsing: "fc00:1::99"))
        #expect(try delivered(other, payload: "other source") == false)
        // And the same header signed for h1 goes through: the lab itself works.
        #expect(try delivered(try plain.signed(with: key, source: h1), payload: "control"))
    }
}

