// llfreed's life: create the pool if asked, open it (recovering it if it was not closed
// cleanly), log what open found, serve it until SIGTERM or SIGINT, then close the pool cleanly.
// The executable only parses its arguments and calls this.

import LLFree
import LLFreePool
import LLFreeProtocol
import Logging
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// Runs the daemon.
public enum Daemon {
    /// Creates, opens and serves the pool until a graceful shutdown, then closes it.
    /// - Parameter ready: called once the socket is served.
    /// - Throws: ``DaemonError``. A pool that was opened is closed (clean) whatever happened after.
    public static func run(_ options: DaemonOptions, logger: Logger, ready: @escaping @Sendable () -> Void = {}) async throws(DaemonError) {
        let path = options.poolPath
        if access(path, F_OK) != 0 {
            guard options.create else { throw .poolMissing(path) }
            guard let size = options.size else { throw .sizeMissing(path) }
            let frames = size / UInt64(Geometry.frameSize)
            do {
                let clock = ContinuousClock()
                let start = clock.now
                let (header, durability) = try Pool.format(path: path, frames: frames, treeChildren: options.treeChildren,
                                                           durability: options.durability)
                logger.info("created pool", metadata: [
                    "pool": "\(path)", "frames": "\(header.frames)", "uuid": "\(header.uuidString)",
                    "durability": "\(durability)", "took": "\(clock.now - start)",
                ])
            } catch {
                throw .pool(error)
            }
        }
        let pool: Pool
        do {
            pool = try Pool.open(path: path, cores: options.server.threads, durability: options.durability)
        } catch {
            throw .pool(error)
        }
        let report = pool.report
        logger.info("opened pool", metadata: [
            "pool": "\(path)", "uuid": "\(pool.header.uuidString)", "geometry": "\(pool.header.geometry)",
            "durability": "\(pool.durability)",
            "recovery": "\(report.wasDirty ? "ran: the pool was not closed cleanly" : "not needed: the pool was closed cleanly")",
            "found": "\(report.recovery.map { "\($0)" } ?? "nothing to repair")",
            "recovery time": "\(report.recoveryScan)", "open time": "\(report.total)",
            "free frames": "\(pool.allocator.freeFrames)",
        ])
        let description = PoolDescription(path: path, uuid: pool.header.uuid, framesOffset: pool.header.layout.framesOffset,
                                          durability: wireDurability(pool.durability.mode))
        let outcome: DaemonError?
        do throws(DaemonError) {
            let service = try pool.allocator.visit(ServiceMaker(pool: description, configuration: options.server, logger: logger, ready: ready))
            let group = ServiceGroup(configuration: .init(services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            do {
                try await group.run()
                outcome = nil
            } catch let error as ServerError {
                outcome = .server(error)
            } catch {
                outcome = .failed("\(error)")
            }
        } catch {
            outcome = error
        }
        do {
            try pool.close()
            logger.info("closed pool cleanly", metadata: ["pool": "\(path)"])
        } catch {
            logger.error("closing the pool failed", metadata: ["error": "\(error)"])
            throw outcome ?? .pool(error)
        }
        if let outcome { throw outcome }
    }

    /// The wire's name for a pool durability mode.
    public static func wireDurability(_ mode: LLFreePool.DurabilityMode) -> LLFreeProtocol.DurabilityMode {
        switch mode {
        case .pmem: return .pmem
        case .cpuCache: return .cpuCache
        case .msync: return .msync
        }
    }
}
