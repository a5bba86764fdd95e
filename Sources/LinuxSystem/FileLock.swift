import Foundation
import Glibc

/// An advisory lock file (`flock(2)`) that also holds a short text record: processes that share
/// something take it shared, and the one that gets it exclusive without waiting knows nobody
/// else holds it. The kernel drops a process's lock when it dies, SIGKILL included.
package final class FileLock {
    private var fd: Int32
    /// The lock file.
    package let path: String

    /// Opens (creating) `path` and takes a shared lock, waiting for an exclusive holder.
    package init(sharing path: String) throws(SystemCallError) {
        self.path = path
        fd = try syscallValue("open(\(path))") { open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644) }
        do { try syscallValue("flock(\(path), LOCK_SH)") { flock(fd, LOCK_SH) } } catch {
            Glibc.close(fd)
            throw error
        }
    }

    /// Opens an existing lock file without locking it; nil when there is none.
    package init?(existing path: String) {
        self.path = path
        fd = open(path, O_RDWR | O_CLOEXEC)
        if fd < 0 { return nil }
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    /// The record (trimmed; empty when none).
    package var record: String {
        var buf = [UInt8](repeating: 0, count: 256)
        let n = pread(fd, &buf, buf.count, 0)
        return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : ""
    }

    /// Replaces the record.
    package func write(record text: String) throws(SystemCallError) {
        _ = ftruncate(fd, 0)
        let bytes = Array((text + "\n").utf8)
        try syscallValue("write(\(path))") { pwrite(fd, bytes, bytes.count, 0) }
    }

    /// Runs `body` when no other process holds the lock (taking it exclusive without waiting),
    /// then deletes the file; returns nil without running it otherwise.
    package func ifSoleHolder<T>(_ body: (FileLock) -> T) -> T? {
        guard fd >= 0, flock(fd, LOCK_EX | LOCK_NB) == 0 else { return nil }
        defer {
            unlink(path)
            flock(fd, LOCK_UN)
        }
        return body(self)
    }

    /// Closes the file, and with it the lock, without anything else (what a killed process does).
    package func close() {
        guard fd >= 0 else { return }
        Glibc.close(fd)
        fd = -1
    }
}
