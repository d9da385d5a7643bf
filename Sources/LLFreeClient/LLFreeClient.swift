// The client library's async API: one connection to llfreed, requests pipelined on it (any
// number of concurrent calls share the connection, each reply found by its id), batches larger
// than the protocol's maximum split into pipelined requests, and a lost connection re-made by
// the next call.

import Foundation
import LLFreeProtocol
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// A connection to llfreed. Thread-safe; calls may run concurrently and are pipelined.
///
/// Reconnect: when the daemon closes the connection (it restarted, say), calls in flight fail
/// with ``ClientError/connectionLost(_:)`` and are not retried (a get may have been served);
/// the next call connects again.
public final class LLFreeClient: Sendable {
    /// The daemon's socket.
    public let socketPath: String
    let group: EventLoopGroup
    private let state = NIOLockedValueBox(State())
    private let nextID = NIOLockedValueBox<UInt64>(1)
    /// The owner every new connection attaches to, and what its last attach reported.
    private let owner: NIOLockedValueBox<(attachment: OwnerAttachment?, info: OwnerInfo?)>

    struct State {
        /// The last connected channel (reused while active).
        var channel: Channel? = nil
        /// A connection being made, which concurrent calls share.
        var connecting: EventLoopFuture<Channel>? = nil
        var closed = false
    }

    /// The daemon's default socket for this user (see ``Wire/defaultSocketPath(uid:runtimeDirectory:)``).
    public static var defaultSocketPath: String {
        Wire.defaultSocketPath(uid: UInt32(getuid()), runtimeDirectory: getenv("XDG_RUNTIME_DIR").flatMap { String(validatingCString: $0) })
    }

    /// A client of the daemon at `socketPath`; connects at the first call (or ``connect()``).
    /// With `owner`, every connection it makes negotiates protocol version 2 and attaches to
    /// that owner before any call's request is sent on it (a reconnect acts for the same
    /// owner); a refused attach fails the calls waiting for the connection, with nothing of
    /// them sent.
    public init(socketPath: String, owner: OwnerAttachment? = nil, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.socketPath = socketPath
        self.group = group
        self.owner = NIOLockedValueBox((owner, nil))
    }

    /// The owner the connection acts for, as its attach reported it (nil before the first
    /// connection, or without an owner).
    public var attached: OwnerInfo? { owner.withLockedValue { $0.info } }

    // MARK: Owners (protocol version 2)

    /// Attaches to `attachment` now (on the current connection, or a new one) and on every later
    /// connection. Returns the owner.
    @discardableResult
    public func attach(_ attachment: OwnerAttachment) async throws(ClientError) -> OwnerInfo {
        try attachment.validate()
        let hadConnection = state.withLockedValue { $0.channel?.isActive ?? false }
        owner.withLockedValue { $0.attachment = attachment }
        if !hadConnection {
            try await connect()
            return owner.withLockedValue { $0.info }!
        }
        _ = try await send(.hello(minVersion: Wire.minVersion, maxVersion: Wire.version))
        let info = try Self.ownerInfo(await send(attachment.request), "an attach")
        owner.withLockedValue { $0.info = info }
        return info
    }

    /// One page of the runs `owner` holds (empty: the attached owner) from frame `from` on.
    public func list(owner: String = "", from: UInt64 = 0, limit: Int = Wire.maxBatch) async throws(ClientError) -> ListResult {
        try Self.checkName(owner)
        try Self.checkLimit(limit)
        return try Self.list(await send(.list(owner: owner, from: from, limit: UInt32(limit))))
    }

    /// Every run `owner` holds (empty: the attached owner), page by page.
    public func runs(owner: String = "") async throws(ClientError) -> [WireRun] {
        var all: [WireRun] = []
        var from: UInt64? = 0
        while let start = from {
            let page = try await list(owner: owner, from: start)
            all += page.runs
            from = page.next
        }
        return all
    }

    /// See ``BlockingLLFreeClient/reconcile(known:)``.
    public func reconcile(known: [WireRun]) async throws(ClientError) -> Reconciliation {
        Reconciliation(known: known, listed: try await runs())
    }

    /// Frees everything `owner` holds (empty: the attached owner).
    public func release(owner: String = "") async throws(ClientError) -> ReleaseResult {
        try Self.checkName(owner)
        return try Self.release(await send(.release(owner: owner)))
    }

    /// The attached owner's root value.
    public func root() async throws(ClientError) -> RootValue {
        try Self.root(await send(.rootGet))
    }

    /// Compare-and-set of the attached owner's root value, durable before it returns.
    public func compareAndSetRoot(expected: RootValue, new: RootValue) async throws(ClientError) -> RootSwap {
        try Self.rootSwap(await send(.rootSet(expected: expected, new: new)))
    }

    /// What the daemon knows of `owner` (empty: the attached owner).
    public func ownerInfo(_ owner: String = "") async throws(ClientError) -> OwnerInfo {
        try Self.checkName(owner)
        return try Self.ownerInfo(await send(.ownerInfo(owner: owner)), "an owner-info")
    }

    /// Every owner of the pool, page by page.
    public func owners() async throws(ClientError) -> [OwnerInfo] {
        var all: [OwnerInfo] = []
        var from: UInt16? = 1
        while let start = from {
            let page = try Self.owners(await send(.owners(from: start, limit: UInt16(Wire.maxOwnerPage))))
            all += page.owners
            from = page.next
        }
        return all
    }

    /// Removes `owner`, which must hold nothing and have no connection.
    public func removeOwner(_ owner: String) async throws(ClientError) {
        try Self.checkName(owner, allowEmpty: false)
        try Self.removed(await send(.removeOwner(owner: owner)))
    }

    /// Sets `owner`'s quota in frames (nil: none; empty: the attached owner). Needs an
    /// administrator.
    @discardableResult
    public func setQuota(_ owner: String = "", quota: UInt64?) async throws(ClientError) -> OwnerInfo {
        try Self.checkName(owner)
        return try Self.ownerInfo(await send(.setQuota(owner: owner, quota: quota ?? 0)), "a set-quota")
    }

    /// Connects now (otherwise the first call does).
    public func connect() async throws(ClientError) {
        do {
            _ = try await channel().get()
        } catch {
            throw error as? ClientError ?? .connect(path: socketPath, reason: "\(error)")
        }
    }

    /// Closes the connection. Calls in flight fail; later calls fail with ``ClientError/closed``.
    public func close() async {
        try? await closeChannel().get()
    }

    /// Closes the connection without needing a Swift concurrency thread (the blocking client
    /// waits on this from any thread). A connection still being made is closed as soon as it
    /// is made; the future completes after that.
    func closeChannel() -> EventLoopFuture<Void> {
        let (channel, connecting) = state.withLockedValue { s -> (Channel?, EventLoopFuture<Channel>?) in
            s.closed = true
            defer { s.channel = nil }
            return (s.channel, s.connecting)
        }
        let loop = channel?.eventLoop ?? connecting?.eventLoop ?? group.any()
        var closing = [EventLoopFuture<Void>]()
        if let channel { closing.append(channel.close().recover { _ in }) }
        // Fails with .closed once the connect completed and its channel was closed (channel()).
        if let connecting { closing.append(connecting.map { _ in }.recover { _ in }) }
        return EventLoopFuture.andAllComplete(closing, on: loop)
    }

    // MARK: Operations

    /// Negotiates the version and describes the pool.
    public func hello() async throws(ClientError) -> PoolInfo {
        try Self.hello(await send(.hello(minVersion: Wire.minVersion, maxVersion: Wire.version)))
    }

    /// Allocates `count` runs of 2^`order` frames, in requests of at most ``Wire/maxBatch``
    /// pipelined together. Returns what was obtained; if the pool ran out, the frames obtained
    /// so far (they are the caller's) and the reason.
    public func get(order: Int, count: Int, kind: WireKind = .fixed) async throws(ClientError) -> GetResult {
        let requests = try Self.getRequests(order: order, count: count, kind: kind)
        var futures = [EventLoopFuture<Reply>]()
        for request in requests { futures.append(submit(request)) }
        var replies = [Reply]()
        var failure: ClientError? = nil
        for future in futures {
            do { replies.append(try await future.get()) } catch { failure = failure ?? Self.clientError(error) }
        }
        // Frames from replies that did arrive are the caller's even if another part failed;
        // an error then would lose them, so a partial result is returned with the reason.
        return try Self.joinGets(replies, failure: failure)
    }

    /// Frees each run of 2^`order` frames in `frames` (pipelined batches of at most
    /// ``Wire/maxBatch``); one result per run, in order.
    /// - Throws: ``ClientError/refused(_:)`` or ``ClientError/connectionLost(_:)`` when no
    ///   request of the put was answered; ``ClientError/partialPut(runs:reason:)`` when some
    ///   requests were answered (their runs may have been freed) and others failed.
    public func put(order: Int, frames: [UInt64]) async throws(ClientError) -> PutResult {
        let requests = try Self.putRequests(order: order, frames: frames)
        var futures = [EventLoopFuture<Reply>]()
        for request in requests { futures.append(submit(request)) }
        var replies = [Result<Reply, ClientError>]()
        for future in futures {
            do { replies.append(.success(try await future.get())) } catch { replies.append(.failure(Self.clientError(error))) }
        }
        return try Self.joinPuts(replies, requests: requests)
    }

    /// Whether the run of 2^`order` frames at `frame` is free.
    public func isFree(_ frame: UInt64, order: Int = 0) async throws(ClientError) -> Bool {
        guard order >= 0, order <= Wire.maxOrder else { throw .invalidArgument("order \(order) is outside 0...\(Wire.maxOrder)") }
        return try Self.isFree(await send(.isFree(order: UInt8(order), frame: frame)))
    }

    /// The pool's and the daemon's numbers.
    public func stats() async throws(ClientError) -> PoolStats {
        try Self.stats(await send(.stats))
    }

    /// Asks for the frames descriptor (see ``BlockingLLFreeClient/frames()``) on a short
    /// connection of its own, attached to the same owner: the event loop's channel cannot
    /// receive a descriptor. Blocks a thread of its own, not the caller's executor.
    public func frames() async throws(ClientError) -> ReceivedFrames {
        let (path, attachment) = (socketPath, owner.withLockedValue { $0.attachment })
        let result: Result<ReceivedFrames, ClientError> = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let side = BlockingLLFreeClient(socketPath: path, owner: attachment)
                defer { side.close() }
                continuation.resume(returning: Result { () throws(ClientError) in try side.frames() })
            }
        }
        return try result.get()
    }

    /// An empty round trip.
    public func ping() async throws(ClientError) {
        try Self.ping(await send(.ping))
    }

    /// Sends any request and returns its reply as it came (error replies included).
    public func send(_ request: Request) async throws(ClientError) -> Reply {
        do {
            return try await submit(request).get()
        } catch {
            throw Self.clientError(error)
        }
    }

    // MARK: Plumbing shared with the blocking client

    /// Sends `request` on the connection (connecting if needed); the future holds its reply.
    func submit(_ request: Request) -> EventLoopFuture<Reply> {
        let id = nextID.withLockedValue { id -> UInt64 in defer { id &+= 1 }; return id }
        let message = RequestMessage(id: id, request)
        return channel().flatMap { channel in Self.write(message, on: channel) }
    }

    static func write(_ message: RequestMessage, on channel: Channel) -> EventLoopFuture<Reply> {
        let promise = channel.eventLoop.makePromise(of: Reply.self)
        channel.writeAndFlush(PendingRequest(message: message, promise: promise)).whenFailure { error in
            promise.fail(error as? ClientError ?? ClientError.connectionLost("\(error)"))
        }
        return promise.futureResult
    }

    /// On a new connection with an owner to attach to: hello and attach, answered before the
    /// channel is handed to any call.
    private func handshake(_ channel: Channel) -> EventLoopFuture<Void> {
        guard let attachment = owner.withLockedValue({ $0.attachment }) else { return channel.eventLoop.makeSucceededVoidFuture() }
        let first = nextID.withLockedValue { id -> UInt64 in defer { id &+= 2 }; return id }
        let hello = Self.write(RequestMessage(id: first, .hello(minVersion: Wire.minVersion, maxVersion: Wire.version)), on: channel)
        let attach = Self.write(RequestMessage(id: first &+ 1, attachment.request), on: channel)
        return hello.and(attach).flatMapThrowing { [owner] hello, attach in
            let info = try Self.hello(hello)
            guard info.version >= 2 else { throw ClientError.protocolViolation("llfreed negotiated protocol version \(info.version); owners need version 2") }
            let attached = try Self.ownerInfo(attach, "an attach")
            owner.withLockedValue { $0.info = attached }
        }
    }

    /// The connected channel, connecting if there is none or the last one closed.
    func channel() -> EventLoopFuture<Channel> {
        let path = socketPath
        let group = self.group
        let decision = state.withLockedValue { s -> (existing: EventLoopFuture<Channel>?, created: EventLoopPromise<Channel>?) in
            if s.closed { return (group.any().makeFailedFuture(ClientError.closed), nil) }
            if let channel = s.channel, channel.isActive { return (channel.eventLoop.makeSucceededFuture(channel), nil) }
            if let connecting = s.connecting { return (connecting, nil) }
            let promise = group.any().makePromise(of: Channel.self)
            s.connecting = promise.futureResult
            return (nil, promise)
        }
        if let existing = decision.existing { return existing }
        let promise = decision.created!
        // Completed outside the lock: a connect that fails at once completes synchronously.
        ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(ReplyDecoder()))
                    try channel.pipeline.syncOperations.addHandler(ClientHandler())
                }
            }
            .connect(unixDomainSocketPath: path)
            .whenComplete { [state] result in
                // The connection is handed out only after its handshake (hello and attach), so
                // no call's request goes out before the attach; calls meanwhile wait on
                // `connecting`.
                let handshaken: EventLoopFuture<Channel>
                switch result {
                case .success(let channel): handshaken = self.handshake(channel).map { channel }
                case .failure(let error): handshaken = group.any().makeFailedFuture(ClientError.connect(path: path, reason: "\(error)"))
                }
                handshaken.whenComplete { outcome in
                    // close() may have run meanwhile: then the new channel is nobody's and must
                    // not be kept (it would hold a connection open until the process exits).
                    let closedMeanwhile = state.withLockedValue { s -> Bool in
                        s.connecting = nil
                        if s.closed { return true }
                        if case .success(let channel) = outcome { s.channel = channel }
                        return false
                    }
                    switch outcome {
                    case .success(let channel) where closedMeanwhile:
                        channel.close().whenComplete { _ in promise.fail(ClientError.closed) }
                    case .success(let channel):
                        promise.succeed(channel)
                    case .failure where closedMeanwhile:
                        if case .success(let channel) = result { channel.close(promise: nil) }
                        promise.fail(ClientError.closed)
                    case .failure(let error):
                        if case .success(let channel) = result { channel.close(promise: nil) }
                        promise.fail(error as? ClientError ?? ClientError.connect(path: path, reason: "\(error)"))
                    }
                }
            }
        return promise.futureResult
    }

    static func clientError(_ error: Error) -> ClientError {
        error as? ClientError ?? .connectionLost("\(error)")
    }

    // MARK: Requests and replies

    static func checkOrder(_ order: Int) throws(ClientError) {
        guard order >= 0, order <= Wire.maxOrder else { throw .invalidArgument("order \(order) is outside 0...\(Wire.maxOrder)") }
    }

    static func getRequests(order: Int, count: Int, kind: WireKind) throws(ClientError) -> [Request] {
        try checkOrder(order)
        guard count >= 1 else { throw .invalidArgument("count \(count) is not positive") }
        return stride(from: 0, to: count, by: Wire.maxBatch).map {
            .get(order: UInt8(order), count: UInt32(min(Wire.maxBatch, count - $0)), kind: kind)
        }
    }

    static func putRequests(order: Int, frames: [UInt64]) throws(ClientError) -> [Request] {
        try checkOrder(order)
        guard !frames.isEmpty else { throw .invalidArgument("no frames to put") }
        return stride(from: 0, to: frames.count, by: Wire.maxBatch).map {
            .put(order: UInt8(order), frames: Array(frames[$0..<min($0 + Wire.maxBatch, frames.count)]))
        }
    }

    /// The gets of one call from their outcomes (a blocking exchange's): the replies that came,
    /// and the first failure.
    static func joinGets(_ outcomes: [Result<Reply, ClientError>]) throws(ClientError) -> GetResult {
        var replies = [Reply]()
        var failure: ClientError? = nil
        for outcome in outcomes {
            switch outcome {
            case .success(let reply): replies.append(reply)
            case .failure(let error): failure = failure ?? error
            }
        }
        return try joinGets(replies, failure: failure)
    }

    static func joinGets(_ replies: [Reply], failure: ClientError?) throws(ClientError) -> GetResult {
        var result = GetResult(frames: [])
        var firstError: ClientError? = nil
        for reply in replies {
            switch reply {
            case .get(let part):
                result.frames += part.frames
                if result.shortfall == nil { result.shortfall = part.shortfall }
            case .error(_, let error):
                firstError = firstError ?? .refused(error)
            default:
                firstError = firstError ?? .protocolViolation("a get was answered with \(reply)")
            }
        }
        if result.frames.isEmpty, let error = firstError ?? failure { throw error }
        if result.shortfall == nil && (firstError != nil || failure != nil) { result.shortfall = .internalError }
        return result
    }

    /// One put result from the replies to `requests` (a put split into batches). Every reply is
    /// waited for first: a batch that failed must not hide that other batches were freed.
    static func joinPuts(_ replies: [Result<Reply, ClientError>], requests: [Request]) throws(ClientError) -> PutResult {
        var runs = [PutRunOutcome]()
        var failures = [ClientError]()
        var answered = false
        for (reply, request) in zip(replies, requests) {
            guard case .put(_, let frames) = request else { continue }
            switch reply {
            case .success(.put(let part)) where part.results.count == frames.count:
                answered = true
                runs += part.results.map { $0.map(PutRunOutcome.notFreed) ?? .freed }
            case .success(.put(let part)):
                // Which runs the results belong to is unknown.
                failures.append(.protocolViolation("a put of \(frames.count) runs was answered with \(part.results.count) results"))
                runs += Array(repeating: .unknown, count: frames.count)
            case .success(.error(_, let error)):
                failures.append(.refused(error))
                runs += Array(repeating: .notFreed(error.code), count: frames.count)
            case .success(let other):
                failures.append(.protocolViolation("a put was answered with \(other)"))
                runs += Array(repeating: .unknown, count: frames.count)
            case .failure(let error):
                failures.append(error)
                runs += Array(repeating: .unknown, count: frames.count)
            }
        }
        guard let first = failures.first else {
            return PutResult(results: runs.map { if case .notFreed(let code) = $0 { code } else { nil } })
        }
        if !answered { throw first }
        throw .partialPut(runs: runs, reason: failures.map { "\($0)" }.joined(separator: "; "))
    }

    static func hello(_ reply: Reply) throws(ClientError) -> PoolInfo {
        switch reply {
        case .hello(let info): return info
        case .error(_, let error): throw .refused(error)
        default: throw .protocolViolation("a hello was answered with \(reply)")
        }
    }

    static func isFree(_ reply: Reply) throws(ClientError) -> Bool {
        switch reply {
        case .isFree(let free): return free
        case .error(_, let error): throw .refused(error)
        default: throw .protocolViolation("an is-free was answered with \(reply)")
        }
    }

    static func stats(_ reply: Reply) throws(ClientError) -> PoolStats {
        switch reply {
        case .stats(let stats): return stats
        case .error(_, let error): throw .refused(error)
        default: throw .protocolViolation("a stats was answered with \(reply)")
        }
    }

    static func ping(_ reply: Reply) throws(ClientError) {
        switch reply {
        case .ping: return
        case .error(_, let error): throw .refused(error)
        default: throw .protocolViolation("a ping was answered with \(reply)")
        }
    }
}
