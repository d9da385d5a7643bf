// The server as a swift-service-lifecycle service: starts serving, and on SIGTERM/SIGINT (or
// cancellation) shuts down gracefully before returning, so the caller can close the pool.

import ServiceLifecycle

/// Runs an ``LLFreeServer`` until graceful shutdown.
public struct ServerService<A: FrameAllocator>: Service {
    public let server: LLFreeServer<A>
    /// Called once the socket is bound and served (for readiness notification).
    public let ready: @Sendable () -> Void

    public init(server: LLFreeServer<A>, ready: @escaping @Sendable () -> Void = {}) {
        self.server = server
        self.ready = ready
    }

    public func run() async throws {
        try await server.start()
        ready()
        // Returns when shutdown is requested, throws when the task is cancelled; both end serving.
        try? await gracefulShutdown()
        await server.shutdown()
    }
}
