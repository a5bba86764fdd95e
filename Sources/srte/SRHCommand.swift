import ArgumentParser
import SRv6Paths
import SubflowSteering

import Glibc
import LinuxSystem

/// `srte srh`: build, decode and validate Segment Routing Headers.
struct SRHCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "srh",
        abstract: "Build, decode and validate IPv6 Segment Routing Headers (RFC 8754) exactly as Linux does.",
        discussion: """
        Segments are always given and shown in path order: the first segment visited first, \
        the final destination last. Only the wire form is reversed.

        Examples:
          srte srh build --segment fc00:0:a::1 --segment fc00:2::2
          srte srh build --segment fc00:0:a::1 --segment fc00:2::2 \\
               --hmac-key-id 7 --hmac-secret s3cret --source fc00:1::1 --format json
          srte srh decode 3b0404010100000000fc00000200...
          srte srh build --segment fc00::1 | srte srh validate -

        Compressed segment lists (RFC 9800 NEXT-C-SID) and reduced SRHs:
          srte srh build --csid-block fc00:0::/32 --csid-length 16 --reduced \\
               --segment fc00:0:1:: --segment fc00:0:2:: --segment fc00:2::2 --format text
          srte srh decode 3b02040100000000fc000002000000000000000000000002 \\
               --csid-block fc00:0::/32 --destination fc00:0:1:2::
        See Docs/CompressedSIDs.md for what the Linux kernel does with them.
        """,
        subcommands: [Build.self, Decode.self, Validate.self]
    )
}

extension SRHCommand {
    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build an SRH from a path-ordered segment list and print its wire bytes.",
            discussion: """
            Segments left defaults to the number of segments minus one (the first segment is \
            active). TLVs are padded to 8 bytes in a form Linux accepts. With --hmac-key-id the \
            header is signed as Linux signs it (net/ipv6/seg6_hmac.c): flag 0x08, a 40-byte HMAC \
            TLV at the end, at most 14 segments; --source is the IPv6 source address of the \
            packets that will carry it (it is part of the HMAC).

            With --csid-block (RFC 9800 NEXT-C-SID), consecutive segments that are the SID of \
            one C-SID (block, C-SID, zeros: e.g. fc00:0:1:: in fc00:0::/32 with 16-bit C-SIDs) \
            share containers: fc00:0:1:: then fc00:0:2:: become the one segment fc00:0:1:2::, up \
            to (128 - block length) / C-SID length C-SIDs each. Every node whose C-SID is in a \
            container must run End with NEXT-C-SID (the Linux kernel's own End does not: it \
            ignores the C-SIDs after its own); --uncompressed keeps a node's SID whole. The final \
            destination is never compressed.

            With --reduced the first segment is left out of the header (RFC 8754 §4.1.1): it \
            travels only as the packet's Destination Address, printed as a note on stderr \
            (and as "destination" in json/text), and segments left is last entry + 1. The \
            kernel's own SRH processing (ipv6_srh_rcv) drops such a header with an ICMPv6 \
            parameter problem unless 16 or more bytes of TLVs follow the list: the node of the \
            first segment needs an SRv6 End that knows reduced SRHs.
            """
        )

        @OptionGroup var csid: CSIDOptions

        @Flag(help: "Reduced SRH: the first segment only in the Destination Address, segments left = last entry + 1.")
        var reduced = false

        @Option(name: .customLong("uncompressed"), help: ArgumentHelp("With --csid-block: a segment that must stay a full SID (its node has no NEXT-C-SID); repeat.", valueName: "ADDR"))
        var uncompressed: [String] = []

        @Option(name: .customLong("segment"), help: ArgumentHelp("A segment (IPv6 address), in path order; repeat. The last one is the final destination.", valueName: "ADDR"))
        var segments: [String] = []

        @Option(help: "Segments left (default: number of segments - 1).")
        var segmentsLeft: Int?

        @Option(help: "Tag field, 0...65535.")
        var tag: Int = 0

        @Option(help: "Flags byte, 0...255 (decimal or 0x-prefixed hex).")
        var flags: String = "0"

        @Option(help: "Next header, 0...255 (default 59, No Next Header; 41 for IPv6-in-IPv6, 6 for TCP).")
        var nextHeader: Int = 59

        @Option(help: "HMAC key id (1...4294967295): sign the header.")
        var hmacKeyId: UInt32?

        @Option(help: "HMAC secret (1...64 bytes of text). Visible in `ps`: prefer --hmac-secret-file.")
        var hmacSecret: String?

        @Option(help: ArgumentHelp("Read the HMAC secret from a file (a trailing newline is dropped).", valueName: "PATH"))
        var hmacSecretFile: String?

        @Option(help: "HMAC algorithm.")
        var hmacAlgorithm: HMACAlgorithmArgument = .sha256

        @Option(help: ArgumentHelp("Source address of the packets (needed with HMAC).", valueName: "ADDR"))
        var source: String?

        @Option(help: "Output: hex (wire bytes), json or text.")
        var format: OutputFormat = .hex

        func validate() throws {
            guard !segments.isEmpty else { throw ValidationError("give at least one --segment ADDR (the last one is the final destination)") }
            guard (0...0xffff).contains(tag) else { throw ValidationError("--tag \(tag) is outside 0...65535") }
            guard (0...255).contains(nextHeader) else { throw ValidationError("--next-header \(nextHeader) is outside 0...255") }
            guard flagValue != nil else { throw ValidationError("--flags '\(flags)' is not a number in 0...255") }
            if reduced && segmentsLeft != nil {
                throw ValidationError("--segments-left cannot be given with --reduced: a reduced SRH starts with segments left = last entry + 1")
            }
            if reduced && (hmacKeyId != nil || hmacSecret != nil || hmacSecretFile != nil) {
                throw ValidationError("--reduced cannot be signed by srte: Linux checks the HMAC where it processes the SRH, and its own SRH processing drops reduced headers")
            }
            if !uncompressed.isEmpty && csid.csidBlock == nil {
                throw ValidationError("--uncompressed only matters with --csid-block PREFIX")
            }
            if let sl = segmentsLeft, !(0..<segments.count).contains(sl) {
                throw ValidationError("--segments-left \(sl) is beyond the list: with \(segments.count) segment(s) it must be 0...\(segments.count - 1)")
            }
            let wantsHMAC = hmacKeyId != nil || hmacSecret != nil || hmacSecretFile != nil
            guard wantsHMAC else { return }
            guard hmacKeyId != nil else { throw ValidationError("an HMAC secret was given without --hmac-key-id") }
            guard source != nil else { throw ValidationError("--hmac-key-id needs --source ADDR: the packets' source address is part of the HMAC") }
            switch (hmacSecret, hmacSecretFile) {
            case (nil, nil): throw ValidationError("--hmac-key-id needs --hmac-secret or --hmac-secret-file")
            case (.some, .some): throw ValidationError("give --hmac-secret or --hmac-secret-file, not both")
            default: break
            }
        }

        /// `--flags` as a number (decimal or 0x-prefixed hex), nil when it is not one in 0...255.
        var flagValue: UInt8? {
            let v: Int? = flags.lowercased().hasPrefix("0x") ? Int(flags.dropFirst(2), radix: 16) : Int(flags)
            return v.flatMap { (0...255).contains($0) ? UInt8($0) : nil }
        }

        func run() throws {
            let out = StdoutBuffer()
            let fmt = try csid.format()
            var view = SRHView(csid: fmt)
            let srh: SegmentRoutingHeader
            let wire: [UInt8]
            if reduced {
                let r = try ReducedSegmentRoutingHeader(path: try segmentList(fmt), nextHeader: UInt8(nextHeader),
                                                        flags: .init(rawValue: flagValue ?? 0), tag: UInt16(tag))
                wire = try r.encoded()
                srh = r.displayed
                view.reduced = true
                view.destination = r.destination
                if source != nil { diagnose("srte: note: --source is only used with --hmac-key-id") }
                if format == .hex {
                    diagnose("srte: note: reduced SRH: send it with Destination Address \(r.destination) (the first segment is not in the header)")
                }
            } else {
                srh = try build(fmt)
                wire = try srh.encoded()
            }
            switch format {
            case .hex: out.line(Hex.encode(wire))
            case .json: out.line(SRHReport.json(srh, wire: wire, view: view).rendered)
            case .text: out.line(SRHReport.text(srh, wire: wire, view: view))
            }
        }

        /// The segments in path order, compressed into containers when a C-SID format is given.
        func segmentList(_ fmt: CSIDFormat?) throws -> [IPv6Address] {
            var path: [IPv6Address] = []
            for (i, s) in segments.enumerated() {
                do { path.append(try IPv6Address(parsing: s)) } catch { throw InContext("--segment #\(i + 1)", error) }
            }
            guard let fmt else { return path }
            var whole = Set<IPv6Address>()
            for (i, s) in uncompressed.enumerated() {
                do { whole.insert(try IPv6Address(parsing: s)) } catch { throw InContext("--uncompressed #\(i + 1)", error) }
            }
            let list = fmt.compress(path, compressible: { _, s in !whole.contains(s) })
            if path.count > 1 && !list.dropLast().contains(where: { if case .container = $0 { return true }; return false }) {
                diagnose("srte: note: no segment was compressed: a SID that compresses is the block, one C-SID and zeros (e.g. \((try? fmt.sid(csid: 1))?.description ?? "block:1::"))")
            }
            return list.map(\.sid)
        }

        func build(_ fmt: CSIDFormat? = nil) throws -> SegmentRoutingHeader {
            let path = try segmentList(fmt)
            if let sl = segmentsLeft, sl >= path.count {
                throw ValidationError("--segments-left \(sl) is beyond the compressed list: its \(path.count) segment(s) allow 0...\(path.count - 1)")
            }
            let srh = try SegmentRoutingHeader(path: path, segmentsLeft: segmentsLeft, nextHeader: UInt8(nextHeader),
                                               flags: .init(rawValue: flagValue ?? 0), tag: UInt16(tag))
            guard let keyID = hmacKeyId, let sourceText = source else {
                if source != nil { diagnose("srte: note: --source is only used with --hmac-key-id") }
                return srh
            }
            let src: IPv6Address
            do { src = try IPv6Address(parsing: sourceText) } catch { throw InContext("--source", error) }
            let key = try SRHHMACKey(keyID: keyID, secret: try readSecret(), algorithm: hmacAlgorithm.algorithm)
            return try srh.signed(with: key, source: src)
        }

        func readSecret() throws -> [UInt8] {
            guard let path = hmacSecretFile else { return Array((hmacSecret ?? "").utf8) }
            guard let f = fopen(path, "rb") else {
                throw CLIFailure.input("--hmac-secret-file \(path): \(Errno.current.message)")
            }
            defer { fclose(f) }
            var bytes: [UInt8] = []
            var buf = [UInt8](repeating: 0, count: 256)
            while true {
                let n = fread(&buf, 1, buf.count, f)
                if n <= 0 { break }
                bytes += buf[0..<n]
                if bytes.count > 4096 { break }
            }
            if bytes.last == 0x0a { bytes.removeLast() }
            if bytes.last == 0x0d { bytes.removeLast() }
            return bytes
        }
    }

    struct Decode: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Decode an SRH from hex and print all fields, segments in path order.",
            discussion: """
            HEX may contain spaces, ':' or '-' between bytes and a leading 0x. With '-' it is read \
            from stdin (one header).

            A header whose segments left is last entry + 1 is decoded as a reduced SRH (RFC 8754 \
            §4.1.1, checked as Linux's seg6_validate_srh(..., reduced) checks it): its first \
            segment is the packet's Destination Address, which only --destination can tell. \
            With --csid-block (and --csid-length, default 16) every segment that is a container \
            of RFC 9800 NEXT-C-SIDs is shown with its C-SIDs and the SIDs they stand for.
            """
        )

        @Argument(help: ArgumentHelp("The SRH in hex, or - for stdin.", valueName: "HEX|-"))
        var input: String

        @OptionGroup var csid: CSIDOptions

        @Option(help: ArgumentHelp("The packet's Destination Address: the first segment of a reduced SRH.", valueName: "ADDR"))
        var destination: String?

        @OptionGroup var output: FormatOptions

        func run() throws {
            let text = input == "-" ? readAllStdin() : input
            let bytes = try Hex.decode(text)
            let fmt = try csid.format()
            var dest: IPv6Address? = nil
            if let d = destination {
                do { dest = try IPv6Address(parsing: d) } catch { throw InContext("--destination", error) }
            }
            var view = SRHView(csid: fmt)
            let srh: SegmentRoutingHeader
            do throws(SRHError) {
                if bytes.count >= 8 && Int(bytes[3]) == Int(bytes[4]) + 1 {
                    let r = try ReducedSegmentRoutingHeader(decoding: bytes, destination: dest ?? .unspecified)
                    srh = r.displayed
                    view.reduced = true
                    view.destination = dest
                } else {
                    srh = try SegmentRoutingHeader(decoding: bytes)
                    view.destination = dest
                }
            } catch {
                if output.isJSON { StdoutBuffer().line(SRHReport.validation(.failure(error), length: bytes.count).rendered) }
                throw CLIFailure.negative("not a valid SRH: \(error)")
            }
            let out = StdoutBuffer()
            switch output.format {
            case .json: out.line(SRHReport.json(srh, wire: bytes, view: view).rendered)
            case .text: out.line(SRHReport.text(srh, wire: bytes, view: view))
            }
        }
    }

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check SRHs as the Linux kernel does (seg6_validate_srh and the IPV6_RTHDR length rules).",
            discussion: """
            With '-' reads one hex SRH per line from stdin and writes one result per line, in \
            input order. JSON results: {"valid": true} or {"valid": false, "error": {"kind": K, \
            "offset": N, "message": M}}. Exit status: 0 every input valid, 1 any invalid, \
            2 unreadable input (e.g. not hex).
            """
        )

        @Argument(help: ArgumentHelp("The SRH in hex, or - for one per line on stdin.", valueName: "HEX|-"))
        var input: String

        @OptionGroup var output: FormatOptions

        @Flag(help: "Also ask the running kernel (setsockopt IPV6_RTHDR on a TCP socket) and report its verdict; exit 3 if the two ever disagree.")
        var kernel = false

        @Flag(help: "Allow reduced SRHs (segments left up to last entry + 1), as seg6_validate_srh(..., reduced) does for the seg6 encapsulation modes; setsockopt never allows them.")
        var reduced = false

        func validate() throws {
            if kernel && reduced {
                throw ValidationError("--kernel asks setsockopt(IPV6_RTHDR), which checks without reduced: it cannot be combined with --reduced")
            }
        }

        func run() throws {
            let out = StdoutBuffer()
            var anyInvalid = false
            var unreadable = false
            var disagreement = false
            let oracle: KernelSRHCheck?
            do { oracle = kernel ? try KernelSRHCheck() : nil } catch {
                throw InContext("cannot ask the kernel", error, code: ExitStatus.system)
            }
            func check(_ line: String) {
                let result: Result<Int, SRHError>
                var bytes: [UInt8]? = nil
                do throws(SRHError) {
                    let b = try Hex.decode(line)
                    bytes = b
                    try SegmentRoutingHeader.validate(b, reduced: reduced)
                    result = .success(b.count)
                } catch {
                    if error.kind == .invalidHex { unreadable = true } else { anyInvalid = true }
                    result = .failure(error)
                }
                var kernelVerdict: Bool? = nil
                if let oracle, let bytes { kernelVerdict = try? oracle.accepts(bytes) }
                if let kv = kernelVerdict, kv != ((try? result.get()) != nil) { disagreement = true }
                switch output.format {
                case .json:
                    var j = SRHReport.validation(result, length: nil)
                    if case .object(var fields) = j, let kv = kernelVerdict {
                        fields.append(("kernel", .bool(kv)))
                        j = .object(fields)
                    }
                    out.line(j.rendered)
                case .text:
                    let k = kernelVerdict.map { $0 ? "; kernel: accepts" : "; kernel: rejects (EINVAL)" } ?? ""
                    switch result {
                    case .success(let n): out.line("valid (\(n) bytes)\(k)")
                    case .failure(let e): out.line("invalid: \(e.description)\(k)")
                    }
                }
            }
            if input == "-" {
                while let line = readLine(strippingNewline: true) { check(line) }
            } else {
                check(input)
            }
            out.flush()
            if disagreement {
                throw CLIFailure.system("srte and the running kernel disagree on at least one header: please report it with the hex")
            }
            if unreadable { throw ExitCode(ExitStatus.unusableInput) }
            if anyInvalid { throw ExitCode(ExitStatus.negative) }
        }
    }
}

enum HMACAlgorithmArgument: String, ExpressibleByArgument, CaseIterable {
    case sha256, sha1
    var algorithm: SRHHMACKey.Algorithm { self == .sha1 ? .sha1 : .sha256 }
}

/// `--csid-block` and `--csid-length`: the RFC 9800 NEXT-C-SID configuration of a command.
struct CSIDOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Locator-Block of compressed SIDs (RFC 9800 NEXT-C-SID), e.g. fc00:0::/32.", valueName: "PREFIX"))
    var csidBlock: String?

    @Option(help: ArgumentHelp("C-SID length in bits with --csid-block: a multiple of 8 from 8 to 64 (default 16; a /32 block with 16 is the common F3216 format).", valueName: "BITS"))
    var csidLength: Int?

    /// The configuration, or nil without --csid-block.
    func format() throws -> CSIDFormat? {
        guard let b = csidBlock else {
            if csidLength != nil { throw CLIFailure.input("--csid-length needs --csid-block PREFIX (the Locator-Block the C-SIDs follow)") }
            return nil
        }
        let prefix: IPv6Prefix
        do { prefix = try IPv6Prefix(parsing: b) } catch { throw InContext("--csid-block", error) }
        do { return try CSIDFormat(block: prefix, csidLength: csidLength ?? 16) } catch {
            throw InContext("--csid-block \(b) --csid-length \(csidLength ?? 16)", error)
        }
    }
}

/// What a report shows beyond the header's own fields.
struct SRHView {
    /// Segments left is last entry + 1: the first segment is only in the Destination Address.
    var reduced = false
    /// The packet's Destination Address, when known.
    var destination: IPv6Address? = nil
    /// The C-SID configuration to read containers with.
    var csid: CSIDFormat? = nil

    init(csid: CSIDFormat? = nil) { self.csid = csid }

    struct Container {
        var segment: IPv6Address
        var onWire: Bool
        var csids: [UInt64]
        var sids: [IPv6Address]
    }

    /// The segments that are containers (the final destination never is), the Destination
    /// Address of a reduced header first.
    func containers(_ srh: SegmentRoutingHeader) -> [Container] {
        guard let f = csid else { return [] }
        var out: [Container] = []
        func add(_ s: IPv6Address, onWire: Bool) {
            guard let cs = f.csids(in: s) else { return }
            out.append(Container(segment: s, onWire: onWire, csids: cs, sids: cs.compactMap { try? f.sid(csid: $0) }))
        }
        if reduced, let d = destination { add(d, onWire: false) }
        for s in srh.segments.dropLast() { add(s, onWire: true) }
        return out
    }
}

func readAllStdin() -> String {
    var lines: [String] = []
    while let l = readLine(strippingNewline: true) { lines.append(l) }
    return lines.joined(separator: "\n")
}

/// How SRHs are shown.
enum SRHReport {
    static func tlvJSON(_ t: SRHTLV) -> JSON {
        switch t {
        case .pad1: return .object([("type", .string("pad1")), ("code", .int(0)), ("length", .int(1))])
        case .padN(let p): return .object([("type", .string("padN")), ("code", .int(4)), ("length", .int(2 + p.count))])
        case .hmac(let h):
            return .object([("type", .string("hmac")), ("code", .int(5)), ("length", .int(8 + h.hmac.count)),
                            ("destinationFlag", .bool(h.destinationFlag)), ("keyId", .int(Int(h.keyID))),
                            ("hmac", .string(Hex.encode(h.hmac)))])
        case .unknown(let type, let v):
            return .object([("type", .string("unknown")), ("code", .int(Int(type))), ("length", .int(2 + v.count)),
                            ("value", .string(Hex.encode(v)))])
        case .rawBytes(let b):
            return .object([("type", .string("raw")), ("length", .int(b.count)), ("value", .string(Hex.encode(b)))])
        }
    }

    static func json(_ srh: SegmentRoutingHeader, wire: [UInt8], view: SRHView = SRHView()) -> JSON {
        var fields: [(String, JSON)] = [
            ("nextHeader", .int(Int(srh.nextHeader))),
            ("hdrExtLen", .int(srh.hdrExtLen)),
            ("routingType", .int(Int(SegmentRoutingHeader.routingType))),
            ("segmentsLeft", .int(Int(srh.segmentsLeft))),
            ("lastEntry", .int(srh.lastEntry)),
            ("flags", .int(Int(srh.flags.rawValue))),
            ("tag", .int(Int(srh.tag))),
            ("segments", .array(srh.segments.map { .string($0.description) })),
            ("activeSegment", (view.reduced ? view.destination : srh.activeSegment).map { .string($0.description) } ?? .null),
            ("tlvs", .array(srh.tlvs.map(tlvJSON))),
            ("length", .int(wire.count)),
            ("hex", .string(Hex.encode(wire))),
            ("warnings", .array(srh.rfc8754Warnings.map { .object([("offset", .int($0.offset)), ("message", .string($0.message))]) })),
        ]
        if view.reduced {
            fields.append(("reduced", .bool(true)))
            fields.append(("destination", view.destination.map { .string($0.description) } ?? .null))
        }
        if let f = view.csid {
            fields.append(("csid", .object([("block", .string(f.block.description)), ("length", .int(f.csidLength))])))
            fields.append(("containers", .array(view.containers(srh).map { c in
                .object([("segment", .string(c.segment.description)),
                         ("onWire", .bool(c.onWire)),
                         ("csids", .array(c.csids.map { .string(String($0, radix: 16)) })),
                         ("sids", .array(c.sids.map { .string($0.description) }))])
            })))
        }
        return .object(fields)
    }

    static func text(_ srh: SegmentRoutingHeader, wire: [UInt8], view: SRHView = SRHView()) -> String {
        var lines: [String] = []
        let fields = Table([.left(15)])
        func row(_ k: String, _ v: String) { lines.append(fields.line([k, v])) }
        row("next header", "\(srh.nextHeader)\(protocolName(srh.nextHeader).map { " (\($0))" } ?? "")")
        row("hdr ext len", "\(srh.hdrExtLen) (\(wire.count) bytes)")
        row("routing type", "4 (Segment Routing)")
        row("segments left", "\(srh.segmentsLeft)")
        row("last entry", "\(srh.lastEntry)")
        if view.reduced {
            row("reduced", "yes: segments left = last entry + 1, the first segment travels only in the Destination Address")
        }
        if let f = view.csid { row("c-sid format", "\(f.block), \(f.csidLength)-bit C-SIDs, NEXT-C-SID (RFC 9800)") }
        var flagNames: [String] = []
        if srh.flags.contains(.hmac) { flagNames.append("HMAC") }
        if srh.flags.contains(.protected) { flagNames.append("protected") }
        if srh.flags.contains(.oam) { flagNames.append("OAM") }
        if srh.flags.contains(.alert) { flagNames.append("alert") }
        row("flags", "0x\(Hex.encode([srh.flags.rawValue]))\(flagNames.isEmpty ? "" : " (" + flagNames.joined(separator: ", ") + ")")")
        row("tag", "\(srh.tag)")
        lines.append("segments (path order):")
        let segmentTable = Table([.left(0), .left(40)], indent: "  ")
        let active = srh.segments.count - 1 - Int(srh.segmentsLeft)
        let containers = view.csid == nil ? [] : view.containers(srh)
        func containerLine(_ s: IPv6Address, onWire: Bool) {
            guard let c = containers.first(where: { $0.segment == s && $0.onWire == onWire }) else { return }
            let what = c.csids.count == 1 ? "C-SID" : "container of \(c.csids.count) C-SIDs:"
            lines.append("       \(what) \(c.csids.map { String($0, radix: 16) }.joined(separator: " ")) → \(c.sids.map(\.description).joined(separator: ", "))")
        }
        if view.reduced {
            let d = view.destination?.description ?? "(not in the header: give --destination)"
            lines.append(segmentTable.line(["D.", d, "(Destination Address only, active)"]))
            if let dest = view.destination { containerLine(dest, onWire: false) }
        }
        for (i, s) in srh.segments.enumerated() {
            var note = "wire index \(srh.segments.count - 1 - i)"
            if i == srh.segments.count - 1 { note += ", final destination" }
            if i == active { note += ", active" }
            lines.append(segmentTable.line(["\(i + 1).", s.description, "(\(note))"]))
            if i < srh.segments.count - 1 { containerLine(s, onWire: true) }
        }
        if srh.tlvs.isEmpty {
            lines.append("tlvs: none")
        } else {
            lines.append("tlvs:")
            for t in srh.tlvs {
                switch t {
                case .pad1: lines.append("  Pad1")
                case .padN(let p): lines.append("  PadN, \(2 + p.count) bytes")
                case .hmac(let h): lines.append("  HMAC, key id \(h.keyID)\(h.destinationFlag ? ", D" : ""): \(Hex.encode(h.hmac))")
                case .unknown(let type, let v): lines.append("  type \(type), \(v.count) value bytes: \(Hex.encode(v))")
                case .rawBytes(let b): lines.append("  \(b.count) bytes not parseable as RFC 8754 TLVs: \(Hex.encode(b))")
                }
            }
        }
        for w in srh.rfc8754Warnings { lines.append("warning: \(w.description)") }
        return lines.joined(separator: "\n")
    }

    static func validation(_ r: Result<Int, SRHError>, length: Int?) -> JSON {
        switch r {
        case .success:
            return .object([("valid", .bool(true))])
        case .failure(let e):
            return .object([("valid", .bool(false)),
                            ("error", .object([("kind", .string(e.kind.rawValue)), ("offset", .int(e.offset)),
                                               ("message", .string(e.message))]))])
        }
    }

    static func protocolName(_ p: UInt8) -> String? {
        switch p {
        case 6: return "TCP"
        case 17: return "UDP"
        case 41: return "IPv6"
        case 43: return "Routing"
        case 58: return "ICMPv6"
        case 59: return "No Next Header"
        case 4: return "IPv4"
        case 143: return "Ethernet"
        default: return nil
        }
    }
}

extension ReducedSegmentRoutingHeader {
    /// The header with the wire's Segments Left (last entry + 1), for showing: it does not encode.
    var displayed: SegmentRoutingHeader {
        var h = header
        h.segmentsLeft = UInt8(segmentsLeft)
        return h
    }
}
