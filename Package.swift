// swift-tools-version: 6.1
import PackageDescription

// Module boundaries:
//   CSRH             C declarations of the kernel ABI (size/offset-asserted) and thin shims.
//   SRv6Paths        pure Swift, no system calls: SRH codec and validation, topology, planner.
//   SubflowSteering  the only module that talks to the kernel.
//   srte             the command-line interface: parsing and printing only.
let package = Package(
    name: "srte",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "SRv6Paths", targets: ["SRv6Paths"]),
        .library(name: "SubflowSteering", targets: ["SubflowSteering"]),
        .executable(name: "srte", targets: ["srte"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        // libmnl (netlink socket layer) as a system library found through pkg-config.
        // Only SubflowSteering links it (`internal import CMNL`); messages are encoded
        // and decoded in Swift so they can be tested byte for byte without root.
        .systemLibrary(
            name: "CMNL",
            pkgConfig: "libmnl",
            providers: [.apt(["libmnl-dev"])]
        ),
        // CSRH links libbpf for the BPF programs in Sources/CSRH/bpf (tc steering, sock_ops
        // per-subflow options); Plugins/BPFEmbed compiles them and embeds them in SubflowSteering.
        .target(
            name: "CSRH",
            exclude: ["bpf"],
            cSettings: [.define("_GNU_SOURCE")],
            linkerSettings: [.linkedLibrary("bpf")]
        ),
        .target(
            name: "SRv6Paths",
            dependencies: [
                .product(name: "Collections", package: "swift-collections"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .target(
            name: "SubflowSteering",
            dependencies: ["CSRH", "CMNL", "SRv6Paths"],
            plugins: ["BPFEmbed"]
        ),
        // Build-time: BPF programs (Sources/CSRH/bpf) compiled with clang -target bpf and embedded.
        .executableTarget(name: "bpf-embed", path: "Sources/bpf-embed"),
        .plugin(name: "BPFEmbed", capability: .buildTool(), dependencies: ["bpf-embed"]),
        .executableTarget(
            name: "srte",
            dependencies: [
                "SRv6Paths",
                "SubflowSteering",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // libFuzzer entry point for the SRH decoder/validator (see README "Fuzzing").
        .executableTarget(
            name: "srh-fuzz",
            dependencies: ["SRv6Paths"],
            path: "Fuzz/srh-fuzz"
        ),
        // SRH micro-benchmark (Benchmarks/srh/README.md).
        .executableTarget(
            name: "srh-bench",
            dependencies: ["SRv6Paths", "SRHBenchSupport"],
            path: "Benchmarks/srh-bench"
        ),
        // The optimisation barrier srh-bench shares with Benchmarks/srh/srh_kernel_c.c.
        .target(name: "SRHBenchSupport", path: "Benchmarks/srh-bench-support"),
        // Steering install/remove benchmark (Benchmarks/steering/README.md).
        .executableTarget(
            name: "steer-bench",
            dependencies: ["SRv6Paths", "SubflowSteering"],
            path: "Benchmarks/steer-bench"
        ),
        // Planner benchmark (Benchmarks/planner/README.md): swift build -c release --product srte-bench
        .executableTarget(
            name: "srte-bench",
            dependencies: ["SRv6Paths"],
            path: "Benchmarks/planner/Sources"
        ),
        // Time from connect() to k established extra subflows (Benchmarks/mptcp/README.md).
        .executableTarget(
            name: "mptcp-bench",
            dependencies: ["SubflowSteering", "SRv6Paths"],
            path: "Benchmarks/mptcp/Sources"
        ),
        .testTarget(name: "SRv6PathsTests", dependencies: ["SRv6Paths"]),
        .testTarget(name: "SubflowSteeringTests", dependencies: ["SubflowSteering", "SRv6Paths", "CSRH"]),
        .testTarget(name: "srteTests", dependencies: ["srte", "SRv6Paths"]),
    ]
)
