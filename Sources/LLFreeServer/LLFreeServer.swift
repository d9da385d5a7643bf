// The llfreed server: a SwiftNIO Unix-socket server with one event loop per allocator core.
// Each connection is served on the loop it was accepted onto, with that loop's core index, so
// a core's allocator calls always come from one thread and reservations map to real cores.

import CPUAffinity
import Logging
import LLFreeProtocol
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Serves an allocator's frames over a Unix socket.
public final class LLFreeServer<A: FrameAllocator>: Sendable {
    public let allocator: A
    public let pool: PoolDescription
    public let configuration: ServerConfiguration
    public let counters: ServerCounters
    let logger: Logger
    let state = ServerState()
    let group: MultiThreadedEventLoopGroup
    /// Core index of each event loop.
    let cores: [ObjectIdentifier: Int]
    private let channel = NIOLockedValueBox<Channel?>(nil)

    /// Creates a server; nothing listens until ``start()``.
    /// - Throws: ``ServerError/invalidConfiguration(_:)`` if there are more threads than allocator
    ///   cores, or the pool description does not fit the protocol.
    public init(allocator: A, pool: PoolDescription, configuration: ServerConfiguration, logger: Logger) throws(ServerError) {
        guard configuration.threads >= 1, configuration.threads <= allocator.cores else {
            throw .invalidConfiguration("\(configuration.threads) threads, but the allocator has \(allocator.cores) cores (one per thread is needed)")
        }
        guard pool.uuid.count == 16 else { throw .invalidConfiguration("a pool UUID has 16 bytes, not \(pool.uuid.count)") }
        guard pool.path.utf8.count <= Wire.maxPath else {
            throw .invalidConfiguration("the pool path is longer than \(Wire.maxPath) bytes")
        }
        self.allocator = allocator
        self.pool = pool
        self.configuration = configuration
        self.logger = logger
        self.counters = ServerCounters(cores: allocator.cores)
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.threads)
        var cores = [ObjectIdentifier: Int]()
        let cpus = CPUAffinity.allowedCPUs()
        for (i, loop) in group.makeIterator().enumerated() {
            cores[ObjectIdentifier(loop)] = i
            if configuration.pinLoops {
                let cpu = cpus[i % cpus.count]
                loop.execute {
                    if !CPUAffinity.pin(to: cpu) { logger.warning("cannot pin event loop \(i) to CPU \(cpu); it runs unpinned") }
                }
            }
        }
        self.cores = cores
    }

    /// Binds the socket (or takes over the one systemd passed) and starts serving.
    /// - Throws: ``ServerError``; on failure no socket file of this server remains.
    public func start() async throws(ServerError) {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: false)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try self.initialize(channel)
                }
            }
        if let passed = configuration.passedSocket {
            let bound: Channel
            do {
                bound = try await bootstrap.withBoundSocket(passed.descriptor).get()
            } catch {
                throw .bind(path: passed.path ?? "descriptor \(passed.descriptor)", reason: "cannot serve the socket systemd passed: \(error)")
            }
            channel.withLockedValue { $0 = bound }
            logger.info("serving", metadata: [
                "socket": "\(passed.path ?? "descriptor \(passed.descriptor)")", "activation": "systemd passed descriptor \(passed.descriptor)",
                "threads": "\(configuration.threads)", "access": "\(configuration.access)",
            ])
            return
        }
        let path = configuration.socketPath
        try SocketFile.prepare(path)
        let bound: Channel
        do {
            bound = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: false).get()
        } catch {
            throw .bind(path: path, reason: "\(error)")
        }
        do {
            try SocketFile.setMode(path, configuration.socketMode)
            if let gid = configuration.socketGroup { try SocketFile.setGroup(path, gid) }
        } catch {
            try? await bound.close()
            SocketFile.remove(path)
            throw error
        }
        channel.withLockedValue { $0 = bound }
        logger.info("serving", metadata: [
            "socket": "\(path)", "mode": "\(String(configuration.socketMode, radix: 8))",
            "group": "\(configuration.socketGroup.map { "\($0)" } ?? "the daemon's")",
            "threads": "\(configuration.threads)", "access": "\(configuration.access)",
        ])
    }

    /// Whether every event loop runs a no-op within `timeout`: the liveness the systemd watchdog
    /// is told about, so a wedged loop (and not only a dead process) gets the daemon restarted.
    public func eventLoopsRespond(within timeout: Duration) async -> Bool {
        // Polled from this task rather than awaited on the loops, so a wedged loop cannot block
        // the check itself.
        let loops = Array(group.makeIterator())
        let answered = NIOLockedValueBox(0)
        for loop in loops { loop.execute { answered.withLockedValue { $0 += 1 } } }
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while answered.withLockedValue({ $0 }) < loops.count {
            if clock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return true
    }

    /// One line for `systemctl status`: free frames and clients now.
    public var statusLine: String {
        "serving \(allocator.freeFrames) free frames (\(allocator.freeHugeFrames) free huge frames) of \(allocator.geometry.frames); "
            + "\(counters.connected.load(ordering: .relaxed)) clients connected"
    }

    private func initialize(_ channel: Channel) throws {
        guard let core = cores[ObjectIdentifier(channel.eventLoop)] else {
            throw ServerError.internalError("a connection was accepted onto an event loop of another group")
        }
        let processor = RequestProcessor(allocator: allocator, core: core, pool: pool, counters: counters)
        let handler = ConnectionHandler(processor: processor, policy: configuration.access, state: state, logger: logger,
                                        metrics: configuration.metrics)
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RequestDecoder()))
        try channel.pipeline.syncOperations.addHandler(handler)
        state.track(channel)
    }

    /// Stops gracefully: stops accepting, lets every connection answer what it has read and flush
    /// its replies (closing those that do not finish within `timeout`), removes the socket file
    /// (unless systemd passed the socket: its file is systemd's, which keeps listening and starts
    /// the daemon again on the next connection) and stops the event loops. The allocator is not
    /// touched: closing the pool is the caller's.
    public func shutdown(timeout: Duration = .seconds(5)) async {
        state.beginShutdown()
        if let listening = channel.withLockedValue({ c -> Channel? in defer { c = nil }; return c }) {
            try? await listening.close()
            if configuration.passedSocket == nil { SocketFile.remove(configuration.socketPath) }
        }
        let open = state.open
        for connection in open { connection.pipeline.fireUserInboundEventTriggered(ServerState.Drain()) }
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while !state.open.isEmpty && clock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        for connection in state.open { try? await connection.close() }
        try? await group.shutdownGracefully()
        logger.info("stopped serving", metadata: ["connections drained": "\(open.count)"])
    }
}
