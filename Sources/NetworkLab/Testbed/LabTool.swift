import LinuxSystem

/// The lab's way to run iproute2 and tc: `Subprocess` with failures as ``TestbedError``.
enum LabTool {
    /// Runs `argv` to completion; throws only when it cannot be started.
    static func run(_ argv: [String], stdin: String? = nil) throws(TestbedError) -> CommandResult {
        do { return try Subprocess.run(argv, stdin: stdin) } catch { throw TestbedError(.system, error.message) }
    }

    /// Runs `argv` and throws its stderr unless it exits 0.
    @discardableResult
    static func check(_ argv: [String], stdin: String? = nil, what: String? = nil) throws(TestbedError) -> String {
        do { return try Subprocess.check(argv, stdin: stdin, what: what) } catch { throw TestbedError(.system, error.message) }
    }
}
