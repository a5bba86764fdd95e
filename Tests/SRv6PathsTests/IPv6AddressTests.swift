import Testing
@testable import SRv6Paths
import TestSupport

@Suite struct IPv6AddressTests {
    @Test(arguments: [
        ("::", "::"), ("::1", "::1"), ("fc00:0:a::1", "fc00:0:a::1"),
        ("FC00:0000:000A:0000:0000:0000:0000:0001", "fc00:0:a::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),          // RFC 5952 §4.2.3: first longest run
        ("2001:db8::0:1", "2001:db8::1"), ("1:0:0:0:0:0:0:0", "1::"),
        ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),                // longer run wins
        ("1:2:3:4:5:6:7:0", "1:2:3:4:5:6:7:0"),                 // a single zero group is not compressed
        ("::ffff:192.0.2.1", "::ffff:c000:201"),
    ])
    func parsesAndPrints(input: String, expected: String) throws {
        let a = try IPv6Address(parsing: input)
        #expect(a.description == expected)
        #expect(try IPv6Address(parsing: a.description) == a)
    }

    @Test(arguments: [
        ("", 0), (":", 0), (":::", 2), ("1::2::3", 4), ("fc00:0:a::g", 10), ("12345::", 4),
        ("1:2:3:4:5:6:7", 12), ("1:2:3:4:5:6:7:8:9", 16), ("1:", 1), ("::1.2.3", 7), ("::256.1.1.1", 2),
    ])
    func rejectsWithPosition(input: String, position: Int) {
        #expect(throws: IPv6AddressError.self) { try IPv6Address(parsing: input) }
        do { _ = try IPv6Address(parsing: input) } catch {
            #expect(error.position == position, "\(input): \(error)")
        }
    }

    @Test func bytesRoundTrip() throws {
        let a = try IPv6Address(parsing: "fc00:1:2:3:4:5:6:7")
        #expect(a.bytes == [0xfc, 0, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7])
        #expect(IPv6Address(bytes: a.bytes) == a)
    }

    @Test func prefixes() throws {
        let p = try IPv6Prefix(parsing: "fc00:0:1::/48")
        #expect(p.contains(try IPv6Address(parsing: "fc00:0:1::1")))
        #expect(!p.contains(try IPv6Address(parsing: "fc00:0:2::1")))
        #expect(throws: IPv6AddressError.self) { try IPv6Prefix(parsing: "fc00:0:1::1/48") }
        #expect(throws: IPv6AddressError.self) { try IPv6Prefix(parsing: "fc00::/129") }
    }
}
