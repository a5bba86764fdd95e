import Glibc
import Foundation
import ArgumentParser
import SRv6Paths
import LinuxSystem

/// Output formats of `srte srh build` (the wire bytes in hex by default).
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json, hex
}

/// The two output formats of every command that has exactly these: text for people, JSON for scripts.
enum ReportFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// `--format text|json`, shared by the commands that print text or JSON.
struct FormatOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Output: text or json (default: text).", valueName: "text|json"), transform: FormatOptions.parse)
    var format: ReportFormat = .text

    static func parse(_ text: String) throws -> ReportFormat {
        if let f = ReportFormat(rawValue: text) { return f }
        throw ValidationError(text == "hex" ? "--format hex is not available here: use text or json" : "use text or json")
    }

    var isJSON: Bool { format == .json }
}

/// A JSON value with keys kept in insertion order, so output is stable and diffable.
///
/// The one way srte writes JSON: one line (``rendered``, for line-per-record output) or indented
/// (``pretty``). Numbers without a fractional part are written without `.0`.
enum JSON: Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    static func == (a: JSON, b: JSON) -> Bool { a.rendered == b.rendered }

    /// Compact serialisation (one line).
    var rendered: String {
        var s = ""
        write(to: &s, indent: nil)
        return s
    }

    /// Indented serialisation (two spaces per level).
    var pretty: String {
        var s = ""
        write(to: &s, indent: "")
        return s
    }

    func write(to s: inout String, indent: String?) {
        switch self {
        case .null: s += "null"
        case .bool(let b): s += b ? "true" : "false"
        case .int(let i): s += String(i)
        case .double(let d): s += JSON.number(d)
        case .string(let str): s += jsonString(str)
        case .array(let a):
            guard !a.isEmpty else { s += "[]"; return }
            s += "["
            // Indented, an array of plain values stays on one line.
            let inner = a.allSatisfy(\.isScalar) ? nil : indent.map { $0 + "  " }
            for (i, v) in a.enumerated() {
                if i > 0 { s += "," }
                if let inner { s += "\n" + inner } else if i > 0 { s += " " }
                v.write(to: &s, indent: inner)
            }
            if inner != nil, let indent { s += "\n" + indent }
            s += "]"
        case .object(let o):
            guard !o.isEmpty else { s += "{}"; return }
            s += "{"
            let inner = indent.map { $0 + "  " }
            for (i, (k, v)) in o.enumerated() {
                if i > 0 { s += "," }
                if let inner { s += "\n" + inner } else if i > 0 { s += " " }
                s += jsonString(k) + ": "
                v.write(to: &s, indent: inner)
            }
            if let indent { s += "\n" + indent }
            s += "}"
        }
    }

    var isScalar: Bool {
        switch self {
        case .array, .object: return false
        default: return true
        }
    }

    /// A JSON number: integral values without `.0`, non-finite ones as null.
    static func number(_ d: Double) -> String {
        guard d.isFinite else { return "null" }
        if d == d.rounded(), abs(d) < 1e15 { return String(Int(d)) }
        return String(d)
    }

    /// A Codable value (a library's report) as JSON, keys sorted.
    init<T: Encodable>(encoding value: T) throws {
        let data = try JSONEncoder().encode(value)
        self = try JSONDecoder().decode(JSON.self, from: data)
    }
}

extension JSON: Decodable {
    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: Decoder) throws {
        if let keyed = try? decoder.container(keyedBy: Key.self) {
            self = .object(try keyed.allKeys.map(\.stringValue).sorted().map { k in
                (k, try keyed.decode(JSON.self, forKey: Key(stringValue: k)))
            })
            return
        }
        if var list = try? decoder.unkeyedContainer() {
            var a: [JSON] = []
            while !list.isAtEnd { a.append(try list.decode(JSON.self)) }
            self = .array(a)
            return
        }
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else { self = .string(try c.decode(String.self)) }
    }
}

/// Aligned text columns, the one way srte prints a table: each cell is padded to its column's
/// width (never cut), cells are joined by `separator`, trailing spaces are dropped. Cells beyond
/// the declared columns are not padded.
struct Table {
    enum Alignment { case left, right }

    struct Column {
        var width: Int
        var alignment: Alignment
        static func left(_ width: Int) -> Column { Column(width: width, alignment: .left) }
        static func right(_ width: Int) -> Column { Column(width: width, alignment: .right) }
    }

    var columns: [Column]
    var separator: String
    var indent: String

    init(_ columns: [Column], separator: String = " ", indent: String = "") {
        self.columns = columns
        self.separator = separator
        self.indent = indent
    }

    /// Left-aligned columns as wide as their widest cell in `rows`.
    init(fitting rows: [[String]], separator: String = "  ", indent: String = "") {
        var widths: [Int] = []
        for r in rows {
            for (c, cell) in r.enumerated() {
                if c == widths.count { widths.append(0) }
                widths[c] = max(widths[c], cell.count)
            }
        }
        self.init(widths.map(Column.left), separator: separator, indent: indent)
    }

    /// One row.
    func line(_ cells: [String]) -> String {
        var parts: [String] = []
        for (i, cell) in cells.enumerated() {
            guard i < columns.count else { parts.append(cell); continue }
            parts.append(Table.pad(cell, columns[i].width, columns[i].alignment))
        }
        var s = Substring(indent + parts.joined(separator: separator))
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }

    /// Every row.
    func lines(_ rows: [[String]]) -> [String] { rows.map(line) }

    /// `text` padded with spaces to `width` characters (never cut).
    static func pad(_ text: String, _ width: Int, _ alignment: Alignment = .left) -> String {
        guard text.count < width else { return text }
        let fill = String(repeating: " ", count: width - text.count)
        return alignment == .left ? text + fill : fill + text
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
            if n < 0 { if Errno.current == EINTR { continue }; break }
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
