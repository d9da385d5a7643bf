// The server as a swift-service-lifecycle service: starts the metrics endpoint (if any) and the
// server, reports readiness, keeps systemd's watchdog and status fed while serving, and on
// SIGTERM/SIGINT (or cancellation) reports stopping and shuts down gracefully before returning,
// so the caller can close the pool.

import LLFreeServer
import ServiceLifecycle

/// Runs an ``LLFreeServer`` until graceful shutdown.
public struct ServerService<A: FrameAllocator>: Service {
    public let server: LLFreeServer<A>
    /// Called once the socket is bound and served (for readiness notification).
    public let ready: @Sendable () -> Void
    /// Called when a graceful shutdown begins, before connections are drained.
    public let stopping: @Sendable () -> Void
    /// The metrics endpoint, started before the server and stopped after it.
    public let endpoint: MetricsEndpoint?
    /// Periodic liveness and status reports while serving.
    public let heartbeat: Heartbeat?
    /// Settles the next tree's owner tags, false when none is left (``LLFree/settleNext()``):
    /// run in the background from readiness on. nil for a pool without owners.
    public let settle: (@Sendable () -> Bool)?

    public init(server: LLFreeServer<A>, endpoint: MetricsEndpoint? = nil, heartbeat: Heartbeat? = nil,
                ready: @escaping @Sendable () -> Void = {}, stopping: @escaping @Sendable () -> Void = {},
                settle: (@Sendable () -> Bool)? = nil) {
        self.settle = settle
        self.server = server
        self.endpoint = endpoint
        self.heartbeat = heartbeat
        self.ready = ready
        self.stopping = stopping
    }

    public func run() async throws {
        try await endpoint?.start()
        do {
            try await server.start()
        } catch {
            await endpoint?.shutdown()
            throw error
        }
        ready()
        // Trees a request needs are settled on demand; the rest here, off the event loops, so
        // that every owner's usage is complete soon after ready.
        let settling = settle.map { settle in
            Task.detached(priority: .background) { () async -> Void in
                let clock = ContinuousClock()
                let start = clock.now
                var trees = 0
                while settle() {
                    trees += 1
                    server.counters.settled.wrappingIncrement(ordering: .relaxed)
                }
                server.logger.info("owner tags settled", metadata: ["trees": "\(trees)", "time": "\(clock.now - start)"])
            }
        }
        let beat = heartbeat.map { heartbeat in Task { await heartbeat.run(server) } }
        // Returns when shutdown is requested, throws when the task is cancelled; both end serving.
        try? await gracefulShutdown()
        // The heartbeat reads the allocator (its status line); the caller closes the pool after
        // this returns, so the heartbeat must have finished, not merely been asked to.
        beat?.cancel()
        await beat?.value
        stopping()
        await server.shutdown()
        // The pool is closed after this returns: nothing may still be settling then.
        await settling?.value
        await endpoint?.shutdown()
    }
}
