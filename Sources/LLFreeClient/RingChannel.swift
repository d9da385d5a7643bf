// The client's side of a shared-memory ring (docs/protocol.md, "ring (0x11)"): requests are
// written as wire messages into the request ring and replies read from the reply ring, with no
// system call while both sides are busy; a side with nothing to do spins briefly, then sleeps on
// its futex doorbell. The socket the ring was asked on stays open beside it: it is the control
// path, and its hangup is how a daemon that died without marking the ring is noticed.

import LLFreeProtocol
import LLFreeRing
import NIOConcurrencyHelpers
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// A shared-memory channel to llfreed for gets, puts and pings (``BlockingLLFreeClient/ring()``).
///
/// Thread-safe: calls from several threads take turns. The channel acts for the owner its
/// connection had when it was made; it ends (calls fail with ``ClientError/connectionLost(_:)``)
/// when that connection closes or attaches another owner, or when the daemon stops.
public final class RingChannel: @unchecked Sendable {
    /// How long a call spins for its reply before it sleeps.
    public static var spin: Duration { .microseconds(100) }
    /// A sleep's bound, after which the call looks at the ring's state and the socket.
    static var sleep: Duration { .milliseconds(10) }

    let memory: RingMemory
    /// The ring's description, as the daemon sent it.
    public let grant: RingGrant
    private let lock = NIOLock()
    private var requests: RingProducer
    private var replies: RingConsumer
    private let daemon: RingDoorbell
    private let doorbell: RingDoorbell
    private var nextID: UInt64 = 1
    /// Whether the connection the ring belongs to is still open (false: the daemon is gone).
    private let connected: () -> Bool

    init(descriptor: FileDescriptor, grant: RingGrant, connected: @escaping () -> Bool) throws(ClientError) {
        defer { try? descriptor.close() }
        guard grant.layout == RingLayout.version, grant.capacity == UInt32(RingLayout.capacity), grant.size == UInt64(RingLayout.size) else {
            throw .protocolViolation("llfreed offered a ring of layout \(grant.layout), capacity \(grant.capacity), \(grant.size) bytes; this library maps layout \(RingLayout.version) only")
        }
        do {
            memory = try RingMemory.map(received: descriptor)
        } catch {
            throw .protocolViolation("the ring llfreed passed cannot be mapped: \(error)")
        }
        self.grant = grant
        self.connected = connected
        requests = memory.requestProducer()
        replies = memory.replyConsumer()
        daemon = memory.daemonDoorbell()
        doorbell = memory.clientDoorbell()
    }

    /// Whether the daemon still serves the ring.
    public var isServed: Bool { memory.state == .serving }

    /// See ``LLFreeClient/get(order:count:kind:)``.
    public func get(order: Int, count: Int, kind: WireKind = .fixed) throws(ClientError) -> GetResult {
        try LLFreeClient.joinGets(exchange(LLFreeClient.getRequests(order: order, count: count, kind: kind)))
    }

    /// See ``LLFreeClient/put(order:frames:)``.
    public func put(order: Int, frames: [UInt64]) throws(ClientError) -> PutResult {
        let requests = try LLFreeClient.putRequests(order: order, frames: frames)
        return try LLFreeClient.joinPuts(try exchange(requests), requests: requests)
    }

    /// See ``LLFreeClient/isFree(_:order:)``.
    public func isFree(_ frame: UInt64, order: Int = 0) throws(ClientError) -> Bool {
        try LLFreeClient.checkOrder(order)
        return try LLFreeClient.isFree(send(.isFree(order: UInt8(order), frame: frame)))
    }

    /// See ``LLFreeClient/ping()``.
    public func ping() throws(ClientError) {
        try LLFreeClient.ping(send(.ping))
    }

    /// Sends any request on the ring; returns its reply as it came (an operation the ring does
    /// not carry is answered with `unknownOperation`).
    public func send(_ request: Request) throws(ClientError) -> Reply {
        try exchange([request])[0].get()
    }

    /// Writes `requests` into the request ring as room allows while taking the replies that
    /// come back (so a batch larger than the rings never waits for itself); one outcome each.
    /// Throws only when nothing was sent.
    func exchange(_ list: [Request]) throws(ClientError) -> [Result<Reply, ClientError>] {
        lock.lock(); defer { lock.unlock() }
        guard memory.state == .serving else { throw .connectionLost("the ring is \(memory.state); use the socket") }
        let firstID = nextID
        nextID &+= UInt64(list.count)
        let messages = list.enumerated().map { WireCodec.encode(RequestMessage(id: firstID &+ UInt64($0.offset), $0.element)) }
        var sent = 0
        var outcomes = [Result<Reply, ClientError>]()
        outcomes.reserveCapacity(list.count)
        func fail(_ error: ClientError) -> [Result<Reply, ClientError>] {
            outcomes + Array(repeating: .failure(error), count: list.count - outcomes.count)
        }
        while outcomes.count < list.count {
            var progress = false
            // As many requests as fit.
            var wrote = false
            while sent < messages.count {
                guard let room = requests.room() else { return fail(.protocolViolation("the request ring's head is not one llfreed could have written")) }
                guard room >= messages[sent].count else { break }
                messages[sent].withUnsafeBytes { requests.append($0) }
                sent += 1
                wrote = true
            }
            if wrote {
                requests.publish()
                daemon.ring()
                progress = true
            }
            // Every whole reply there.
            while outcomes.count < sent {
                guard let available = replies.available() else { return fail(.protocolViolation("the reply ring's tail is not one llfreed could have written")) }
                guard available >= Wire.lengthSize else { break }
                var length: UInt32 = 0
                replies.copy(at: 0, count: Wire.lengthSize, into: &length)
                let size = Wire.lengthSize + Int(UInt32(littleEndian: length))
                guard size >= Wire.headerSize, size <= Wire.lengthSize + Wire.maxLength else {
                    return fail(.protocolViolation("a reply on the ring claims \(size) bytes"))
                }
                guard available >= size else { break }
                var bytes = [UInt8](repeating: 0, count: size)
                bytes.withUnsafeMutableBytes { replies.copy(at: 0, count: size, into: $0.baseAddress!) }
                replies.consume(size)
                progress = true
                let expected = firstID &+ UInt64(outcomes.count)
                do throws(ProtocolError) {
                    let decoded = try WireCodec.decodeReply(bytes)
                    guard decoded.id == expected else {
                        if decoded.id == 0, case .error(_, let error) = decoded.reply { return fail(.refused(error)) }
                        return fail(.protocolViolation("reply id \(decoded.id) where \(expected) was due (replies come in request order)"))
                    }
                    outcomes.append(.success(decoded.reply))
                } catch {
                    return fail(.protocolViolation("\(error)"))
                }
            }
            if progress {
                // The daemon may wait for room in the reply ring.
                daemon.ring()
                continue
            }
            let producer = requests, consumer = replies, memory = self.memory, waiting = sent < messages.count
            let ready = doorbell.wait(spin: Self.spin, sleep: Self.sleep) {
                memory.state != .serving
                    || consumer.available().map { $0 > 0 } ?? true
                    || (waiting && (producer.room() ?? Int.max) >= messages[sent].count)
            }
            if !ready {
                guard memory.state == .serving else { return fail(.connectionLost("the ring is \(memory.state) (\(outcomes.count) of \(list.count) replies came)")) }
                guard connected() else { return fail(.connectionLost("llfreed closed the connection of the ring")) }
            } else if memory.state != .serving, replies.available() == 0 {
                return fail(.connectionLost("the ring is \(memory.state) (\(outcomes.count) of \(list.count) replies came)"))
            }
        }
        return outcomes
    }
}
