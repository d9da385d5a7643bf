// The optional metrics endpoint: a minimal HTTP/1.1 server (SwiftNIO, NIOHTTP1) on its own
// event loop, on loopback TCP or a Unix socket, answering GET /metrics with the Prometheus text
// exposition. It never runs on the allocator's event loops, so a scrape costs the fast path nothing.

import LLFreeServer
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// Serves the Prometheus exposition over HTTP.
public final class MetricsEndpoint: Sendable {
    /// Where it listens.
    public let listen: MetricsListen
    let exposition: @Sendable () -> [UInt8]
    let logger: Logger
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let channel = NIOLockedValueBox<Channel?>(nil)
    /// The Unix socket file this endpoint bound, removed at shutdown only if it is still this one.
    private let boundSocket = NIOLockedValueBox<SocketFileIdentity?>(nil)

    /// An endpoint answering each scrape with `exposition()` (the text exposition, refreshed).
    public init(listen: MetricsListen, logger: Logger, exposition: @escaping @Sendable () -> [UInt8]) {
        self.listen = listen
        self.logger = logger
        self.exposition = exposition
    }

    /// Binds and starts serving.
    /// - Throws: ``ServerError/bind(path:reason:)``; on failure nothing listens and no socket file
    ///   of this endpoint remains.
    public func start() async throws(ServerError) {
        let exposition = self.exposition
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 16)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(exposition: exposition))
                }
            }
        let bound: Channel
        do {
            switch listen {
            case .tcp(let host, let port):
                bound = try await bootstrap.bind(host: host, port: port).get()
            case .unix(let path):
                // Bound like the daemon's own socket: mode 0600 from the umask at bind, and
                // identified, so shutdown never removes a file someone else bound there since.
                try SocketFile.prepare(path)
                let (descriptor, identity) = try SocketFile.bindListening(path, mode: 0o600, backlog: 16)
                do {
                    bound = try await bootstrap.withBoundSocket(descriptor).get()
                } catch {
                    SocketFile.remove(path, boundAs: identity)
                    throw error
                }
                boundSocket.withLockedValue { $0 = identity }
            }
        } catch let error as ServerError {
            try? await group.shutdownGracefully()
            throw error
        } catch {
            try? await group.shutdownGracefully()
            throw .bind(path: "metrics \(listen)", reason: "\(error)")
        }
        channel.withLockedValue { $0 = bound }
        logger.info("metrics endpoint listening", metadata: ["metrics": "\(listen)", "address": "\(bound.localAddress.map { "\($0)" } ?? "?")"])
    }

    /// The TCP port bound (useful with port 0), nil for a Unix socket or before ``start()``.
    public var port: Int? {
        channel.withLockedValue { $0?.localAddress?.port }
    }

    /// Stops listening, closes scrapes in progress and removes the Unix socket file it bound, if
    /// that file is still at the path.
    public func shutdown() async {
        if let listening = channel.withLockedValue({ c -> Channel? in defer { c = nil }; return c }) {
            try? await listening.close()
            if case .unix(let path) = listen, let identity = boundSocket.withLockedValue({ $0 }),
               !SocketFile.remove(path, boundAs: identity) {
                logger.notice("the metrics socket file was not removed: it is no longer the one this endpoint bound",
                              metadata: ["socket": "\(path)"])
            }
        }
        try? await group.shutdownGracefully()
    }
}
