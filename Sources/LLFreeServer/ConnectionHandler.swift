// Serves one client connection: admits or refuses the peer by its credentials, answers each
// request in order with the loop's own allocator core, writes replies as they are produced and
// flushes once per read burst (pipelined requests share a syscall), and stops reading while the
// client is not reading its replies, so a client cannot make the daemon buffer without bound.

import Logging
import LLFreeProtocol
import NIOCore

/// The per-connection handler.
final class ConnectionHandler<A: FrameAllocator>: ChannelInboundHandler {
    typealias InboundIn = DecodedRequest
    typealias OutboundOut = ByteBuffer

    let processor: RequestProcessor<A>
    let policy: AccessPolicy
    let logger: Logger
    let state: ServerState
    /// Counts and times requests when the metrics endpoint is on.
    let metrics: ServerMetrics?
    private var admitted = false
    private var closing = false
    /// Set by a graceful shutdown: requests decoded from now on are refused with shuttingDown.
    private var draining = false
    private var peer = PeerCredentials(pid: 0, uid: UInt32.max, gid: UInt32.max)

    init(processor: RequestProcessor<A>, policy: AccessPolicy, state: ServerState, logger: Logger, metrics: ServerMetrics? = nil) {
        self.processor = processor
        self.policy = policy
        self.state = state
        self.logger = logger
        self.metrics = metrics
    }

    func channelActive(context: ChannelHandlerContext) {
        processor.counters.connected.wrappingIncrement(ordering: .relaxed)
        let refusal: String?
        switch PeerCredentials.read(from: context.channel) {
        case .success(let credentials):
            peer = credentials
            refusal = policy.refusal(of: credentials)
        case .failure(let error):
            refusal = "the peer's credentials could not be read (SO_PEERCRED: \(error)); refused"
        }
        if let refusal {
            processor.counters.refused.wrappingIncrement(ordering: .relaxed)
            logger.warning("refused connection", metadata: ["peer": "\(peer)", "why": "\(refusal)"])
            closing = true
            let reply = ReplyMessage(id: 0, .error(op: Wire.framingErrorOp, ReplyError(.accessDenied, refusal)))
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(encode(reply, context: context))).whenComplete { _ in channel.close(promise: nil) }
        } else {
            admitted = true
            processor.counters.accepted.wrappingIncrement(ordering: .relaxed)
            logger.debug("connection", metadata: ["peer": "\(peer)", "core": "\(processor.core)"])
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        processor.counters.connected.wrappingDecrement(ordering: .relaxed)
        // Frames belong to the pool, not to the connection: nothing is freed here.
        logger.debug("disconnected", metadata: ["peer": "\(peer)"])
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard admitted, !closing || draining else { return }
        let reply: ReplyMessage
        var fatal = false
        switch unwrapInboundIn(data) {
        case .request(let message):
            if draining {
                reply = ReplyMessage(id: message.id, .error(op: message.request.operation.rawValue,
                    ReplyError(.shuttingDown, "the daemon is shutting down; the request was not served")))
                fatal = true
            } else if let metrics {
                let clock = ContinuousClock()
                let start = clock.now
                reply = processor.process(message)
                metrics.record(reply.reply, operation: message.request.operation, duration: clock.now - start)
            } else {
                reply = processor.process(message)
            }
        case .invalid(let error):
            reply = processor.refuse(error)
            metrics?.recordRefused(error)
            fatal = error.fatal
            logger.info("refused request", metadata: ["peer": "\(peer)", "why": "\(error)"])
        }
        context.write(wrapOutboundOut(encode(reply, context: context)), promise: nil)
        if fatal {
            closing = true
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in
                channel.close(promise: nil)
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        // Backpressure: read no more requests while replies pile up unread.
        context.channel.setOption(ChannelOptions.autoRead, value: context.channel.isWritable).whenFailure { _ in }
        if context.channel.isWritable { context.read() }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.debug("connection error", metadata: ["peer": "\(peer)", "error": "\(error)"])
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ServerState.Drain {
            // Graceful shutdown: requests already read were answered (they are processed as they
            // are decoded); flush the replies, then close.
            closing = true
            draining = true
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in
                channel.close(promise: nil)
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
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
