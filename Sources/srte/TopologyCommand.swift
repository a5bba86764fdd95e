import ArgumentParser
import SRv6Paths
import LinuxSystem

extension Topology.GMLMetric: ExpressibleByArgument {}

/// `srte topology`: import and inspect topology files.
struct TopologyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topology",
        abstract: "Import and check topology files.",
        subcommands: [Import.self, Check.self]
    )

    /// `srte topology import FILE.gml`: Topology Zoo GML to the YAML format.
    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Convert a Topology Zoo GML file (or an srte-topology/1 JSON file) to a YAML topology file.",
            discussion: """
            Every GML node becomes a router with locator fc00:<i>::/48 style addresses (i = 1, 2, … in \
            file order); names come from the labels. --metric distance sets each link's IGP metric to \
            the great-circle distance in km (metric 10 when coordinates are missing); --metric hops \
            sets 10 everywhere. Delays are 5 us per km (1 ms without coordinates).
            """
        )

        @Argument(help: "The GML (or .json) file.")
        var file: String

        @Option(help: "How links get their IGP metric: distance or hops.")
        var metric: Topology.GMLMetric = .distance

        @Option(name: .shortAndLong, help: "Write the YAML here instead of stdout.")
        var output: String?

        func run() throws {
            let text = try readTextFile(file)
            let t = file.hasSuffix(".json") ? try Topology(srteTopologyJSON: text, file: file)
                                            : try Topology(gml: text, file: file, metric: metric)
            let yaml = t.yaml(comment: ["imported by srte topology import from \(file) (--metric \(metric.rawValue))",
                                        "\(t.nodes.count) nodes, \(t.links.count) links"])
            if let output { try writeTextFile(output, yaml) } else {
                let out = StdoutBuffer()
                out.line(String(yaml.dropLast()))
                out.flush()
            }
        }
    }

    /// `srte topology check FILE`: parse and summarise.
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Parse a topology file and print a summary (errors name file:line:column).")

        @Argument(help: "The topology file.")
        var file: String

        func run() throws {
            let t = try loadTopology(file)
            let routers = t.nodes.filter { $0.kind == .router }.count
            let out = StdoutBuffer()
            out.line("\(t.name): \(routers) routers, \(t.nodes.count - routers) hosts, \(t.links.count) links")
            out.flush()
        }
    }
}
