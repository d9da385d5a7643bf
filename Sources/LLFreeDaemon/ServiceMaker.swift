// Builds the server for an open pool's allocator with its concrete persistence type, so the
// server's hot path is specialised for it rather than dispatched per call; with it the metrics
// endpoint and the systemd heartbeat that need the same server.

import LLFreeServer
import LLFree
import LLFreePool
import Logging
import Prometheus
import ServiceLifecycle

/// Builds the service for the pool's allocator with its concrete persistence type, so the server
/// is specialised for it.
struct ServiceMaker: PoolAllocatorVisitor {
    let pool: PoolDescription
    let configuration: ServerConfiguration
    /// The registry the metrics are exposed from, when the endpoint is on.
    let metrics: (listen: MetricsListen, registry: PrometheusCollectorRegistry, metrics: ServerMetrics)?
    let heartbeat: Heartbeat?
    let logger: Logger
    let ready: @Sendable () -> Void
    let stopping: @Sendable () -> Void

    func visit<P: Persistence>(_ image: PoolImage<P>) throws(DaemonError) -> any Service {
        do {
            var configuration = self.configuration
            configuration.metrics = metrics?.metrics
            let server = try LLFreeServer(allocator: image.allocator, pool: pool, configuration: configuration, logger: logger)
            // The scrape only reads counters, so it sees the allocator as an existential and the
            // closure does not capture the persistence type.
            let allocator: any FrameAllocator = server.allocator
            let counters = server.counters
            let endpoint = metrics.map { listen, registry, serverMetrics in
                MetricsEndpoint(listen: listen, logger: logger) {
                    serverMetrics.refresh(frames: allocator.geometry.frames, freeFrames: allocator.freeFrames,
                                          freeHugeFrames: allocator.freeHugeFrames, counters: counters)
                    return registry.emitToBuffer()
                }
            }
            return ServerService(server: server, endpoint: endpoint, heartbeat: heartbeat, ready: ready, stopping: stopping)
        } catch {
            throw .server(error)
        }
    }
}
