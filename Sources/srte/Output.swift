import Glibc
import ArgumentParser
import SRv6Paths
import LinuxSystem
import NetworkLab

/// Output formats shared by the subcommands.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json, hex
}

/// Output formats of the report-style commands (serve, open).
enum ReportFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// A JSON value with keys kept in insertion order, so output is stable and diffable.
enum JSON {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    /// Compact serialisation (one line).
    var rendered: String {
        var s = ""
        write(to: &s)
        return s
    }

    func write(to s: inout String) {
        switch self {
        case .null: s += "null"
        case .bool(let b): s += b ? "true" : "false"
        case .int(let i): s += String(i)
        case .double(let d): s += d.isFinite ? String(d) : "null"
        case .string(let str): JSON.quote(str, into: &s)
        case .array(let a):
            s += "["
            for (i, v) in a.enumerated() {
                if i > 0 { s += ", " }
                v.write(to: &s)
            }
            s += "]"
        case .object(let o):
            s += "{"
            for (i, (k, v)) in o.enumerated() {
                if i > 0 { s += ", " }
                JSON.quote(k, into: &s)
                s += ": "
                v.write(to: &s)
            }
            s += "}"
        }
    }

    static func quote(_ str: String, into s: inout String) {
        s += jsonString(str)
    }
}

/// Buffered stdout: one write(2) per 64 KiB instead of one per line.
final class StdoutBuffer {
    private var buffer: [UInt8] = []

    init() { buffer.reserveCapacity(1 << 16) }

    func line(_ s: String) {
        buffer.append(contentsOf: s.utf8)
        buffer.append(0x0a)
        if buffer.count >= 1 << 16 { flush() }
    }

    func flush() {
        var off = 0
        while off < buffer.count {
            let n = buffer.withUnsafeBytes { write(1, $0.baseAddress! + off, $0.count - off) }
            if n < 0 { if errno == EINTR { continue }; break }
            off += n
        }
        buffer.removeAll(keepingCapacity: true)
    }

    deinit { flush() }

}

/// Writes a diagnostic line to stderr.
func diagnose(_ message: String) {
    let s = Array((message + "\n").utf8)
    _ = s.withUnsafeBytes { write(2, $0.baseAddress!, $0.count) }
}

/// A failure that ends the command: the message goes to stderr, the code is the exit status.
struct CLIFailure: Error, CustomStringConvertible {
    var message: String
    var code: Int32
    var description: String { message }

    /// Input the command cannot use (exit 2).
    static func input(_ m: String) -> CLIFailure { CLIFailure(message: m, code: 2) }
}

extension ParsableCommand {
    /// Runs `body`, turning a ``CLIFailure`` into "srte: message" on stderr and its exit code.
    func reporting(_ body: () throws -> Void) throws {
        do { try body() } catch let f as CLIFailure {
            diagnose("srte: \(f.message)")
            throw ExitCode(f.code)
        }
    }
}
