// The llfreed server: a SwiftNIO Unix-socket server with one event loop per allocator core.
// Each connection is served on the loop it was accepted onto, with that loop's core index, so
// a core's allocator calls always come from one thread and reservations map to real cores.

import CPUAffinity
import Logging
import LLFreeProtocol
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// Serves an allocator's frames over a Unix socket.
public final class LLFreeServer<A: FrameAllocator>: Sendable {
    public let allocator: A
    public let pool: PoolDescription
    public let configuration: ServerConfiguration
    public let counters: ServerCounters
    /// The pool's owners (nil: a pool without owner tags).
    public let owners: OwnerService?
    public let logger: Logger
    let state: ServerState
    let group: MultiThreadedEventLoopGroup
    /// Core index of each event loop.
    let cores: [ObjectIdentifier: Int]
    /// Caps on open connections, per uid and in total (set from RLIMIT_NOFILE at start).
    let limiter = ConnectionLimiter()
    /// The pool's part of stats, shared by every loop's processor.
    let statsCache = StatsCache()
    private let channel = NIOLockedValueBox<Channel?>(nil)
    /// The socket file bound at ``ServerConfiguration/socketPath``, removed at shutdown only if it
    /// is still this one.
    private let boundSocket = NIOLockedValueBox<SocketFileIdentity?>(nil)

    /// Bytes one read of a connection takes at most: up to 341 header-only requests (ping,
    /// stats), whose answers are what a turn of the loop spends on that connection.
    static var readLimit: Int { 4096 }

    /// Creates a server; nothing listens until ``start()``.
    /// - Throws: ``ServerError/invalidConfiguration(_:)`` if there are more threads than allocator
    ///   cores, or the pool description does not fit the protocol.
    ///   `owners` is the pool's owner table: required exactly when the allocator tags frames.
    public init(allocator: A, pool: PoolDescription, configuration: ServerConfiguration, logger: Logger,
                owners: (any OwnerStore)? = nil) throws(ServerError) {
        guard (owners != nil) == allocator.hasOwners else {
            throw .invalidConfiguration(allocator.hasOwners ? "the allocator tags frames with owners but no owner table was given"
                                                             : "an owner table was given for an allocator without owner tags")
        }
        self.owners = owners.map { OwnerService(store: $0, admins: configuration.access.admins) }
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
        self.state = ServerState(linger: configuration.drainLinger, maxRings: configuration.maxRings)
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
        let limit = FileDescriptorLimit.raise()
        limiter.fit(to: limit)
        let limitMetadata: Logger.Metadata = [
            "RLIMIT_NOFILE": "\(limit)", "max connections": "\(limiter.total)", "max connections per uid": "\(limiter.perUID)",
        ]
        if let failure = limit.failure {
            logger.warning("cannot raise the file-descriptor limit", metadata: limitMetadata.merging(["why": "\(failure)"]) { $1 })
        } else {
            logger.info("file-descriptor limit", metadata: limitMetadata)
        }
        let logger = self.logger
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // accept failing (EMFILE, ENFILE, ENOMEM) would otherwise be retried at once,
                    // forever, spinning the loop; the connection caps make this rare.
                    try channel.pipeline.syncOperations.addHandler(AcceptBackoffHandler(shouldForwardIOErrorCaught: false) { error in
                        logger.warning("accept failed; pausing accept for 250 ms", metadata: ["error": "\(error)"])
                        return .milliseconds(250)
                    })
                }
            }
            // A client that shuts its write side still gets every reply to what it sent; the
            // handler closes once they are flushed.
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            // One read of at most readLimit bytes per connection per turn of the loop: what one
            // client pipelined is answered a read at a time, with the loop's other connections
            // served in between (a task re-queued with execute would not do that: a loop runs
            // queued tasks until none is left before it polls again).
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 1)
            .childChannelOption(ChannelOptions.recvAllocator,
                                value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: Self.readLimit))
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
        try SocketFile.prepare(path, mode: configuration.socketMode)
        // Bound here and handed to NIO as a bound socket: NIO would unlink the path when the
        // listener closes, whatever file is there by then; shutdown removes only this one.
        let (descriptor, identity) = try SocketFile.bindListening(path, mode: configuration.socketMode, backlog: 256)
        if let gid = configuration.socketGroup {
            do {
                try SocketFile.setGroup(path, gid, boundAs: identity)
            } catch {
                try? FileDescriptor(rawValue: descriptor).close()
                SocketFile.remove(path, boundAs: identity)
                throw error
            }
        }
        let bound: Channel
        do {
            // NIO owns the descriptor from here: it is closed with the channel.
            bound = try await bootstrap.withBoundSocket(descriptor).get()
        } catch {
            SocketFile.remove(path, boundAs: identity)
            throw .bind(path: path, reason: "\(error)")
        }
        boundSocket.withLockedValue { $0 = identity }
        channel.withLockedValue { $0 = bound }
        logger.info("serving", metadata: [
            "socket": "\(path)", "mode": "\(String(configuration.socketMode, radix: 8))",
            "group": "\(configuration.socketGroup.map { "\($0)" } ?? "the daemon's")",
            "threads": "\(configuration.threads)", "access": "\(configuration.access)",
        ])
    }

    /// Whether every event loop runs a no-op within `timeout`: the liveness the systemd watchdog
    /// is told about, so a wedged loop (and not only a dead process) gets the daemon restarted.
    /// Returns false at once if the calling task is cancelled (it cannot wait any more).
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
            // A cancelled sleep returns at once: without this check a cancelled caller would spin
            // here until the deadline.
            do { try await Task.sleep(for: .milliseconds(2)) } catch { return false }
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
        try addHandlers(to: channel, core: core, peer: nil)
        state.track(channel)
    }

    /// Adds the handlers of an accepted connection served by core `core` to `channel`, for a peer
    /// whose credentials are given instead of read from a socket: how an in-process benchmark
    /// (`llfree-bench request-path`, on an EmbeddedChannel) runs the server's own request path.
    /// The connection is not tracked for shutdown.
    public func addConnectionHandlers(to channel: Channel, core: Int, peer: PeerCredentials) throws {
        guard core >= 0, core < configuration.threads else { throw ServerError.internalError("core \(core) has no event loop") }
        try addHandlers(to: channel, core: core, peer: peer)
    }

    private func addHandlers(to channel: Channel, core: Int, peer: PeerCredentials?) throws {
        let processor = RequestProcessor(allocator: allocator, core: core, pool: pool, counters: counters, statsCache: statsCache,
                                         owners: owners)
        let handler = ConnectionHandler(processor: processor, policy: configuration.access, state: state, limiter: limiter, logger: logger,
                                        metrics: configuration.metrics, peer: peer)
        try channel.pipeline.syncOperations.addHandler(handler)
    }

    /// Stops gracefully: stops accepting, lets every connection answer what it has read and flush
    /// its replies (closing those that do not finish within `timeout`), removes the socket file
    /// (unless systemd passed the socket: its file is systemd's, which keeps listening and starts
    /// the daemon again on the next connection) and stops the event loops. The allocator is not
    /// touched: closing the pool is the caller's.
    /// - Returns: how many connections were open when shutdown began, and how many of all
    ///   connections had to be closed at the timeout instead of finishing their drain.
    @discardableResult
    public func shutdown(timeout: Duration = .seconds(5)) async -> (drained: Int, closedAtTimeout: Int) {
        state.beginShutdown()
        if let listening = channel.withLockedValue({ c -> Channel? in defer { c = nil }; return c }) {
            try? await listening.close()
            if let identity = boundSocket.withLockedValue({ $0 }), !SocketFile.remove(configuration.socketPath, boundAs: identity) {
                logger.notice("the socket file was not removed: it is no longer the one this daemon bound", metadata: [
                    "socket": "\(configuration.socketPath)", "bound": "\(identity)",
                ])
            }
        }
        let open = state.open
        for connection in open { connection.pipeline.fireUserInboundEventTriggered(ServerState.Drain()) }
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while !state.open.isEmpty && clock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        let late = state.open
        if !late.isEmpty {
            logger.warning("connections did not finish draining in time; closing them", metadata: [
                "connections": "\(late.count)", "timeout": "\(timeout)",
            ])
        }
        for connection in late { try? await connection.close() }
        try? await group.shutdownGracefully()
        // A scan asked for by a connection may still read the allocator, which the caller closes
        // next.
        await statsCache.finishScans()
        logger.info("stopped serving", metadata: ["connections drained": "\(open.count)", "closed at timeout": "\(late.count)"])
        return (open.count, late.count)
    }
}
