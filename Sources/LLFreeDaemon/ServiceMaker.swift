// Builds the server for an open pool's allocator, seen through the concrete allocator class of
// its persistence type (ServedAllocator), so that the server's calls run code specialised for
// it; with it the metrics endpoint and the systemd heartbeat that need the same server.

import LLFreeServer
import LLFree
import LLFreePool
import Logging
import Prometheus
import ServiceLifecycle

/// Builds the service for the pool's allocator.
struct ServiceMaker {
    let pool: PoolDescription
    let configuration: ServerConfiguration
    /// The registry the metrics are exposed from, when the endpoint is on.
    let metrics: (listen: MetricsListen, registry: PrometheusCollectorRegistry, metrics: ServerMetrics)?
    let heartbeat: Heartbeat?
    let logger: Logger
    let ready: @Sendable () -> Void
    let stopping: @Sendable () -> Void
    /// Percent of one CPU for the idle zeroer (0: off).
    let zeroCPU: Int

    /// The service for `allocator`, through its persistence type's concrete allocator class.
    func make(_ allocator: PoolAllocator) throws(DaemonError) -> any Service {
        switch allocator {
        case .pmem(let image):
            let llfree = image.allocator
            return try make(PmemAllocator(llfree), owners: image.owners, settle: llfree.settleNext,
                            zero: { llfree.zeroNext(core: 0, from: $0) })
        case .msync(let image):
            let llfree = image.allocator
            return try make(MsyncAllocator(llfree), owners: image.owners, settle: llfree.settleNext,
                            zero: { llfree.zeroNext(core: 0, from: $0) })
        }
    }

    private func make<A: FrameAllocator>(_ served: A, owners: (any OwnerStore)?, settle: @escaping @Sendable () -> Bool,
                                         zero: @escaping @Sendable (Int) -> Int?) throws(DaemonError) -> any Service {
        do {
            var configuration = self.configuration
            configuration.metrics = metrics?.metrics
            let server = try LLFreeServer(allocator: served, pool: pool, configuration: configuration, logger: logger, owners: owners)
            // The scrape only reads counters, so it sees the allocator as an existential and the
            // closure does not capture the persistence type.
            let allocator: any FrameAllocator = server.allocator
            let counters = server.counters
            let endpoint = metrics.map { listen, registry, serverMetrics in
                MetricsEndpoint(listen: listen, logger: logger) {
                    serverMetrics.refresh(frames: allocator.geometry.frames, freeFrames: allocator.freeFrames,
                                          freeHugeFrames: allocator.freeHugeFrames, counters: counters)
                    if let owners = server.owners {
                        serverMetrics.refreshOwners(owners.store.owners.map {
                            ($0.name, "\($0.lifetime)", allocator.held(by: $0.id), $0.quota, owners.connections(of: $0.id))
                        })
                    }
                    return registry.emitToBuffer()
                }
            }
            return ServerService(server: server, endpoint: endpoint, heartbeat: heartbeat, ready: ready, stopping: stopping,
                                 settle: owners == nil ? nil : settle,
                                 zero: owners == nil || zeroCPU == 0 ? nil : (zero, zeroCPU))
        } catch {
            throw .server(error)
        }
    }
}
