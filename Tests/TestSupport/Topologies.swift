import Foundation
import SRv6Paths

/// The package's root directory (where Package.swift is).
package var packageRoot: String {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}

/// A topology file from topologies/.
package func bundledTopology(_ name: String) throws -> Topology {
    let text = try String(contentsOfFile: packageRoot + "/topologies/" + name, encoding: .utf8)
    return try Topology(yaml: text, file: "topologies/" + name)
}
