// Serves one client connection: admits or refuses the peer by its credentials and the connection
// caps, answers each request in order with the loop's own allocator core, and flushes once per
// read (pipelined requests share a syscall). Fairness and bounds: one read takes at most
// `LLFreeServer.readLimit` bytes, so the requests answered per turn of the loop are bounded and
// the loop's other connections are served in between; a stats whose snapshot must be scanned
// waits for the scan, done off the loop, before the requests after it are answered; and no more
// is read while decoded requests wait or the client is not reading its replies, so a client can
// make the daemon buffer only what one read holds. When the client shuts its write side, or the
// server shuts down, everything already read is answered and flushed before the connection closes.

import Logging
import LLFreeProtocol
import NIOCore

/// The per-connection handler.
final class ConnectionHandler<A: FrameAllocator>: ChannelDuplexHandler {
    typealias InboundIn = DecodedRequest
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let processor: RequestProcessor<A>
    let policy: AccessPolicy
    let logger: Logger
    let state: ServerState
    let limiter: ConnectionLimiter
    /// Counts and times requests when the metrics endpoint is on.
    let metrics: ServerMetrics?
    private var admitted = false
    /// Whether the limiter counts this connection (released when it closes).
    private var counted = false
    /// Set when no more requests will be answered: refused peer or fatal framing error.
    private var stopped = false
    /// Set by a graceful shutdown: what was read is answered, requests decoded from now on are
    /// refused with shuttingDown, and the connection closes once its replies are flushed.
    private var draining = false
    /// Set when the client shut its write side: what was read is answered, then the connection closes.
    private var inputClosed = false
    /// The close after the last reply is under way.
    private var finishing = false
    /// Decoded requests not answered yet, in order.
    private var pending = CircularBuffer<DecodedRequest>()
    /// Set while the stats request at the head of `pending` waits for its scan.
    private var awaitingScan = false
    /// A read the channel asked for while requests waited or replies piled up: issued later.
    private var readHeld = false
    private var peer = PeerCredentials(pid: 0, uid: UInt32.max, gid: UInt32.max)

    init(processor: RequestProcessor<A>, policy: AccessPolicy, state: ServerState, limiter: ConnectionLimiter,
         logger: Logger, metrics: ServerMetrics? = nil) {
        self.processor = processor
        self.policy = policy
        self.state = state
        self.limiter = limiter
        self.logger = logger
        self.metrics = metrics
    }

    func channelActive(context: ChannelHandlerContext) {
        processor.counters.connected.wrappingIncrement(ordering: .relaxed)
        var refusal: String?
        switch PeerCredentials.read(from: context.channel) {
        case .success(let credentials):
            peer = credentials
            refusal = policy.refusal(of: credentials)
            if refusal == nil {
                refusal = limiter.admit(credentials.uid)
                counted = refusal == nil
            }
        case .failure(let error):
            refusal = "the peer's credentials could not be read (SO_PEERCRED: \(error)); refused"
        }
        if let refusal {
            processor.counters.refused.wrappingIncrement(ordering: .relaxed)
            logger.warning("refused connection", metadata: ["peer": "\(peer)", "why": "\(refusal)"])
            stopped = true
            let reply = ReplyMessage(id: 0, .error(op: Wire.framingErrorOp, ReplyError(.accessDenied, refusal)))
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(encode(reply, context: context))).whenComplete { _ in channel.close(promise: nil) }
        } else {
            admitted = true
            processor.counters.accepted.wrappingIncrement(ordering: .relaxed)
            logger.debug("connection", metadata: ["peer": "\(peer)", "core": "\(processor.core)"])
        }
        context.fireChannelActive()
        // A connection accepted while the listener was being closed may have missed the Drain
        // event sent to the connections open then; shutdown sets the flag before it looks, so
        // every connection sees one or the other.
        if admitted && state.isShuttingDown { drain(context: context) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        processor.counters.connected.wrappingDecrement(ordering: .relaxed)
        if counted {
            counted = false
            limiter.release(peer.uid)
        }
        pending.removeAll()
        // Frames belong to the pool, not to the connection: nothing is freed here.
        logger.debug("disconnected", metadata: ["peer": "\(peer)"])
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard admitted, !stopped else { return }
        let decoded = unwrapInboundIn(data)
        if draining {
            // Read after the drain began: refused, not served.
            refuseWhileDraining(decoded, context: context)
            return
        }
        pending.append(decoded)
        serve(context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        // Backpressure: read no more requests while earlier ones wait or replies pile up unread.
        guard !draining, !stopped else { return }
        if pending.isEmpty && !awaitingScan && context.channel.isWritable {
            context.read()
        } else {
            readHeld = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            serve(context: context)
            context.flush()
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.debug("connection error", metadata: ["peer": "\(peer)", "error": "\(error)"])
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ServerState.Drain {
            drain(context: context)
            return
        }
        if event as? ChannelEvent == .some(.inputClosed) {
            // The client shut its write side (the decoder has delivered every complete request
            // it had): answer them all, flush, then close.
            inputClosed = true
            serve(context: context)
            context.flush()
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Graceful shutdown: answers the requests already read, flushes the replies, then closes.
    private func drain(context: ChannelHandlerContext) {
        guard !draining else { return }
        draining = true
        guard admitted, !stopped else { return }
        context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        serve(context: context)
        context.flush()
    }

    /// Answers pending requests until none is left, one waits for a scan, or the client stops
    /// reading; when none is left, lets reading resume or, if the input is closed or the server
    /// drains, closes once the replies are flushed.
    private func serve(context: ChannelHandlerContext) {
        guard !stopped, !finishing else { return }
        // While draining, what was read is answered even if the client is not reading: it was
        // read before the drain, it is at most one read's worth, and shutdown waits only so long.
        while !pending.isEmpty && !stopped && !awaitingScan && (draining || context.channel.isWritable) {
            answer(pending.removeFirst(), context: context)
        }
        // Waiting for a scan or for writability: the scan's completion or
        // channelWritabilityChanged serves the rest.
        guard !stopped, pending.isEmpty, !awaitingScan else { return }
        if draining || inputClosed {
            finishing = true
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in
                channel.close(promise: nil)
            }
        } else if readHeld && context.channel.isWritable {
            readHeld = false
            context.read()
        }
    }

    /// Answers one request, or for a stats whose snapshot must be scanned, has the pool scanned
    /// off the loop; its reply follows the scan.
    private func answer(_ decoded: DecodedRequest, context: ChannelHandlerContext) {
        let reply: ReplyMessage
        var fatal = false
        switch decoded {
        case .request(let message):
            let clock = ContinuousClock()
            let start = metrics == nil ? nil : clock.now
            guard let answered = processor.processWithoutScanning(message) else {
                awaitScan(for: message, context: context)
                return
            }
            reply = answered
            if let metrics, let start {
                metrics.record(reply.reply, operation: message.request.operation, duration: clock.now - start)
            }
        case .invalid(let error):
            reply = processor.refuse(error)
            metrics?.recordRefused(error)
            fatal = error.fatal
            logger.info("refused request", metadata: ["peer": "\(peer)", "why": "\(error)"])
        }
        context.write(wrapOutboundOut(encode(reply, context: context)), promise: nil)
        if fatal { stop(context: context) }
    }

    /// Has the pool scanned for the stats request `message`, then answers it from that snapshot
    /// and carries on with the requests after it. Until then nothing after it is answered, so
    /// replies stay in order.
    private func awaitScan(for message: RequestMessage, context: ChannelHandlerContext) {
        awaitingScan = true
        let clock = ContinuousClock()
        let start = clock.now
        let loop = context.eventLoop
        let resume = NIOLoopBound((self, context), eventLoop: loop)
        processor.scanInBackground { snapshot in
            loop.execute {
                let (handler, context) = resume.value
                handler.scanned(message, snapshot, since: start, context: context)
            }
        }
    }

    /// Answers the stats request `message` from `snapshot` and serves what waited behind it.
    private func scanned(_ message: RequestMessage, _ snapshot: StatsCache.Snapshot, since start: ContinuousClock.Instant,
                         context: ChannelHandlerContext) {
        awaitingScan = false
        // The connection may have closed while the scan ran: nothing is left to answer then.
        guard context.channel.isActive, !stopped else { return }
        let reply = processor.statsReply(to: message, using: snapshot)
        metrics?.record(reply.reply, operation: message.request.operation, duration: ContinuousClock().now - start)
        context.write(wrapOutboundOut(encode(reply, context: context)), promise: nil)
        serve(context: context)
        context.flush()
    }

    /// The reply to a request decoded after the drain began, which is not served.
    private func refuseWhileDraining(_ decoded: DecodedRequest, context: ChannelHandlerContext) {
        switch decoded {
        case .request(let message):
            let reply = ReplyMessage(id: message.id, .error(op: message.request.operation.rawValue,
                ReplyError(.shuttingDown, "the daemon is shutting down; the request was not served")))
            context.write(wrapOutboundOut(encode(reply, context: context)), promise: nil)
        case .invalid(let error):
            context.write(wrapOutboundOut(encode(processor.refuse(error), context: context)), promise: nil)
        }
        stop(context: context)
    }

    /// Answers nothing more: flushes what was written, then closes.
    private func stop(context: ChannelHandlerContext) {
        stopped = true
        pending.removeAll()
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    private func encode(_ reply: ReplyMessage, context: ChannelHandlerContext) -> ByteBuffer {
        let size = WireCodec.encodedSize(reply)
        var buffer = context.channel.allocator.buffer(capacity: size)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { raw in
            WireCodec.encode(reply, into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<size]))
        }
        return buffer
    }
}
