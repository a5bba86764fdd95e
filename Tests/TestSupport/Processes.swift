import Foundation

/// The running (not zombie) `srte-delay-bridge` processes with an argument starting with
/// `prefix` (their `--netns`, `<lab>+L<i>`).
package func delayBridgeProcesses(prefix: String) -> [Int32] {
    ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { e -> Int32? in
        guard let pid = Int32(e), let data = FileManager.default.contents(atPath: "/proc/\(e)/cmdline"),
              let stat = FileManager.default.contents(atPath: "/proc/\(e)/stat") else { return nil }
        let args = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        let state = String(decoding: stat, as: UTF8.self).split(separator: ")").last?.split(separator: " ").first
        guard state != "Z", state != "X", args.first?.hasSuffix("srte-delay-bridge") == true else { return nil }
        return args.dropFirst().contains { $0.hasPrefix(prefix) } ? pid : nil
    }
}
