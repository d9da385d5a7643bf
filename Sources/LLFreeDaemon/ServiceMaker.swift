// Builds the server for an open pool's allocator, seen through the concrete allocator class of
// its persistence type (ServedAllocator), so that the server's calls run code specialised for
// it; with it the metrics endpoint and the systemd heartbeat that need the same server.

import Atomics
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
    /// Punches free huge frames out of the frames file (nil: a device, zeros are written).
    let reclaimer: FramesReclaimer?
    /// Bytes of free huge frames the idle zeroer keeps populated.
    let zeroReserve: UInt64

    /// The service for `allocator`, through its persistence type's concrete allocator class.
    func make(_ allocator: PoolAllocator) throws(DaemonError) -> any Service {
        switch allocator {
        case .pmem(let image):
            let served = PmemAllocator(image.allocator)
            let zeroer = IdleZeroer(image.allocator, gate: served.zeroerGate, reclaimer: reclaimer, reserveBytes: zeroReserve)
            return try make(served, owners: image.owners, settle: image.allocator.settleNext,
                            zero: zeroer.step, census: zeroer.snapshot, publish: { zeroer.published = $0 })
        case .msync(let image):
            let served = MsyncAllocator(image.allocator)
            let zeroer = IdleZeroer(image.allocator, gate: served.zeroerGate, reclaimer: reclaimer, reserveBytes: zeroReserve)
            return try make(served, owners: image.owners, settle: image.allocator.settleNext,
                            zero: zeroer.step, census: zeroer.snapshot, publish: { zeroer.published = $0 })
        }
    }

    private func make<A: FrameAllocator>(_ served: A, owners: (any OwnerStore)?, settle: @escaping @Sendable () -> Bool,
                                         zero: @escaping @Sendable () -> Bool,
                                         census: @escaping @Sendable () -> (populated: Int, reclaimed: Int),
                                         publish: (ManagedAtomic<UInt64>) -> Void) throws(DaemonError) -> any Service {
        do {
            var configuration = self.configuration
            configuration.metrics = metrics?.metrics
            let server = try LLFreeServer(allocator: served, pool: pool, configuration: configuration, logger: logger, owners: owners)
            // Before the zeroer's task starts: the stats reply reads what it counts.
            publish(server.counters.reclaimedHuge)
            // The scrape only reads counters, so it sees the allocator as an existential and the
            // closure does not capture the persistence type.
            let allocator: any FrameAllocator = server.allocator
            let counters = server.counters
            let endpoint = metrics.map { listen, registry, serverMetrics in
                MetricsEndpoint(listen: listen, logger: logger) {
                    serverMetrics.refresh(frames: allocator.geometry.frames, freeFrames: allocator.freeFrames,
                                          freeHugeFrames: allocator.freeHugeFrames, counters: counters)
                    if owners != nil { serverMetrics.refreshHuge(census()) }
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
