// swift-tools-version: 6.1
import PackageDescription

// The layers, each on top of the ones before it (Docs/Architecture.md draws them):
//   CSRH, CMNL        C: the kernel ABI and thin libbpf/libmnl shims.
//   SRv6Paths         pure Swift: SRH codec, topology files, planner. No system calls.
//   LinuxSystem       the one system-call layer: errno, sockets, netlink, namespaces, BPF, processes.
//   SubflowSteering   MPTCP subflows, per-subflow SRH steering, engineered connections.
//   NetworkLab        the testbed and the experiment, on top of SubflowSteering.
//   PathAgent         `srte agent`: policies for the connections of any program.
//   srte              the command-line interface: parsing and printing.
let package = Package(
    name: "srte",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "SRv6Paths", targets: ["SRv6Paths"]),
        .library(name: "SubflowSteering", targets: ["SubflowSteering"]),
        .library(name: "NetworkLab", targets: ["NetworkLab"]),
        .executable(name: "srte", targets: ["srte"]),
        .executable(name: "srte-delay-bridge", targets: ["srte-delay-bridge"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        // The agent daemon: startup, signals and graceful shutdown; its event log.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        // `swift package generate-documentation` (scripts/docs.sh): API docs, checked in CI.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // libmnl, the netlink socket layer under LinuxSystem's netlink client (pkg-config libmnl).
        .systemLibrary(name: "CMNL", pkgConfig: "libmnl", providers: [.apt(["libmnl-dev"])]),
        // Kernel ABI declarations (size/offset-asserted), libbpf and process shims, BPF program sources (bpf/).
        .target(
            name: "CSRH",
            exclude: ["bpf"],
            cSettings: [.define("_GNU_SOURCE")],
            linkerSettings: [.linkedLibrary("bpf")]
        ),
        // SRH codec and validation (RFC 8754, as Linux checks it), topology files, disjoint-path planner,
        // segment-list encoding and forwarding simulation. Pure Swift: no system calls, tests need no root.
        .target(
            name: "SRv6Paths",
            dependencies: [
                .product(name: "Collections", package: "swift-collections"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // The system-call layer: errors with errno, sockaddr, sysctl, network namespaces, rtnetlink and
        // generic netlink, BPF object loading and attaching, child processes, termination signals.
        .target(
            name: "LinuxSystem",
            dependencies: ["CSRH", "CMNL", "SRv6Paths"]
        ),
        // MPTCP subflows (draft-hesmans-mptcp-socket on upstream Linux), per-subflow SRH steering by
        // policy routing or tc-BPF and the choice between them, engineered connections, reflection.
        .target(
            name: "SubflowSteering",
            dependencies: ["CSRH", "SRv6Paths", "LinuxSystem"],
            plugins: ["BPFEmbed"]
        ),
        // The lab: a topology file emulated in network namespaces (routers with End/End.X SIDs, shaped
        // and delayed links) and the experiment that measures engineered against unsteered MPTCP.
        .target(
            name: "NetworkLab",
            dependencies: ["CSRH", "SRv6Paths", "LinuxSystem", "SubflowSteering"],
            plugins: ["BPFEmbed"]
        ),
        // The path-manager agent (`srte agent`): policies that say which connections of any program
        // get which paths, and the daemon that applies them.
        .target(
            name: "PathAgent",
            dependencies: ["SRv6Paths", "LinuxSystem", "SubflowSteering", .product(name: "Yams", package: "Yams"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                           .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                           .product(name: "Logging", package: "swift-log")]
        ),
        // The userspace delay bridge of one lab link (started by NetworkLab where netem is missing).
        .executableTarget(
            name: "srte-delay-bridge",
            dependencies: [
                "CSRH", "SRv6Paths", "LinuxSystem",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The command-line interface: argument parsing, output formats, exit codes.
        .executableTarget(
            name: "srte",
            dependencies: [
                "SRv6Paths", "LinuxSystem", "SubflowSteering", "NetworkLab", "PathAgent",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Build tool: compiles Sources/CSRH/bpf/*.bpf.c with clang -target bpf and embeds each object.
        .executableTarget(name: "bpf-embed", path: "Sources/bpf-embed"),
        .plugin(name: "BPFEmbed", capability: .buildTool(), dependencies: ["bpf-embed"]),

        // libFuzzer entry point for the SRH decoder and validator (scripts/fuzz.sh).
        .executableTarget(name: "srh-fuzz", dependencies: ["SRv6Paths"], path: "Fuzz/srh-fuzz"),
        // Benchmarks: one folder each with run.sh, README.md and results/ (Benchmarks/README.md).
        .executableTarget(
            name: "srh-bench",
            dependencies: ["SRv6Paths", "SRHBenchSupport"],
            path: "Benchmarks/srh/Sources/srh-bench"
        ),
        .target(name: "SRHBenchSupport", path: "Benchmarks/srh/Sources/SRHBenchSupport"),
        .executableTarget(
            name: "steer-bench",
            dependencies: ["SRv6Paths", "LinuxSystem", "SubflowSteering"],
            path: "Benchmarks/steering/Sources"
        ),
        .executableTarget(name: "srte-bench", dependencies: ["SRv6Paths"], path: "Benchmarks/planner/Sources"),
        .executableTarget(name: "csid-bench", dependencies: ["SRv6Paths"], path: "Benchmarks/csid/Sources"),
        .executableTarget(
            name: "mptcp-bench",
            dependencies: ["SRv6Paths", "LinuxSystem", "SubflowSteering"],
            path: "Benchmarks/mptcp/Sources"
        ),

        // Shared test helpers: seeded generator, namespace labs, TCP transfers, the SRH corpus.
        .target(
            name: "TestSupport",
            dependencies: ["SRv6Paths", "LinuxSystem", "SubflowSteering"],
            path: "Tests/TestSupport"
        ),
        .testTarget(name: "SRv6PathsTests", dependencies: ["SRv6Paths", "TestSupport"]),
        .testTarget(
            name: "SubflowSteeringTests",
            dependencies: ["SubflowSteering", "LinuxSystem", "SRv6Paths", "CSRH", "TestSupport"]
        ),
        .testTarget(
            name: "NetworkLabTests",
            dependencies: ["NetworkLab", "SubflowSteering", "LinuxSystem", "SRv6Paths", "srte-delay-bridge", "TestSupport"]
        ),
        .testTarget(
            name: "PathAgentTests",
            dependencies: ["PathAgent", "SubflowSteering", "LinuxSystem", "SRv6Paths", "TestSupport"]
        ),
        .testTarget(
            name: "srteTests",
            dependencies: ["srte", "NetworkLab", "SubflowSteering", "LinuxSystem", "SRv6Paths", "TestSupport"]
        ),
    ]
)
