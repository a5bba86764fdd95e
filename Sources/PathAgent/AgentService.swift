import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// The agent as a service of a swift-service-lifecycle `ServiceGroup`: the group owns startup,
/// the termination signals and graceful shutdown; this service runs the agent's event loop on a
/// thread of its own (the loop blocks in poll(2)), reads the policy again on SIGHUP, and removes
/// everything the agent installed when the group shuts down or the `until` deadline passes.
///
/// ```swift
/// let service = AgentService(agent: agent, logger: logger, reload: { try AgentPolicy(contentsOf: path) })
/// let group = ServiceGroup(configuration: .init(
///     services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)],
///     gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
/// try await group.run()
/// ```
public final class AgentService: Service, @unchecked Sendable {
    public let agent: Agent
    let logger: Logger
    let reloadPolicy: @Sendable () throws -> AgentPolicy
    let deadline: ContinuousClock.Instant?

    /// - Parameters:
    ///   - agent: the agent, set up; its events go to `logger` (one line each: the event's kind
    ///     as the message, its fields as metadata).
    ///   - logger: where the events go.
    ///   - reload: reads the policy again (SIGHUP); a policy that fails is logged and the old
    ///     one stays.
    ///   - deadline: stop then (`srte agent --for`); `nil`: run until shut down.
    public init(agent: Agent, logger: Logger, reload: @escaping @Sendable () throws -> AgentPolicy,
                until deadline: ContinuousClock.Instant? = nil) {
        self.agent = agent
        self.logger = logger
        self.reloadPolicy = reload
        self.deadline = deadline
        let l = logger
        agent.log = { e in Self.emit(e, to: l) }
    }

    /// One agent event as one log record: errors at `.error`, the rest at `.info`.
    public static func emit(_ e: Agent.Event, to logger: Logger) {
        var metadata: Logger.Metadata = [:]
        if let t = e.token { metadata["token"] = .string(Agent.tokenText(t)) }
        for (k, v) in e.fields { metadata[k] = .string(v) }
        logger.log(level: e.kind == "error" ? .error : .info, "\(e.kind)", metadata: metadata)
    }

    /// Runs the event loop until graceful shutdown or the deadline, then stops the agent.
    public func run() async throws {
        let stop = AgentFlag(), reload = AgentFlag()
        let hangups = Task {
            for await _ in await UnixSignalsSequence(trapping: .sighup) { reload.set() }
        }
        defer { hangups.cancel() }
        var why = "--for"
        await withGracefulShutdownHandler {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                Thread { [self] in
                    loop(stop: stop, reload: reload)
                    done.resume()
                }.start()
            }
        } onGracefulShutdown: {
            stop.set()
        }
        if stop.isSet { why = "signal" }
        agent.stop()
        let c = agent.counters
        Self.emit(Agent.Event("stopped", [("why", why), ("connections", "\(c.connectionsSeen)"), ("engineered", "\(c.connectionsEngineered)"),
                                          ("unmatched", "\(c.connectionsUnmatched)"), ("subflows", "\(c.subflowsOpened)"),
                                          ("failed", "\(c.subflowsFailed)")]), to: logger)
    }

    private func loop(stop: AgentFlag, reload: AgentFlag) {
        while true {
            agent.run(until: { stop.isSet || reload.isSet || deadline.map { ContinuousClock.now >= $0 } == true })
            guard reload.isSet, !stop.isSet else { return }
            reload.clear()
            do { try agent.reload(try reloadPolicy()) } catch {
                Self.emit(Agent.Event("error", [("what", "reloading the policy (the old one stays)"), ("error", "\(error)")]), to: logger)
            }
        }
    }
}

/// A flag set from one task or thread and read by the loop.
final class AgentFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    func clear() { lock.lock(); value = false; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}
