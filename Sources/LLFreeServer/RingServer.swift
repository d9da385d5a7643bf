// Serves one connection's shared-memory ring on a thread of its own. The ring carries the wire
// messages the socket carries; each request is copied out of the shared memory into this
// server's own buffer before a byte of it is looked at, then answered exactly as on the socket
// (RequestProcessor.answerFast, or the general decode and process), so a client that scribbles
// on its ring can only hurt itself: a position it could not have written, or bytes the stream
// cannot be split after, end the ring (its state says "broken") and nothing else; the
// connection and the daemon go on. The ring acts for the owner its connection had when it asked
// for it and carries ping, get, put, is-free and stats; every other operation is answered with
// unknownOperation (the socket stays the control path). It stops when its connection closes or
// attaches another owner, before that connection's owner is detached.
//
// Idle, it spins for `spin` (a client's next request usually follows within microseconds), then
// sleeps on the daemon's doorbell, so an idle ring costs no CPU.

import Atomics
import Dispatch
import LLFreePool
import LLFreeProtocol
import LLFreeRing
import Logging
import NIOCore
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's side of one ring.
final class RingServer<A: FrameAllocator>: @unchecked Sendable {
    /// How long the server spins for a request before it sleeps.
    static var spin: Duration { .microseconds(50) }
    /// A sleep's bound, after which the server looks at its stop flag again.
    static var sleep: Duration { .milliseconds(100) }

    let memory: RingMemory
    /// The memory object's descriptor, passed to the client; closed when the ring stops.
    let descriptor: SystemPackage.FileDescriptor
    /// The owner the ring acts for (nil without owners).
    let owner: OwnerRecord?
    private var processor: RequestProcessor<A>
    private var session: ClientSession
    private let logger: Logger
    /// Counts and times the ring's requests as the socket's, when the metrics endpoint is on.
    private let metrics: ServerMetrics?
    private let stopping = ManagedAtomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    // The serving thread's own.
    private var scratch = FrameScratch()
    private var out = ByteBufferAllocator().buffer(capacity: RingLayout.capacity)
    private let message = UnsafeMutableRawPointer.allocate(byteCount: Wire.lengthSize + Wire.maxLength, alignment: 16)

    init(memory: RingMemory, descriptor: SystemPackage.FileDescriptor, processor: RequestProcessor<A>, session: ClientSession, logger: Logger,
         metrics: ServerMetrics?) {
        self.metrics = metrics
        self.memory = memory
        self.descriptor = descriptor
        self.processor = processor
        self.session = session
        self.owner = session.owner
        self.logger = logger
    }

    deinit {
        message.deallocate()
        scratch.release()
    }

    /// Starts serving on a new thread.
    func start() throws(RingMemoryError) {
        if let rc = DetachedThread.start({ self.run() }) {
            try? descriptor.close()
            throw .system("pthread_create", .init(rawValue: rc))
        }
    }

    /// Stops serving and waits until the thread has (a request in progress is finished first),
    /// then marks the ring closed and wakes a client waiting on it.
    func stop() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        // Woken whatever the sleeping flag says: the client can write that flag.
        memory.daemonDoorbell().wakeAlways()
        finished.wait()
        try? descriptor.close()
    }

    private func run() {
        defer {
            if memory.state == .serving { memory.setState(.closed) }
            memory.clientDoorbell().ring()
            finished.signal()
        }
        var requests = memory.requestConsumer()
        var replies = memory.replyProducer()
        let bell = memory.daemonDoorbell(), client = memory.clientDoorbell()
        let stopping = self.stopping
        while !stopping.load(ordering: .relaxed) {
            // What is there now: every whole message is answered before the replies go out.
            guard var available = requests.available() else { return broken("the request ring's tail is not one a producer could write") }
            var answered = false
            while available >= Wire.lengthSize {
                requests.copy(at: 0, count: Wire.lengthSize, into: message)
                let length = Int(UInt32(littleEndian: message.loadUnaligned(as: UInt32.self)))
                do {
                    _ = try WireCodec.messageSize(UnsafeRawBufferPointer(start: message, count: Wire.lengthSize))
                } catch {
                    // The stream cannot be split after this: answered as the socket answers it,
                    // then the ring ends.
                    out.writeBytes(WireCodec.encode(processor.refuse(error)))
                    _ = flush(&replies, client: client, bell: bell)
                    return broken("a request's length field says \(length)")
                }
                let size = Wire.lengthSize + length
                guard available >= size else { break }
                requests.copy(at: 0, count: size, into: message)
                requests.consume(size)
                available -= size
                answer(UnsafeRawBufferPointer(start: message, count: size))
                answered = true
                if out.readableBytes >= RingLayout.capacity / 2 {
                    guard flush(&replies, client: client, bell: bell) else { return }
                }
            }
            if answered {
                // The client may wait for room in the request ring: what was consumed is room.
                client.ring()
                guard flush(&replies, client: client, bell: bell) else { return }
                continue
            }
            let seen = requests.head &+ UInt64(available)
            _ = bell.wait(spin: Self.spin, sleep: Self.sleep) {
                stopping.load(ordering: .relaxed) || requests.available().map { requests.head &+ UInt64($0) != seen } ?? true
            }
        }
    }

    /// Answers one whole request message.
    private func answer(_ message: UnsafeRawBufferPointer) {
        if processor.answerFast(message, session: &session, into: &out, scratch: &scratch, metrics: metrics) { return }
        let clock = ContinuousClock(), start = clock.now
        let reply: ReplyMessage
        do {
            let decoded = try WireCodec.decodeRequest(message)
            switch decoded.request {
            case .ping, .get, .put, .isFree, .stats:
                reply = processor.process(decoded, session: &session)
            default:
                reply = processor.refuse(decoded, ReplyError(.unknownOperation,
                    "\(decoded.request.operation) is not served on the ring (it carries ping, get, put, is-free and stats); send it on the socket"))
            }
            metrics?.record(reply.reply, operation: decoded.request.operation, duration: clock.now - start)
        } catch {
            reply = processor.refuse(error)
            metrics?.recordRefused(error)
        }
        let bytes = WireCodec.encode(reply)
        out.writeBytes(bytes)
    }

    /// Writes the replies waiting in `out` into the reply ring, as room allows, waking the
    /// client; false when the ring ended meanwhile (stopped, or broken by the client).
    private func flush(_ replies: inout RingProducer, client: RingDoorbell, bell: RingDoorbell) -> Bool {
        while out.readableBytes > 0 {
            guard let room = replies.room() else {
                broken("the reply ring's head is not one the client could have reached")
                return false
            }
            if room == 0 {
                let stopping = self.stopping
                _ = bell.wait(spin: Self.spin, sleep: Self.sleep) {
                    stopping.load(ordering: .relaxed) || replies.room().map { $0 > 0 } ?? true
                }
                if stopping.load(ordering: .relaxed) { return false }
                continue
            }
            let n = min(room, out.readableBytes)
            out.withUnsafeReadableBytes { replies.append(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
            out.moveReaderIndex(forwardBy: n)
            replies.publish()
            client.ring()
        }
        out.clear()
        return true
    }

    private func broken(_ why: String) {
        memory.setState(.broken)
        logger.info("ring broken by its client; its connection goes on", metadata: ["peer": "\(session.peer)", "why": "\(why)"])
    }
}
