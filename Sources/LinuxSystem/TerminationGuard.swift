import Glibc
import Synchronization

/// Runs cleanup when the process is asked to stop (SIGINT, SIGTERM, SIGHUP),
/// so that steering state (rules, routes, BPF links) never outlives srte.
///
/// ``install()`` blocks those signals in the calling thread — call it first,
/// before any other thread starts, so every thread inherits the mask — and
/// waits for them on a dedicated thread, which runs the registered cleanups
/// and exits with 128 + the signal number.
///
/// ```swift
/// TerminationGuard.install()
/// let token = TerminationGuard.onTermination { steering.removeAll() }
/// defer { TerminationGuard.remove(token) }
/// ```
public enum TerminationGuard {
    private static let handlers = Mutex<[Int: @Sendable () -> Void]>([:])
    private static let counter = Atomic<Int>(0)
    private static let installed = Atomic<Bool>(false)

    /// Blocks SIGINT/SIGTERM/SIGHUP and starts the waiting thread (once).
    public static func install() {
        guard installed.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
        var set = sigset_t()
        sigemptyset(&set)
        for s in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&set, s) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        let waitSet = set
        startThread {
            var s = waitSet
            var signal: Int32 = 0
            while sigwait(&s, &signal) != 0 {}
            let all = handlers.withLock { h in h.sorted { $0.key > $1.key }.map(\.value) }
            for h in all { h() }
            _exit(128 + signal)
        }
    }

    /// Registers `cleanup` (run last-registered first); returns a token for ``remove(_:)``.
    @discardableResult
    public static func onTermination(_ cleanup: @escaping @Sendable () -> Void) -> Int {
        let id = counter.add(1, ordering: .relaxed).newValue
        handlers.withLock { $0[id] = cleanup }
        return id
    }

    /// Unregisters a cleanup.
    public static func remove(_ token: Int) {
        _ = handlers.withLock { $0.removeValue(forKey: token) }
    }
}
