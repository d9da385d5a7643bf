// The client library's blocking API, for code that is not async (CLIs, C-style callers, load
// generators pinned to threads). Each call runs on the caller's thread with plain socket calls
// (send, recv, poll) and no event loop: a round trip wakes two threads (the daemon's loop and
// the caller) instead of four (the async client adds its own event loop on both ways), which on
// a loaded machine is most of a round trip's cost. The requests of one call (a batch split at
// Wire.maxBatch) are pipelined; calls from several threads take turns on the one connection.

import CLinuxShims
import LLFreeProtocol
import NIOConcurrencyHelpers
import SystemCalls
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// A blocking client of llfreed: one Unix-socket connection, used on the calling thread.
///
/// Thread-safe: calls from several threads are served one after another (use ``LLFreeClient``
/// to pipeline many concurrent calls). Reconnect: a connection the daemon closed (it restarted,
/// say) is found when the next call sends on it; if not one byte of that call was sent, the
/// call connects again and sends on the new connection; a call whose requests were sent and
/// whose replies did not all arrive fails with ``ClientError/connectionLost(_:)`` and is not
/// retried (a get may have been served); replies that did arrive before the connection closed
/// are still used (a put split into batches reports which batches were freed). The call after it
/// connects again. ``close()`` wakes a call waiting for a reply, not one waiting in `connect`
/// (a daemon whose listen backlog is full).
public final class BlockingLLFreeClient: @unchecked Sendable {
    /// The daemon's socket.
    public let socketPath: String
    /// Guards everything below; held for a whole call.
    private let lock = NIOLock()
    /// Held (inside `lock`) to change `fd`, and by ``close()`` (without `lock`) to mark the
    /// client closed and shut down the socket a call may be waiting on: it never shuts down a
    /// reused descriptor number, and no call connects again after close began.
    private let descriptorLock = NIOLock()
    /// The connected socket, or -1.
    private var fd: Int32 = -1
    /// Set under `descriptorLock`.
    private var closed = false
    private var nextID: UInt64 = 1
    /// Bytes received and not yet taken as replies.
    private var received = MessageBuffer()
    /// Scratch for recv.
    private var scratch = [UInt8](repeating: 0, count: 64 * 1024)
    /// The owner every connection attaches to before anything else is sent; nil: the
    /// connection acts for the owner named after this process's uid.
    private var attachment: OwnerAttachment?
    /// The owner as the last attach reported it.
    private var attachedInfo: OwnerInfo?
    /// A descriptor the daemon passed with the last bytes read (a frames reply), or -1.
    private var passedDescriptor: Int32 = -1

    /// A client of the daemon at `socketPath`; connects at the first call (or ``connect()``).
    /// With `owner`, every connection it makes negotiates protocol version 2 and attaches to
    /// that owner before the call's requests are sent, so that a reconnect acts for the same
    /// owner; a refused attach fails the call with nothing of it sent.
    public init(socketPath: String, owner: OwnerAttachment? = nil) {
        self.socketPath = socketPath
        self.attachment = owner
    }

    /// The owner the connection acts for, as its attach reported it (nil before the first
    /// connection, or without an owner).
    public var attached: OwnerInfo? { lock.withLock { attachedInfo } }

    deinit {
        if fd >= 0 { try? FileDescriptor(rawValue: fd).close() }
        if passedDescriptor >= 0 { try? FileDescriptor(rawValue: passedDescriptor).close() }
    }

    /// Connects now (otherwise the first call does).
    public func connect() throws(ClientError) {
        lock.lock(); defer { lock.unlock() }
        if isClosed { throw .closed }
        if fd < 0 { try open() }
    }

    /// Closes the connection; later calls fail with ``ClientError/closed``. A call in flight on
    /// another thread is woken and fails with ``ClientError/connectionLost(_:)`` (its requests
    /// may have been served).
    public func close() {
        descriptorLock.withLock {
            closed = true
            if fd >= 0 { _ = shutdown(fd, Int32(SHUT_RDWR)) }
        }
        lock.lock(); defer { lock.unlock() }
        drop()
    }

    private var isClosed: Bool { descriptorLock.withLock { closed } }

    // MARK: Owners (protocol version 2)

    /// Attaches to `owner` now and on every later connection. Returns the owner.
    @discardableResult
    public func attach(_ owner: OwnerAttachment) throws(ClientError) -> OwnerInfo {
        try owner.validate()
        lock.lock(); defer { lock.unlock() }
        if isClosed { throw .closed }
        let previous = attachment
        attachment = owner
        do {
            if fd < 0 { try open() } else { try handshake() }
        } catch {
            attachment = previous
            throw error
        }
        return attachedInfo!
    }

    /// One page of the runs `owner` holds (empty: the attached owner) from frame `from` on.
    public func list(owner: String = "", from: UInt64 = 0, limit: Int = Wire.maxBatch) throws(ClientError) -> ListResult {
        try LLFreeClient.checkName(owner)
        try LLFreeClient.checkLimit(limit)
        return try LLFreeClient.list(send(.list(owner: owner, from: from, limit: UInt32(limit))))
    }

    /// Every run `owner` holds (empty: the attached owner), page by page.
    public func runs(owner: String = "") throws(ClientError) -> [WireRun] {
        var all: [WireRun] = []
        var from: UInt64? = 0
        while let start = from {
            let page = try list(owner: owner, from: start)
            all += page.runs
            from = page.next
        }
        return all
    }

    /// Lists the attached owner's runs and compares them with `known`, the runs this client
    /// believes it holds: after a lost connection, the frames of a get whose reply was lost are
    /// among ``Reconciliation/adopted``, those of a put whose reply was lost among
    /// ``Reconciliation/missing``.
    public func reconcile(known: [WireRun]) throws(ClientError) -> Reconciliation {
        Reconciliation(known: known, listed: try runs())
    }

    /// Frees everything `owner` holds (empty: the attached owner).
    public func release(owner: String = "") throws(ClientError) -> ReleaseResult {
        try LLFreeClient.checkName(owner)
        return try LLFreeClient.release(send(.release(owner: owner)))
    }

    /// The attached owner's root value.
    public func root() throws(ClientError) -> RootValue {
        try LLFreeClient.root(send(.rootGet))
    }

    /// Compare-and-set of the attached owner's root value, durable before it returns.
    public func compareAndSetRoot(expected: RootValue, new: RootValue) throws(ClientError) -> RootSwap {
        try LLFreeClient.rootSwap(send(.rootSet(expected: expected, new: new)))
    }

    /// What the daemon knows of `owner` (empty: the attached owner).
    public func ownerInfo(_ owner: String = "") throws(ClientError) -> OwnerInfo {
        try LLFreeClient.checkName(owner)
        return try LLFreeClient.ownerInfo(send(.ownerInfo(owner: owner)), "an owner-info")
    }

    /// Every owner of the pool, page by page.
    public func owners() throws(ClientError) -> [OwnerInfo] {
        var all: [OwnerInfo] = []
        var from: UInt16? = 1
        while let start = from {
            let page = try LLFreeClient.owners(send(.owners(from: start, limit: UInt16(Wire.maxOwnerPage))))
            all += page.owners
            from = page.next
        }
        return all
    }

    /// Removes `owner`, which must hold nothing and have no connection.
    public func removeOwner(_ owner: String) throws(ClientError) {
        try LLFreeClient.checkName(owner, allowEmpty: false)
        try LLFreeClient.removed(send(.removeOwner(owner: owner)))
    }

    /// Sets `owner`'s quota in frames (nil: none; empty name: the attached owner). Needs an
    /// administrator.
    @discardableResult
    public func setQuota(_ owner: String = "", quota: UInt64?) throws(ClientError) -> OwnerInfo {
        try LLFreeClient.checkName(owner)
        return try LLFreeClient.ownerInfo(send(.setQuota(owner: owner, quota: quota ?? 0)), "a set-quota")
    }

    // MARK: Pool

    /// See ``LLFreeClient/hello()``.
    public func hello() throws(ClientError) -> PoolInfo {
        try LLFreeClient.hello(send(.hello(minVersion: Wire.minVersion, maxVersion: Wire.version)))
    }

    /// Asks for the frames descriptor (protocol version 3): a descriptor of the object holding
    /// the frames, read-write or read-only as the daemon's access policy says for this peer,
    /// passed over the socket, so that no file permission is needed to map frames. Map it with
    /// ``FrameMapper/init(_:)``.
    /// - Throws: ``ClientError/refused(_:)`` with `unknownOperation` from a daemon that passes
    ///   none (older than protocol version 3, or configured so).
    public func frames() throws(ClientError) -> ReceivedFrames {
        let reply = try send(.frames)
        let passed = lock.withLock { () -> Int32 in
            let d = passedDescriptor
            passedDescriptor = -1
            return d
        }
        switch reply {
        case .frames(let grant):
            guard passed >= 0 else { throw .protocolViolation("llfreed answered frames without passing a descriptor") }
            return ReceivedFrames(grant: grant, descriptor: FileDescriptor(rawValue: passed))
        case .error(_, let error):
            if passed >= 0 { try? FileDescriptor(rawValue: passed).close() }
            throw .refused(error)
        default:
            if passed >= 0 { try? FileDescriptor(rawValue: passed).close() }
            throw .protocolViolation("a frames request was answered with \(reply)")
        }
    }

    /// A shared-memory ring for this connection's gets, puts and pings (protocol version 3,
    /// docs/protocol.md "ring (0x11)"): the daemon makes it for the owner the connection acts
    /// for and passes its memory object over the socket. Calls on the returned channel cost no
    /// system call while the daemon is busy; this client stays the control path, and the ring
    /// ends when its connection closes, attaches another owner, or the daemon stops.
    /// - Throws: ``ClientError/refused(_:)`` with `unknownOperation` from a daemon without rings.
    public func ring() throws(ClientError) -> RingChannel {
        let reply = try send(.ring)
        let (passed, socket) = lock.withLock { () -> (Int32, Int32) in
            let d = passedDescriptor
            passedDescriptor = -1
            return (d, fd)
        }
        switch reply {
        case .ring(let grant):
            guard passed >= 0 else { throw .protocolViolation("llfreed answered ring without passing a descriptor") }
            return try RingChannel(descriptor: FileDescriptor(rawValue: passed), grant: grant) { [weak self] in
                guard let self, self.descriptorLock.withLock({ self.fd == socket && !self.closed }) else { return false }
                // The daemon closed its end (it stopped, or died without marking the ring).
                let readHangup: Int16 = 0x2000  // POLLRDHUP, which glibc declares under _GNU_SOURCE only
                var p = pollfd(fd: socket, events: readHangup, revents: 0)
                return poll(&p, 1, 0) == 0 || p.revents & (readHangup | Int16(POLLHUP | POLLERR)) == 0
            }
        case .error(_, let error):
            if passed >= 0 { try? FileDescriptor(rawValue: passed).close() }
            throw .refused(error)
        default:
            if passed >= 0 { try? FileDescriptor(rawValue: passed).close() }
            throw .protocolViolation("a ring request was answered with \(reply)")
        }
    }

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

    /// See ``LLFreeClient/stats()``.
    public func stats() throws(ClientError) -> PoolStats {
        try LLFreeClient.stats(send(.stats))
    }

    /// See ``LLFreeClient/ping()``.
    public func ping() throws(ClientError) {
        try LLFreeClient.ping(send(.ping))
    }

    /// Sends any request; returns its reply as it came.
    public func send(_ request: Request) throws(ClientError) -> Reply {
        try exchange([request])[0].get()
    }

    // MARK: The connection

    /// Sends `requests` pipelined and collects their replies in order: one outcome per request.
    /// Throws only when nothing was sent (closed, cannot connect).
    private func exchange(_ requests: [Request]) throws(ClientError) -> [Result<Reply, ClientError>] {
        lock.lock(); defer { lock.unlock() }
        if isClosed { throw .closed }
        let firstID = nextID
        nextID &+= UInt64(requests.count)
        let messages = requests.enumerated().map { RequestMessage(id: firstID &+ UInt64($0.offset), $0.element) }
        var bytes = [UInt8](repeating: 0, count: messages.reduce(0) { $0 + WireCodec.encodedSize($1) })
        bytes.withUnsafeMutableBytes { raw in
            var offset = 0
            for message in messages { offset += WireCodec.encode(message, into: UnsafeMutableRawBufferPointer(rebasing: raw[offset...])) }
        }

        if fd < 0 { try open() }
        // Once a send fails, nothing more is written, but what the daemon answered before it
        // closed is still read: replies to requests it served must not be lost.
        var writeError: ClientError? = nil
        var (sent, error) = sendSome(bytes, from: 0)
        if let error, sent == 0 {
            // The connection was found closed before one byte of this call went out: the daemon
            // restarted, or refused this peer (its reason is waiting to be read). Nothing of this
            // call reached anyone, so it may go out on a new connection, once.
            if let refusal = takeRefusal() { return fail([], requests.count, first: .refused(refusal), rest: .refused(refusal)) }
            drop()
            try open()
            (sent, writeError) = sendSome(bytes, from: 0)
            if let again = writeError, sent == 0 {
                if let refusal = takeRefusal() { return fail([], requests.count, first: .refused(refusal), rest: .refused(refusal)) }
                drop()
                throw .connect(path: socketPath, reason: "the connection broke before anything was sent (first \(error), then \(again))")
            }
        } else {
            writeError = error
        }
        // A send that failed on a connection still open (not EPIPE): shutting the write side
        // makes the daemon answer every complete request it read and close, so reading ends.
        if writeError != nil { _ = shutdown(fd, Int32(SHUT_WR)) }

        var outcomes = [Result<Reply, ClientError>]()
        outcomes.reserveCapacity(requests.count)
        while outcomes.count < requests.count {
            // Take the replies already received.
            do throws(ProtocolError) {
                while outcomes.count < requests.count, let message = try received.next() {
                    let decoded = try WireCodec.decodeReply(message)
                    let expected = firstID &+ UInt64(outcomes.count)
                    if decoded.id == expected {
                        outcomes.append(.success(decoded.reply))
                    } else if decoded.id == 0, case .error(_, let error) = decoded.reply {
                        // An error for no request (id 0: access refused, bad framing): the daemon
                        // closes the connection; what is left fails with its reason.
                        return fail(outcomes, requests.count, first: .refused(error), rest: .refused(error))
                    } else {
                        return fail(outcomes, requests.count, first: .protocolViolation(
                            "reply id \(decoded.id) where \(expected) was due (replies come in request order)"))
                    }
                }
            } catch {
                return fail(outcomes, requests.count, first: .protocolViolation("\(error)"))
            }
            if outcomes.count == requests.count { break }
            // Write what is left while reading what arrives: a daemon whose replies are not read
            // stops reading requests, so writing everything first could wait forever.
            let readable: Bool
            if writeError == nil && sent < bytes.count {
                var p = pollfd(fd: fd, events: Int16(POLLIN | POLLOUT), revents: 0)
                do throws(Errno) {
                    try valueOrErrno(retryOnInterrupt: true) { poll(&p, 1, -1) }
                } catch {
                    return fail(outcomes, requests.count, first: .connectionLost("poll: \(error)"))
                }
                if p.revents & Int16(POLLOUT) != 0 {
                    let (n, error) = sendSome(bytes, from: sent)
                    sent += n
                    writeError = error
                    if error != nil { _ = shutdown(fd, Int32(SHUT_WR)) }
                }
                readable = p.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 || writeError != nil
            } else {
                readable = true
            }
            guard readable else { continue }
            let n: Int
            do throws(Errno) {
                // recvmsg with room for a descriptor: a frames reply carries one.
                n = try valueOrErrno(retryOnInterrupt: true) { () -> Int in
                    var passed: Int32 = -1
                    let n = scratch.withUnsafeMutableBytes { Int(llfree_recv_with_fd(fd, $0.baseAddress, UInt($0.count), &passed)) }
                    if passed >= 0 {
                        if passedDescriptor >= 0 { try? FileDescriptor(rawValue: passedDescriptor).close() }
                        passedDescriptor = passed
                    }
                    if n < 0 { errno = Int32(-n); return -1 }
                    return n
                }
            } catch {
                // Compared with ==, not matched by a pattern: Errno's ~= takes `any Error`, a box.
                if error == .resourceTemporarilyUnavailable { continue }
                return fail(outcomes, requests.count, first: writeError ?? .connectionLost("recv: \(error)"))
            }
            if n > 0 {
                received.append(scratch[0..<n])
            } else {
                return fail(outcomes, requests.count, first: writeError ?? .connectionLost("llfreed closed the connection"))
            }
        }
        return outcomes
    }

    /// Sends as much of `bytes[from...]` as the socket takes without waiting. Returns the bytes
    /// sent by this call and, if a send failed, why (the bytes before it were sent all the same).
    private func sendSome(_ bytes: [UInt8], from start: Int) -> (sent: Int, error: ClientError?) {
        var done = start
        while done < bytes.count {
            do throws(Errno) {
                let n = try valueOrErrno(retryOnInterrupt: true) {
                    bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + done, bytes.count - done, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
                }
                done += n
            } catch {
                if error == .resourceTemporarilyUnavailable { return (done - start, nil) }
                return (done - start, .connectionLost("send: \(error)"))
            }
        }
        return (done - start, nil)
    }

    /// The reason of an id-0 error reply (an access refusal) the daemon left on a connection it
    /// closed, read without waiting; nil if there is none.
    private func takeRefusal() -> ReplyError? {
        while let n = try? valueOrErrno(retryOnInterrupt: true, { scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) } }),
              n > 0 {
            received.append(scratch[0..<n])
        }
        while let message = try? received.next() {
            if let decoded = try? WireCodec.decodeReply(message), decoded.id == 0, case .error(_, let error) = decoded.reply {
                return error
            }
        }
        return nil
    }

    /// Fails the requests after `outcomes` and drops the connection (the byte stream can no
    /// longer be matched to requests).
    private func fail(_ outcomes: [Result<Reply, ClientError>], _ count: Int, first: ClientError,
                      rest: ClientError? = nil) -> [Result<Reply, ClientError>] {
        drop()
        var all = outcomes
        all.append(.failure(first))
        let later = rest ?? .connectionLost("the connection was dropped after: \(first)")
        while all.count < count { all.append(.failure(later)) }
        return all
    }

    /// Connects a new socket (`socket` + `connect`, close-on-exec, blocking).
    private func open() throws(ClientError) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = Array(socketPath.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.count < capacity else {
            throw .connect(path: socketPath, reason: "the path is longer than \(capacity - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path) }
        let s: CInt
        do throws(Errno) {
            s = try valueOrErrno(retryOnInterrupt: false) { socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        } catch {
            throw .connect(path: socketPath, reason: "socket: \(error)")
        }
        do throws(Errno) {
            // Not retried: an interrupted connect goes on in the kernel; connecting again fails.
            _ = try withUnsafePointer(to: &address) { (address) throws(Errno) in
                try address.withMemoryRebound(to: sockaddr.self, capacity: 1) { (address) throws(Errno) in
                    try valueOrErrno(retryOnInterrupt: false) { Glibc.connect(s, address, socklen_t(MemoryLayout<sockaddr_un>.size)) }
                }
            }
        } catch {
            try? FileDescriptor(rawValue: s).close()
            throw .connect(path: socketPath, reason: "\(error)")
        }
        let closedMeanwhile = descriptorLock.withLock { () -> Bool in
            if closed { return true }
            fd = s
            return false
        }
        if closedMeanwhile {
            try? FileDescriptor(rawValue: s).close()
            throw .closed
        }
        received = MessageBuffer()
        do {
            try handshake()
        } catch {
            drop()
            throw error
        }
    }

    /// On a new connection with an owner to attach to: hello (versions 1...2) and attach, sent
    /// together and answered before anything else goes out. Any failure is the caller's
    /// "nothing was sent": the call's own requests have not been written.
    private func handshake() throws(ClientError) {
        guard let attachment else { return }
        let messages = [RequestMessage(id: nextID, .hello(minVersion: Wire.minVersion, maxVersion: Wire.version)),
                        RequestMessage(id: nextID &+ 1, attachment.request)]
        nextID &+= 2
        let bytes = messages.flatMap { WireCodec.encode($0) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + done, bytes.count - done, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .connect(path: socketPath, reason: "sending hello and attach: \(Errno(rawValue: errno))")
            }
            done += n
        }
        var replies: [Reply] = []
        while replies.count < 2 {
            var refusal: ReplyError? = nil
            do throws(ProtocolError) {
                while replies.count < 2, refusal == nil, let message = try received.next() {
                    let decoded = try WireCodec.decodeReply(message)
                    if decoded.id == 0, case .error(_, let error) = decoded.reply { refusal = error } else { replies.append(decoded.reply) }
                }
            } catch {
                throw .protocolViolation("\(error)")
            }
            if let refusal { throw .refused(refusal) }
            if replies.count == 2 { break }
            let n = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .connect(path: socketPath, reason: "reading the attach reply: \(Errno(rawValue: errno))")
            }
            if n == 0 { throw .connect(path: socketPath, reason: "llfreed closed the connection before answering attach") }
            received.append(scratch[0..<n])
        }
        let info = try LLFreeClient.hello(replies[0])
        guard info.version >= 2 else {
            throw .protocolViolation("llfreed negotiated protocol version \(info.version); owners need version 2")
        }
        attachedInfo = try LLFreeClient.ownerInfo(replies[1], "an attach")
    }

    private func drop() {
        descriptorLock.withLock {
            if fd >= 0 { try? FileDescriptor(rawValue: fd).close() }
            fd = -1
        }
        received = MessageBuffer()
    }
}
