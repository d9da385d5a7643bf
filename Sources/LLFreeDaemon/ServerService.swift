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
    /// The idle zeroer's step (one free huge frame zeroed or reclaimed; false when nothing is
    /// left) and the percent of one CPU it may use; nil for a pool without owners or with
    /// `zero.cpu` 0.
    public let zero: (step: @Sendable () -> Bool, percent: Int)?

    public init(server: LLFreeServer<A>, endpoint: MetricsEndpoint? = nil, heartbeat: Heartbeat? = nil,
                ready: @escaping @Sendable () -> Void = {}, stopping: @escaping @Sendable () -> Void = {},
                settle: (@Sendable () -> Bool)? = nil, zero: (step: @Sendable () -> Bool, percent: Int)? = nil) {
        self.settle = settle
        self.zero = zero
        self.server = server
        self.endpoint = endpoint
        self.heartbeat = heartbeat
        self.ready = ready
        self.stopping = stopping
    }

    /// Zeroes free huge frames one at a time while no request is served: after each, it pauses
    /// for as long as the zeroing took times (100 - percent) / percent, so it uses at most
    /// `percent` of one CPU; any request served during a pause makes it wait until a pause
    /// passes without one. When nothing is left to zero it looks again every second.
    static func zeroWhileIdle(_ server: LLFreeServer<A>, _ step: () -> Bool, percent: Int) async {
        let clock = ContinuousClock()
        let idle = Duration.milliseconds(10)
        var pause = idle
        while !Task.isCancelled {
            let before = server.counters.total(.operations)
            try? await Task.sleep(for: pause)
            if Task.isCancelled { return }
            if server.counters.total(.operations) != before {
                pause = idle
                continue
            }
            let start = clock.now
            guard step() else {
                pause = .seconds(1)
                continue
            }
            server.counters.zeroedHuge.wrappingIncrement(ordering: .relaxed)
            pause = max((clock.now - start) * (Double(100 - percent) / Double(percent)), .microseconds(100))
        }
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
        let zeroing = zero.map { zero in
            Task.detached(priority: .background) { () async -> Void in await Self.zeroWhileIdle(server, zero.step, percent: zero.percent) }
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
        // The pool is closed after this returns: nothing may still be settling or zeroing then.
        zeroing?.cancel()
        await zeroing?.value
        await settling?.value
        await endpoint?.shutdown()
    }
}
