import ArgumentParser
import SRv6Paths
import SubflowSteering
import LinuxSystem

/// Parses `[ADDR]:PORT`, `ADDR` (with a default port) or `:PORT` / `PORT` (any address).
func parseEndpoint(_ text: String, option: String, defaultPort: UInt16? = nil) throws -> SocketEndpoint {
    func port(_ s: Substring) throws -> UInt16 {
        guard let p = UInt16(s), p > 0 else { throw CLIFailure.input("\(option) '\(text)': port '\(s)' is not a number in 1...65535") }
        return p
    }
    if text.hasPrefix("[") {
        guard let close = text.firstIndex(of: "]") else { throw CLIFailure.input("\(option) '\(text)': missing ']' (write [ADDR]:PORT)") }
        let addrText = String(text[text.index(after: text.startIndex)..<close])
        let addr: IPv6Address
        do { addr = try IPv6Address(parsing: addrText) } catch { throw CLIFailure.input("\(option): \(error)") }
        let rest = text[text.index(after: close)...]
        if rest.isEmpty, let d = defaultPort { return SocketEndpoint(addr, port: d) }
        guard rest.hasPrefix(":") else { throw CLIFailure.input("\(option) '\(text)': expected ':PORT' after ']'") }
        return SocketEndpoint(addr, port: try port(rest.dropFirst()))
    }
    if text.hasPrefix(":") { return SocketEndpoint(.unspecified, port: try port(text.dropFirst())) }
    if let p = UInt16(text) { return SocketEndpoint(.unspecified, port: p) }
    if let d = defaultPort, let a = IPv6Address(text) { return SocketEndpoint(a, port: d) }
    throw CLIFailure.input("\(option) '\(text)': write [ADDR]:PORT (e.g. [fc00:2::2]:5201) or :PORT")
}
