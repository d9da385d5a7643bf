// llfreed's life: create the pool if asked, open it (recovering it if it was not closed
// cleanly), log what open found, serve it until SIGTERM or SIGINT, then close the pool cleanly;
// telling systemd (when it started us) when it is ready, how it is doing and when it stops.
// The executable only parses its arguments and calls this.

import LLFreeServer
import LLFree
import LLFreePool
import LLFreeProtocol
import Logging
import Prometheus
import ServiceLifecycle
import SystemPackage
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
                let framesPath = options.frames.framesPath(pool: path, split: nil)
                let (header, durability) = try Pool.format(path: path, frames: frames, treeChildren: options.treeChildren,
                                                           framesPath: framesPath, durability: options.durability)
                logger.info("created pool", metadata: [
                    "pool": "\(path)", "frames object": "\(framesPath ?? "none: frames in the pool file")",
                    "frames": "\(header.frames)", "uuid": "\(header.uuidString)",
                    "durability": "\(durability)", "took": "\(ReadableDuration(clock.now - start))",
                ])
            } catch {
                throw .pool(error)
            }
        }
        notify(options, logger) { try $0.status("opening pool \(path) (recovering it if it was not closed cleanly)") }
        let pool: Pool
        do {
            pool = try Pool.open(path: path, framesPathFor: { options.frames.framesPath(pool: path, split: $0.layout.split) },
                                 cores: options.server.threads, durability: options.durability)
        } catch {
            throw .pool(error)
        }
        let report = pool.report
        // Clients open the file by the path hello reports, from their own working directory:
        // a relative path as configured would name another file there.
        let servedPath = absolutePath(pool.framesPath, logger)
        logger.info("opened pool", metadata: [
            "pool": "\(path)", "frames": "\(servedPath)", "uuid": "\(pool.header.uuidString)", "geometry": "\(pool.header.geometry)",
            "durability": "\(pool.durability)",
            "recovery": "\(report.wasDirty ? "ran: the pool was not closed cleanly" : "not needed: the pool was closed cleanly")",
            "found": "\(report.recovery.map { "\($0)" } ?? "nothing to repair")",
            "recovery time": "\(ReadableDuration(report.recoveryScan))", "open time": "\(ReadableDuration(report.total))",
            "free frames": "\(pool.allocator.freeFrames)",
        ])
        if pool.metadataReachable {
            logger.warning("single-file pool: a client that maps its frames can write the allocator's metadata too", metadata: [
                "pool": "\(path)",
                "remedy": "serve only trusted clients, or move the frames to a frames object of their own (format a split pool: llfree-ctl format --frames PATH)",
            ])
        }
        let frameDescriptors = FramesDescriptors(readWrite: pool.framesDescriptor(writable: true)!.rawValue,
                                                 readOnly: pool.framesDescriptor(writable: false)!.rawValue, split: !pool.metadataReachable)
        let description = PoolDescription(path: servedPath, uuid: pool.header.uuid, framesOffset: pool.header.layout.framesOffset,
                                          durability: WireDurability(pool.durability.mode), frames: frameDescriptors,
                                          metadataReachable: pool.metadataReachable)
        var metrics: (listen: MetricsListen, registry: PrometheusCollectorRegistry, metrics: ServerMetrics)? = nil
        if let listen = options.metrics {
            let registry = PrometheusCollectorRegistry()
            var factory = PrometheusMetricsFactory(registry: registry)
            factory.durationHistogramBuckets[ServerMetrics.latencyLabel] = ServerMetrics.latencyBuckets
            let serverMetrics = ServerMetrics(factory: factory)
            serverMetrics.recordOpen(report)
            metrics = (listen, registry, serverMetrics)
        }
        let heartbeat = options.notifier.map { notifier in
            Heartbeat(notifier: notifier, watchdogInterval: options.watchdogInterval) { problem in
                logger.warning("systemd heartbeat", metadata: ["problem": "\(problem)"])
            }
        }
        let frames = pool.header.frames
        let freeFrames = pool.allocator.freeFrames
        let ready: @Sendable () -> Void = {
            notify(options, logger) { try $0.ready(status: "serving \(freeFrames) free frames of \(frames)") }
            ready()
        }
        let stopping: @Sendable () -> Void = {
            notify(options, logger) { try $0.stopping(status: "stopping: answering what is in flight, then closing the pool") }
        }
        let outcome: DaemonError?
        do throws(DaemonError) {
            let service = try ServiceMaker(pool: description, configuration: options.server, metrics: metrics,
                                           heartbeat: heartbeat, logger: logger, ready: ready, stopping: stopping,
                                           zeroCPU: options.zeroCPU, reclaimer: pool.reclaimer,
                                           zeroReserve: options.zeroReserve).make(pool.allocator)
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

    /// `path` absolute and resolved (symlinks, `.` and `..`), as clients are told it. If the
    /// file cannot be resolved (it was renamed since it was opened) the path is made absolute
    /// against the working directory and a warning logged: clients then check the pool's UUID.
    static func absolutePath(_ path: String, _ logger: Logger) -> String {
        if let resolved = realpath(path, nil) {
            defer { free(resolved) }
            return String(cString: resolved)
        }
        let why = Errno(rawValue: errno)
        var absolute = path
        if !path.hasPrefix("/"), let cwd = getcwd(nil, 0) {
            defer { free(cwd) }
            absolute = String(cString: cwd) + "/" + path
        }
        logger.warning("cannot resolve the pool's path; hello reports it unresolved", metadata: [
            "pool": "\(path)", "reported": "\(absolute)", "error": "\(why)",
        ])
        return absolute
    }

    /// Sends a notification to systemd if run under it; a failure is logged, not fatal (the
    /// daemon serves the same whether or not systemd heard).
    static func notify(_ options: DaemonOptions, _ logger: Logger, _ send: (SystemdNotifier) throws -> Void) {
        guard let notifier = options.notifier else { return }
        do {
            try send(notifier)
        } catch {
            logger.warning("cannot notify systemd", metadata: ["error": "\(error)"])
        }
    }
}

extension WireDurability {
    /// The hello reply's durability byte for a pool's durability mode. Exhaustive: every mode a
    /// pool can be opened with has a wire value (`volatile` is for allocators without a pool).
    public init(_ mode: DurabilityMode) {
        switch mode {
        case .pmem: self = .pmem
        case .cpuCache: self = .cpuCache
        case .msync: self = .msync
        }
    }
}
