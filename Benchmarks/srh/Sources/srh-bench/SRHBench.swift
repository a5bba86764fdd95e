// SRH micro-benchmark: ns per operation for build, validate, decode and
// build+validate with 1, 4 and 16 segments (and 4 + an 8-byte PadN), the same
// operations and inputs as Benchmarks/srh/srh_kernel_c.c. Prints JSON lines.
// Both sides pass what they read and write through the same optimisation
// barrier, srh_bench_escape (Benchmarks/srh-bench-support), once per operation.
//   swift build -c release --product srh-bench && .build/release/srh-bench [iterations [op]]
import SRHBenchSupport
import SRv6Paths

import Glibc

/// `srh_bench_escape` on a value: its bytes, and all it refers to, count as read.
/// (A global function, so the closure is not main-actor isolated and checked.)
@inline(__always) func escape<T>(_ x: inout T) { withUnsafePointer(to: &x) { srh_bench_escape($0) } }

func nowNS() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) * 1e9 + Double(ts.tv_nsec)
}

@main
struct SRHBench {
    static func main() throws {
        let iterations = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 2_000_000 : 2_000_000
        let only = CommandLine.arguments.count > 2 ? CommandLine.arguments[2] : nil   // one op, for profiling
        // fc00:0:<i+1>::1, as the C anchor.
        let all = (0..<127).map { IPv6Address(high: 0xfc00_0000_0000_0000 | UInt64($0 + 1) << 16, low: 1) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 16)
        defer { buffer.deallocate() }
        let cases: [(n: Int, tlv: Int)] = [(1, 0), (4, 0), (16, 0), (4, 8)]
        var sink = 0
        for c in cases {
            let path = Array(all.prefix(c.n))
            let tlvs: [SRHTLV] = c.tlv == 8 ? [.padding(8)] : []
            let len = try SegmentRoutingHeader(path: path, nextHeader: 41, tlvs: tlvs).encode(into: buffer)
            let wire = UnsafeRawBufferPointer(rebasing: buffer[0..<len])
            var decoded = try SegmentRoutingHeader(path: path)
            for op in ["build", "build-direct", "validate", "decode", "build+validate"] where only == nil || only == op {
                var runs: [Double] = []
                for _ in 0..<7 {
                    var acc = 0
                    let t0 = nowNS()
                    switch op {
                    case "build":
                        for i in 0..<iterations {
                            let srh = try SegmentRoutingHeader(path: path, nextHeader: 41, tag: UInt16(truncatingIfNeeded: i), tlvs: tlvs)
                            acc &+= try srh.encode(into: buffer)
                            srh_bench_escape(buffer.baseAddress)
                        }
                    case "build-direct":
                        // The value-free encoder (no TLVs): path straight to wire bytes, as the C anchor does.
                        if c.tlv == 0 {
                            for i in 0..<iterations {
                                acc &+= try SegmentRoutingHeader.encode(path: path, nextHeader: 41, tag: UInt16(truncatingIfNeeded: i), into: buffer)
                                srh_bench_escape(buffer.baseAddress)
                            }
                        }
                    case "validate":
                        for _ in 0..<iterations {
                            srh_bench_escape(wire.baseAddress)
                            do { try SegmentRoutingHeader.validate(wire); acc &+= 1 } catch { acc &-= 1 }
                        }
                    case "decode":
                        for _ in 0..<iterations {
                            srh_bench_escape(wire.baseAddress)
                            try decoded.decode(from: wire)
                            acc &+= decoded.segments.count
                            escape(&decoded)                                           // its segments and TLV bytes
                        }
                    default:
                        for i in 0..<iterations {
                            let srh = try SegmentRoutingHeader(path: path, nextHeader: 41, tag: UInt16(truncatingIfNeeded: i), tlvs: tlvs)
                            let l = try srh.encode(into: buffer)
                            do { try SegmentRoutingHeader.validate(UnsafeRawBufferPointer(rebasing: buffer[0..<l])); acc &+= l } catch { acc &-= 1 }
                            srh_bench_escape(buffer.baseAddress)
                        }
                    }
                    runs.append((nowNS() - t0) / Double(iterations))
                    if op == "build-direct" && c.tlv != 0 { break }
                    sink &+= acc
                }
                if op == "build-direct" && c.tlv != 0 { continue }
                runs.sort()
                print(#"{"anchor": "srte.swift", "op": "\#(op)", "segments": \#(c.n), "tlv_bytes": \#(c.tlv), "bytes": \#(len), "median_ns": \#(round(runs[3] * 100) / 100), "min_ns": \#(round(runs[0] * 100) / 100), "iterations": \#(iterations), "repeat": 7}"#)
            }
        }
        if sink == 42 { print("") }
    }
}
