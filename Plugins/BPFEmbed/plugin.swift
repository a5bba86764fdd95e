import PackagePlugin

/// Compiles the BPF programs in Sources/CSRH/bpf with the toolchain's clang
/// (`-target bpf`) and embeds each object into the target as a base64 string,
/// so `swift build` produces them from source and the binary carries them.
@main
struct BPFEmbed: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let package = context.package.directoryURL
        let bpfDir = package.appending(path: "Sources/CSRH/bpf")
        let include = package.appending(path: "Sources/CSRH/include")
        let clang = try context.tool(named: "clang").url
        let embed = try context.tool(named: "bpf-embed").url
        #if arch(x86_64)
        let multiarch = "/usr/include/x86_64-linux-gnu", targetArch = "-D__TARGET_ARCH_x86"
        #elseif arch(arm64)
        let multiarch = "/usr/include/aarch64-linux-gnu", targetArch = "-D__TARGET_ARCH_arm64"
        #else
        let multiarch = "/usr/include", targetArch = "-D__TARGET_ARCH_unknown"
        #endif
        var commands: [Command] = []
        // Each target embeds the programs it loads.
        let programs: [(String, String)] = switch target.name {
        case "NetworkLab": [("srv6_router", "srv6RouterObject")]
        default: [("srh_steer", "srhSteerObject"), ("srh_learn", "srhLearnObject"), ("subflow_sockopt", "subflowSockoptObject"),
                  ("srh_connect", "srhConnectObject")]
        }
        for (name, symbol) in programs {
            let source = bpfDir.appending(path: "\(name).bpf.c")
            let object = context.pluginWorkDirectoryURL.appending(path: "\(name).bpf.o")
            let swift = context.pluginWorkDirectoryURL.appending(path: "BPF_\(name).swift")
            // One command compiles and embeds, so the object file is not an
            // output SwiftPM would copy into the target as a resource.
            commands.append(.buildCommand(
                displayName: "Compiling and embedding BPF program \(name).bpf.c",
                executable: embed,
                arguments: [clang.path, source.path, object.path, swift.path, symbol, "--",
                            "-O2", "-g", "-target", "bpf", targetArch, "-I", multiarch, "-I", include.path],
                inputFiles: [source, include.appending(path: "csrh_steer_abi.h"), bpfDir.appending(path: "srte_flows.h")],  // the programs' local headers
                outputFiles: [swift]))
        }
        return commands
    }
}
