import Glibc

/// Replacing a file's contents so that a reader sees the old or the new contents, never half
/// of them: the bytes go to `PATH.tmp`, which is then renamed over `PATH`.
package enum FileReplacement {
    /// Writes `bytes` to `path` (mode 0644), atomically for readers.
    /// - Throws: ``SystemCallError`` naming the call that failed; `PATH.tmp` does not remain.
    package static func write(_ bytes: [UInt8], to path: String) throws(SystemCallError) {
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SystemCallError("open(\(tmp))", errno: .current) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let e = Errno.current
                close(fd)
                unlink(tmp)
                throw SystemCallError("write(\(tmp))", errno: e)
            }
            done += n
        }
        close(fd)
        guard rename(tmp, path) == 0 else {
            let e = Errno.current
            unlink(tmp)
            throw SystemCallError("rename(\(tmp), \(path))", errno: e)
        }
    }
}
