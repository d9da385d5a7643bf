// Serves one client connection: admits or refuses the peer by its credentials and the connection
// caps, answers each request in order with the loop's own allocator core, and flushes once per
// read (pipelined requests share a syscall). Fairness and bounds: one read takes at most
// `LLFreeServer.readLimit` bytes, so the requests answered per turn of the loop are bounded and
// the loop's other connections are served in between; a stats whose snapshot must be scanned
// waits for the scan, done off the loop, before the requests after it are answered; and no more
// is read while decoded requests wait or the client is not reading its replies, so a client can
// make the daemon buffer only what one read holds. When the client shuts its write side,
// everything already read is answered and flushed before the connection closes; when the server
// shuts down, what was read is answered, later requests get shuttingDown, and the connection
// closes once the client is quiet. The rules are ConnectionStateMachine's; this type does the I/O.
//
// The handler splits the byte stream into requests itself (no decoder handler before it, so no
// request value crosses the pipeline). While nothing waits in the queue and the client reads its
// replies, a ping, get or put is answered on the spot from its bytes into the connection's reply
// buffer (RequestProcessor.answerFast), which is written and flushed once per read: no
// allocation and no Request or Reply value on that path. Every other request, and every one read
// while others wait, is decoded and queued as before; the reply buffer is written out before any
// other reply, so replies stay in request order.

import CLinuxShims
import LLFreeRing
import Logging
import LLFreeProtocol
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// The per-connection handler.
final class ConnectionHandler<A: FrameAllocator>: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let processor: RequestProcessor<A>
    let policy: AccessPolicy
    let logger: Logger
    let state: ServerState
    let limiter: ConnectionLimiter
    /// Counts and times requests when the metrics endpoint is on.
    let metrics: ServerMetrics?
    /// Whether the limiter counts this connection (released when it closes).
    private var counted = false
    private var machine: ConnectionStateMachine
    private var peer: PeerCredentials { session.peer }
    /// The peer, its protocol version and the owner it acts for.
    private var session = ClientSession(peer: PeerCredentials(pid: 0, uid: UInt32.max, gid: UInt32.max))
    /// The linger timer of a draining connection.
    private var lingerTimer: Scheduled<Void>?
    /// The peer's credentials when they are not read from the socket (an in-process benchmark).
    private let givenPeer: PeerCredentials?
    /// Bytes read that do not make a whole message yet.
    private var input: ByteBuffer?
    /// Set after a fatal framing error: everything read after it is dropped.
    private var broken = false
    /// Replies of the fast path not yet written to the channel (written once per read, and before
    /// any other reply). Empty but for a turn of the loop; reused, so the fast path allocates nothing.
    private var out = ByteBuffer()
    /// The connection's shared-memory ring, once asked for (stopped when the connection closes
    /// or acts for another owner).
    private var ring: RingServer<A>?
    /// Frame numbers of the put being answered.
    private var scratch = FrameScratch()
    /// Replies written to `out` past which they are handed to the channel at once, so that its
    /// writability (the client reading its replies) is judged as when each reply is written.
    static var outLimit: Int { 64 * 1024 }

    init(processor: RequestProcessor<A>, policy: AccessPolicy, state: ServerState, limiter: ConnectionLimiter,
         logger: Logger, metrics: ServerMetrics? = nil, peer: PeerCredentials? = nil) {
        self.givenPeer = peer
        self.processor = processor
        self.policy = policy
        self.state = state
        self.limiter = limiter
        self.logger = logger
        self.metrics = metrics
        self.machine = ConnectionStateMachine(linger: state.linger)
    }

    func channelActive(context: ChannelHandlerContext) {
        processor.counters.connected.wrappingIncrement(ordering: .relaxed)
        var refusal: String?
        switch givenPeer.map({ .success($0) }) ?? PeerCredentials.read(from: context.channel) {
        case .success(let credentials):
            session.peer = credentials
            refusal = policy.refusal(of: credentials)
            if refusal == nil {
                refusal = limiter.admit(credentials.uid)
                counted = refusal == nil
            }
        case .failure(let error):
            refusal = "the peer's credentials could not be read (\(error)); refused"
        }
        // A connection accepted while the listener was being closed may have missed the Drain
        // event sent to the connections open then; shutdown sets the flag before it looks, so
        // every connection sees one or the other.
        switch machine.activated(refusal: refusal, shuttingDown: state.isShuttingDown) {
        case .refuse(let refusal):
            processor.counters.refused.wrappingIncrement(ordering: .relaxed)
            logger.warning("refused connection", metadata: ["peer": "\(peer)", "why": "\(refusal)"])
            let reply = ReplyMessage(id: 0, .error(op: Wire.framingErrorOp, ReplyError(.accessDenied, refusal)))
            write(encode(reply, context: context), context: context)
            closeAfterFlush(context: context)
            context.fireChannelActive()
        case .admit(let drain):
            processor.counters.accepted.wrappingIncrement(ordering: .relaxed)
            logger.debug("connection", metadata: ["peer": "\(peer)", "core": "\(processor.core)"])
            context.fireChannelActive()
            if drain { self.drain(context: context) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Complete requests that arrived before the peer closed are still done (their replies
        // cannot be read); a partial one never was a request.
        takeLast(context: context)
        scratch.release()
        processor.counters.connected.wrappingDecrement(ordering: .relaxed)
        if counted {
            counted = false
            limiter.release(peer.uid)
        }
        machine.closed()
        lingerTimer?.cancel()
        lingerTimer = nil
        // The ring acts for this connection's owner: it stops before the owner is detached.
        stopRing()
        // Frames belong to their owner, not to the connection: only an ephemeral owner's last
        // connection frees them (a get in flight has been answered or not started: requests
        // run on this loop).
        processor.closed(session)
        logger.debug("disconnected", metadata: ["peer": "\(peer)", "owner": "\(session.owner.map(\.name) ?? "none")"])
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if broken { return }
        if var pending = input {
            input = nil
            pending.writeBuffer(&buffer)
            buffer = pending
        }
        split(&buffer, context: context)
        if buffer.readableBytes > 0 && !broken { input = buffer }
    }

    /// Takes every whole message off the front of `buffer`: answers it on the fast path if it can
    /// be, else decodes it and hands it to the state machine.
    private func split(_ buffer: inout ByteBuffer, context: ChannelHandlerContext) {
        while buffer.readableBytes >= Wire.lengthSize {
            if out.readableBytes == 0 && out.writerIndex > 0 { out.clear() }
            let direct = machine.answersDirectly(writable: context.channel.isWritable)
            let step: (consumed: Int, decoded: DecodedRequest?)? = buffer.withUnsafeReadableBytes { raw in
                let size: Int
                do throws(ProtocolError) {
                    guard let complete = try WireCodec.messageSize(raw) else { return nil }
                    size = complete
                } catch {
                    return (raw.count, .invalid(error))
                }
                let message = UnsafeRawBufferPointer(rebasing: raw[0..<size])
                if direct && processor.answerFast(message, session: &session, into: &out, scratch: &scratch, metrics: metrics) {
                    return (size, nil)
                }
                do throws(ProtocolError) {
                    return (size, .request(try WireCodec.decodeRequest(message)))
                } catch {
                    return (size, .invalid(error))
                }
            }
            guard let (consumed, decoded) = step else { return }
            buffer.moveReaderIndex(forwardBy: consumed)
            if let decoded {
                if case .invalid(let error) = decoded, error.fatal {
                    broken = true
                    buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
                }
                received(decoded, context: context)
                if broken { return }
            } else if out.readableBytes > Self.outLimit {
                writeOut(context: context)
            }
        }
    }

    /// Answers the whole messages left over at the end of the input (a half-close or close);
    /// drops a partial one.
    private func takeLast(context: ChannelHandlerContext) {
        guard var pending = input else { return }
        input = nil
        if !broken { split(&pending, context: context) }
        writeOut(context: context)
    }

    /// A decoded request (or the reason bytes were not one), for the state machine.
    private func received(_ decoded: DecodedRequest, context: ChannelHandlerContext) {
        switch machine.read(decoded, now: .now()) {
        case .ignore:
            return
        case .serve:
            serve(context: context)
        case .refuseShuttingDown(let decoded):
            refuseWhileDraining(decoded, context: context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        writeOut(context: context)
        context.flush()
        context.fireChannelReadComplete()
    }

    /// Hands the fast path's replies to the channel (they precede any reply written after).
    @inline(__always)
    private func writeOut(context: ChannelHandlerContext) {
        guard out.readableBytes > 0 else { return }
        context.write(wrapOutboundOut(out), promise: nil)
        // Given away: the storage is reused once the channel has written it (cleared then).
        out.moveReaderIndex(to: out.writerIndex)
    }

    /// Writes a reply of the general path, after those of the fast path.
    private func write(_ reply: ByteBuffer, context: ChannelHandlerContext) {
        writeOut(context: context)
        context.write(wrapOutboundOut(reply), promise: nil)
    }

    func read(context: ChannelHandlerContext) {
        // Backpressure: read no more requests while earlier ones wait or replies pile up unread.
        if machine.readRequested(writable: context.channel.isWritable) { context.read() }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            serve(context: context)
            writeOut(context: context)
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
            // The client shut its write side: answer every complete request it sent, flush,
            // then close.
            takeLast(context: context)
            machine.inputClosed()
            serve(context: context)
            writeOut(context: context)
            context.flush()
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Graceful shutdown: answers the requests already read, refuses later ones with
    /// shuttingDown, and closes once the client has been quiet for the linger time.
    private func drain(context: ChannelHandlerContext) {
        guard machine.drain(now: .now()) else { return }
        serve(context: context)
        writeOut(context: context)
        context.flush()
        armLinger(at: .now() + machine.linger, context: context)
    }

    private func armLinger(at deadline: NIODeadline, context: ChannelHandlerContext) {
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        lingerTimer = loop.scheduleTask(deadline: deadline) {
            let (handler, context) = bound.value
            handler.lingerExpired(context: context)
        }
    }

    private func lingerExpired(context: ChannelHandlerContext) {
        lingerTimer = nil
        switch machine.lingerExpired(now: .now(), unread: unreadBytes(context: context)) {
        case .none:
            return
        case .rearm(let deadline):
            armLinger(at: deadline, context: context)
        case .finish:
            closeAfterFlush(context: context)
        }
    }

    /// Whether bytes wait unread in the socket: a client that is still sending is not quiet, and
    /// closing a socket with unread data would reset the connection and lose replies in flight.
    private func unreadBytes(context: ChannelHandlerContext) -> Bool {
        let count = try? context.channel.pipeline.syncOperations.withUnsafeTransportIfAvailable(of: NIOBSDSocket.Handle.self) { fd -> CInt in
            var count: CInt = 0
            return llfree_unread_bytes(fd, &count) == 0 ? count : 0
        }
        return (count.flatMap { $0 } ?? 0) > 0
    }

    /// Answers pending requests until none is left, one waits for a scan, or the client stops
    /// reading; when none is left, lets reading resume or closes once the replies are flushed,
    /// as the state machine says.
    private func serve(context: ChannelHandlerContext) {
        while true {
            let (action, request) = machine.next(writable: context.channel.isWritable)
            switch action {
            case .answer:
                answer(request!, context: context)
            case .wait, .linger:
                // A scan's completion, channelWritabilityChanged or the linger timer calls again.
                return
            case .read:
                context.read()
                return
            case .finish:
                closeAfterFlush(context: context)
                return
            }
        }
    }

    /// Answers one request, or for a stats whose snapshot must be scanned, has the pool scanned
    /// off the loop; its reply follows the scan.
    private func answer(_ decoded: DecodedRequest, context: ChannelHandlerContext) {
        let reply: ReplyMessage
        var fatal = false
        switch decoded {
        case .request(let message):
            if case .frames = message.request {
                passFrames(message, context: context)
                return
            }
            if case .ring = message.request {
                startRing(message, context: context)
                return
            }
            let clock = ContinuousClock()
            let start = metrics == nil ? nil : clock.now
            guard let answered = processor.processWithoutScanning(message, session: &session) else {
                awaitScan(for: message, context: context)
                return
            }
            reply = answered
            // An attach to another owner ends the ring, which acts for the one it was made for.
            if let ring, ring.owner?.id != session.owner?.id { stopRing() }
            if let metrics, let start {
                metrics.record(reply.reply, operation: message.request.operation, duration: clock.now - start)
            }
        case .invalid(let error):
            reply = processor.refuse(error)
            metrics?.recordRefused(error)
            fatal = error.fatal
            logger.info("refused request", metadata: ["peer": "\(peer)", "why": "\(error)"])
        }
        write(encode(reply, context: context), context: context)
        if fatal { stop(context: context) }
    }

    /// Has the pool scanned for the stats request `message`, then answers it from that snapshot
    /// and carries on with the requests after it. Until then nothing after it is answered, so
    /// replies stay in order.
    private func awaitScan(for message: RequestMessage, context: ChannelHandlerContext) {
        machine.scanStarted()
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
        // The connection may have closed while the scan ran: nothing is left to answer then.
        guard machine.scanFinished(), context.channel.isActive else { return }
        let reply = processor.statsReply(to: message, using: snapshot)
        metrics?.record(reply.reply, operation: message.request.operation, duration: ContinuousClock().now - start)
        write(encode(reply, context: context), context: context)
        serve(context: context)
        writeOut(context: context)
        context.flush()
    }

    /// Answers a ring request: makes the ring (its memory object, its server thread) for the
    /// owner this connection acts for (the implicit one if it has not attached) and passes the
    /// object's descriptor with the reply, as a frames reply passes its descriptor.
    private func startRing(_ message: RequestMessage, context: ChannelHandlerContext) {
        func refuse(_ code: ErrorCode, _ text: String) {
            let reply = processor.refuse(message, ReplyError(code, text))
            metrics?.record(reply.reply, operation: .ring, duration: .zero)
            write(encode(reply, context: context), context: context)
        }
        if let version = session.version, version < 3 {
            return refuse(.unknownOperation, "ring needs protocol version 3; this connection's hello negotiated \(version)")
        }
        if ring != nil { return refuse(.notPermitted, "this connection has a ring already; one ring serves one connection") }
        do {
            _ = try processor.actingOwner(&session)
        } catch {
            return refuse(error.code, error.message)
        }
        guard state.admitRing() else {
            return refuse(.notPermitted, state.maxRings == 0 ? "this daemon serves no rings (ring.max 0); use the socket"
                                                             : "the daemon serves \(state.maxRings) rings already (ring.max); use the socket")
        }
        let server: RingServer<A>
        do {
            let (memory, descriptor) = try RingMemory.create()
            server = RingServer(memory: memory, descriptor: descriptor, processor: processor, session: session, logger: logger,
                                metrics: metrics)
            try server.start()
        } catch {
            state.ringStopped()
            logger.warning("could not make a ring", metadata: ["peer": "\(peer)", "why": "\(error)"])
            return refuse(.internalError, "the daemon could not make a ring (\(error)); use the socket")
        }
        ring = server
        processor.counters.add(.operations, core: processor.core)
        let reply = ReplyMessage(id: message.id, .ring(RingGrant(layout: RingLayout.version, capacity: UInt32(RingLayout.capacity),
                                                                 size: UInt64(RingLayout.size))))
        metrics?.record(reply.reply, operation: .ring, duration: .zero)
        pass(reply, descriptor: server.descriptor.rawValue, context: context)
    }

    /// Stops the ring, if any, and waits until its thread has.
    private func stopRing() {
        guard let ring else { return }
        ring.stop()
        self.ring = nil
        state.ringStopped()
    }

    /// Answers a frames request: the reply's bytes go in one sendmsg of their own with the
    /// descriptor attached (SCM_RIGHTS), after every earlier reply has reached the socket, and
    /// nothing after it is answered until then, so that replies stay in order and no other
    /// reply's bytes share the message that carries the descriptor.
    private func passFrames(_ message: RequestMessage, context: ChannelHandlerContext) {
        let (reply, descriptor) = processor.frames(message, session: session, access: policy.framesAccess(of: peer))
        metrics?.record(reply.reply, operation: .frames, duration: .zero)
        guard let descriptor else {
            write(encode(reply, context: context), context: context)
            return
        }
        pass(reply, descriptor: descriptor, context: context)
    }

    /// Sends `reply` with `descriptor` attached, in a message of its own once every earlier
    /// reply has reached the socket; nothing after it is answered until then.
    private func pass(_ reply: ReplyMessage, descriptor: Int32, context: ChannelHandlerContext) {
        machine.scanStarted()
        let bytes = WireCodec.encode(reply)
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        let flushed = loop.makePromise(of: Void.self)
        // The fast path's replies before this one go first, then everything is flushed.
        writeOut(context: context)
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)), promise: flushed)
        flushed.futureResult.whenComplete { result in
            let (handler, context) = bound.value
            guard case .success = result else { return }  // closing: nothing more is answered
            handler.send(bytes[...], with: descriptor, deadline: .now() + .seconds(5), context: context)
        }
    }

    /// Sends `bytes` (the descriptor with the first of them), retrying every millisecond while
    /// the socket's buffer is full; a client that reads nothing for 5 s is disconnected.
    private func send(_ bytes: ArraySlice<UInt8>, with descriptor: Int32?, deadline: NIODeadline, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        let sent = try? context.channel.pipeline.syncOperations.withUnsafeTransportIfAvailable(of: NIOBSDSocket.Handle.self) { socket -> Int in
            bytes.withUnsafeBytes { raw in
                descriptor.map { Int(llfree_send_with_fd(socket, raw.baseAddress, UInt(raw.count), $0)) }
                    ?? Int(Glibc.send(socket, raw.baseAddress, raw.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL))).nonNegativeOr(-Int(errno))
            }
        }
        guard let sent = sent ?? nil else {
            logger.info("could not pass the frames descriptor: the connection gives no access to its socket", metadata: ["peer": "\(peer)"])
            stop(context: context)
            return
        }
        if sent == bytes.count {
            guard machine.scanFinished() else { return }
            serve(context: context)
            context.flush()
            return
        }
        if sent >= 0 || sent == -Int(EAGAIN) {
            // The rest (or all, the descriptor still unsent) once the client has read some.
            let rest = sent > 0 ? bytes.dropFirst(sent) : bytes
            let still = sent > 0 ? nil : descriptor
            guard NIODeadline.now() < deadline else {
                logger.info("the client read nothing for 5 s while its frames descriptor waited; closing", metadata: ["peer": "\(peer)"])
                stop(context: context)
                return
            }
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: .milliseconds(1)) {
                let (handler, context) = bound.value
                handler.send(rest, with: still, deadline: deadline, context: context)
            }
            return
        }
        logger.debug("passing the frames descriptor failed", metadata: ["peer": "\(peer)", "errno": "\(-sent)"])
        stop(context: context)
    }

    /// The reply to a request decoded after the drain began, which is not served. The connection
    /// stays open (later requests are refused the same way) unless the bytes were not a request
    /// and the stream cannot be split any more.
    private func refuseWhileDraining(_ decoded: DecodedRequest, context: ChannelHandlerContext) {
        switch decoded {
        case .request(let message):
            let reply = ReplyMessage(id: message.id, .error(op: message.request.operation.rawValue,
                ReplyError(.shuttingDown, "the daemon is shutting down; the request was not served")))
            write(encode(reply, context: context), context: context)
        case .invalid(let error):
            write(encode(processor.refuse(error), context: context), context: context)
            if error.fatal { stop(context: context) }
        }
    }

    /// Answers nothing more: flushes what was written, then closes.
    private func stop(context: ChannelHandlerContext) {
        machine.stop()
        closeAfterFlush(context: context)
    }

    /// Flushes what was written, then closes.
    private func closeAfterFlush(context: ChannelHandlerContext) {
        lingerTimer?.cancel()
        lingerTimer = nil
        let channel = context.channel
        writeOut(context: context)
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

extension Int {
    /// Itself if not negative, else `other` (a C call's -1 turned into -errno).
    fileprivate func nonNegativeOr(_ other: @autoclosure () -> Int) -> Int { self >= 0 ? self : other() }
}
