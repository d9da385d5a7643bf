// Builds the server for an open pool's allocator with its concrete persistence type, so the
// server's hot path is specialised for it rather than dispatched per call.

import LLFree
import LLFreePool
import Logging
import ServiceLifecycle

/// Builds the service for the pool's allocator with its concrete persistence type, so the server
/// is specialised for it.
struct ServiceMaker: PoolAllocatorVisitor {
    let pool: PoolDescription
    let configuration: ServerConfiguration
    let logger: Logger
    let ready: @Sendable () -> Void

    func visit<P: Persistence>(_ image: PoolImage<P>) throws(DaemonError) -> any Service {
        do {
            let server = try LLFreeServer(allocator: image.allocator, pool: pool, configuration: configuration, logger: logger)
            return ServerService(server: server, ready: ready)
        } catch {
            throw .server(error)
        }
    }
}
