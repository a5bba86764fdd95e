import Dispatch
import Glibc
import Logging

/// `srte agent`'s log: one line per event on stderr — `srte agent: KIND key=value …`, or a JSON
/// object per line (`--format json`, with the event's wall-clock `time` last: UTC, RFC 3339,
/// microseconds) — for the swift-log records `AgentService` emits (the event's kind is the
/// message, its fields the metadata).
struct AgentLogHandler: LogHandler {
    var json: Bool
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    /// Fields in the order a reader looks for them; the rest follow sorted.
    static let order = ["token", "local", "remote", "rule", "subflows", "paths", "path", "failed", "flow", "why", "what", "error"]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        let all = metadata.merging(explicit ?? [:]) { _, new in new }
        let keys = Self.order.filter { all[$0] != nil } + all.keys.filter { !Self.order.contains($0) }.sorted()
        let fields = keys.map { ($0, "\(all[$0]!)") }
        if json {
            diagnose(JSON.object([("event", .string(message.description))] + fields.map { ($0.0, .string($0.1)) }
                                 + [("time", .string(Self.now()))]).rendered)
        } else {
            diagnose("srte agent: \(message)" + fields.map { " \($0.0)=\($0.1)" }.joined())
        }
    }
}

extension AgentLogHandler {
    /// The wall-clock time as `2026-12-07T02:55:01.123456Z` (formatted by hand: a log line per
    /// event under connection churn cannot afford Foundation's date formatter).
    static func now() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = time_t(ts.tv_sec), tm = Glibc.tm()
        gmtime_r(&t, &tm)
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(Int(tm.tm_year) + 1900, 4))-\(pad(Int(tm.tm_mon) + 1, 2))-\(pad(Int(tm.tm_mday), 2))T"
            + "\(pad(Int(tm.tm_hour), 2)):\(pad(Int(tm.tm_min), 2)):\(pad(Int(tm.tm_sec), 2)).\(pad(Int(ts.tv_nsec) / 1000, 6))Z"
    }
}

/// Runs `body` to completion from synchronous code (a command's `run()`), blocking the
/// calling thread, which is not one of the concurrency pool's.
func runBlocking(_ body: @escaping @Sendable () async throws -> Void) throws {
    let done = DispatchSemaphore(value: 0)
    let failure = UncheckedBox(ErrorSlot())
    Task {
        do { try await body() } catch { failure.value.error = error }
        done.signal()
    }
    done.wait()
    if let e = failure.value.error { throw e }
}

final class ErrorSlot { var error: Error? }
