// The client library's blocking API, for code that is not async (CLIs, C-style callers, load
// generators pinned to threads). Same connection handling and pipelining as LLFreeClient.

import LLFreeProtocol
import NIOCore

/// A blocking client of llfreed. Must not be used from an event loop thread of its own group.
public final class BlockingLLFreeClient: Sendable {
    /// The async client underneath.
    public let client: LLFreeClient

    public init(socketPath: String) {
        client = LLFreeClient(socketPath: socketPath)
    }

    public init(_ client: LLFreeClient) {
        self.client = client
    }

    /// Connects now (otherwise the first call does).
    public func connect() throws(ClientError) {
        do { _ = try client.channel().wait() } catch { throw error as? ClientError ?? .connect(path: client.socketPath, reason: "\(error)") }
    }

    /// Closes the connection.
    public func close() {
        try? client.closeChannel().wait()
    }

    private func wait(_ future: EventLoopFuture<Reply>) throws(ClientError) -> Reply {
        do { return try future.wait() } catch { throw LLFreeClient.clientError(error) }
    }

    /// See ``LLFreeClient/hello()``.
    public func hello() throws(ClientError) -> PoolInfo {
        try LLFreeClient.hello(wait(client.submit(.hello(minVersion: 1, maxVersion: UInt16(Wire.version)))))
    }

    /// See ``LLFreeClient/get(order:count:kind:)``.
    public func get(order: Int, count: Int, kind: FrameKind = .fixed) throws(ClientError) -> GetResult {
        let futures = try LLFreeClient.getRequests(order: order, count: count, kind: kind).map { client.submit($0) }
        var replies = [Reply]()
        var failure: ClientError? = nil
        for future in futures {
            do { replies.append(try wait(future)) } catch { failure = failure ?? error }
        }
        return try LLFreeClient.joinGets(replies, failure: failure)
    }

    /// See ``LLFreeClient/put(order:frames:)``.
    public func put(order: Int, frames: [UInt64]) throws(ClientError) -> PutResult {
        let requests = try LLFreeClient.putRequests(order: order, frames: frames)
        let futures = requests.map { client.submit($0) }
        var replies = [Result<Reply, ClientError>]()
        for future in futures {
            do { replies.append(.success(try wait(future))) } catch { replies.append(.failure(error)) }
        }
        return try LLFreeClient.joinPuts(replies, requests: requests)
    }

    /// See ``LLFreeClient/isFree(_:order:)``.
    public func isFree(_ frame: UInt64, order: Int = 0) throws(ClientError) -> Bool {
        try LLFreeClient.checkOrder(order)
        return try LLFreeClient.isFree(wait(client.submit(.isFree(order: UInt8(order), frame: frame))))
    }

    /// See ``LLFreeClient/stats()``.
    public func stats() throws(ClientError) -> PoolStats {
        try LLFreeClient.stats(wait(client.submit(.stats)))
    }

    /// See ``LLFreeClient/ping()``.
    public func ping() throws(ClientError) {
        try LLFreeClient.ping(wait(client.submit(.ping)))
    }

    /// Sends any request; returns its reply as it came.
    public func send(_ request: Request) throws(ClientError) -> Reply {
        try wait(client.submit(request))
    }
}
