// The life of one client connection as a state machine: each event the connection handler
// receives moves it, and returns the action the handler takes. The handler does the I/O; the
// rules (what is answered, what is refused, when reading resumes, when the connection closes)
// are all here, in one place.
//
// Shutdown contract: every request read before the drain began is answered as usual; every
// request read after it gets `shuttingDown`; the connection closes once the client has sent
// nothing for `linger` and nothing is left unread in the socket (or once it shut its write side),
// so a client that sends right after the signal still gets its refusal instead of a silent loss.

import NIOCore

/// The state of one connection and the actions its events call for.
struct ConnectionStateMachine {
    /// What an open connection is doing.
    enum Mode: Equatable {
        /// Reading and answering requests.
        case serving
        /// The client shut its write side: what was read is answered, then the connection closes.
        case inputClosed
        /// The server shuts down: requests read from now on are refused with `shuttingDown`;
        /// `lastRead` is when the client last sent a request.
        case draining(lastRead: NIODeadline)
    }

    /// An admitted connection's requests: read, not yet answered, in order.
    struct Open {
        var mode: Mode
        var pending = CircularBuffer<DecodedRequest>()
        /// The request being answered waits for work off the normal path: a stats scan done off
        /// the loop, or a frames reply whose descriptor waits to be sent (the same barrier).
        var scanning = false
        /// The channel asked for a read while requests waited or replies piled up: issued later.
        var readHeld = false
    }

    enum State {
        /// Accepted; the peer's credentials are not judged yet.
        case connecting
        /// Admitted.
        case open(Open)
        /// Nothing more is read or answered: what was written is flushed, then the connection
        /// closes (a refused peer, a fatal framing error, or the end of an input-closed or drained
        /// connection).
        case closing
        /// The channel is inactive.
        case closed
        /// Only while a transition changes an open connection: `open`'s queue is then referenced
        /// once, so appending to it or removing from it does not copy it.
        case modifying
    }

    private(set) var state: State = .connecting
    /// How long a draining connection must have been quiet before it closes.
    let linger: TimeAmount

    init(linger: TimeAmount) { self.linger = linger }

    // MARK: Events

    /// What to do when the connection becomes active.
    enum ActiveAction {
        /// Write the refusal, flush, close.
        case refuse(String)
        /// Serve; `drain` if the server began shutting down before this connection could see
        /// its drain event.
        case admit(drain: Bool)
    }

    /// The connection is active; `refusal` says why the peer is not admitted, if it is not.
    mutating func activated(refusal: String?, shuttingDown: Bool) -> ActiveAction {
        guard case .connecting = state else { preconditionFailure("activated twice") }
        if let refusal {
            state = .closing
            return .refuse(refusal)
        }
        state = .open(Open(mode: .serving))
        return .admit(drain: shuttingDown)
    }

    /// What to do with a request the decoder delivered.
    enum ReadAction {
        /// Nothing (the connection answers nothing more).
        case ignore
        /// Queued: serve.
        case serve
        /// Read after the drain began: answer it with `shuttingDown` (or, for bytes that were not a
        /// request, with its protocol error), and keep draining.
        case refuseShuttingDown(DecodedRequest)
    }

    /// `now` is read only while draining (the fast path reads no clock).
    mutating func read(_ decoded: DecodedRequest, now: @autoclosure () -> NIODeadline) -> ReadAction {
        guard case .open(var open) = state else { return .ignore }
        state = .modifying
        defer { if case .modifying = state { state = .open(open) } }
        if case .draining = open.mode {
            open.mode = .draining(lastRead: now())
            state = .open(open)
            return .refuseShuttingDown(decoded)
        }
        open.pending.append(decoded)
        state = .open(open)
        return .serve
    }

    /// Whether a request read now may be answered on the spot, without being queued: the
    /// connection serves (neither draining nor input-closed), nothing waits before it and the
    /// client reads its replies. What ``read(_:now:)`` followed by ``next(writable:)`` would do
    /// with it then is answer it at once.
    func answersDirectly(writable: Bool) -> Bool {
        guard writable, case .open(let open) = state, open.mode == .serving else { return false }
        return open.pending.isEmpty && !open.scanning
    }

    /// The channel asks to read more (autoRead). Returns whether to pass the read on now.
    mutating func readRequested(writable: Bool) -> Bool {
        guard case .open(var open) = state else { return false }
        state = .modifying
        defer { if case .modifying = state { state = .open(open) } }
        if open.pending.isEmpty && !open.scanning && writable { return true }
        open.readHeld = true
        state = .open(open)
        return false
    }

    /// The client shut its write side.
    mutating func inputClosed() {
        guard case .open(var open) = state else { return }
        state = .modifying
        defer { if case .modifying = state { state = .open(open) } }
        open.mode = .inputClosed
        state = .open(open)
    }

    /// The server began a graceful shutdown. Returns whether this connection starts draining now
    /// (then the handler serves what was read and arms the linger timer).
    mutating func drain(now: NIODeadline) -> Bool {
        guard case .open(var open) = state else { return false }
        state = .modifying
        defer { if case .modifying = state { state = .open(open) } }
        switch open.mode {
        case .draining: return false
        case .inputClosed: return false  // closes once what was read is answered
        case .serving:
            open.mode = .draining(lastRead: now)
            state = .open(open)
            return true
        }
    }

    /// A stats request began its scan off the loop, or a frames reply waits to be sent with its
    /// descriptor; nothing after it is answered until it ends.
    mutating func scanStarted() {
        guard case .open(var open) = state else { return }
        state = .modifying
        defer { if case .modifying = state { state = .open(open) } }
        open.scanning = true
        state = .open(open)
    }

    /// The scan (or the descriptor's send) ended. Returns whether its request is still to be
    /// answered (the connection may have closed meanwhile).
    mutating func scanFinished() -> Bool {
        guard case .open(var open) = state else { return false }
        state = .modifying
        defer { if case .modifying = state { state = .open(open) } }
        open.scanning = false
        state = .open(open)
        return true
    }

    /// A fatal error: answer nothing more; flush and close.
    mutating func stop() {
        state = .closing
    }

    /// The channel became inactive.
    mutating func closed() {
        state = .closed
    }

    // MARK: Serving

    /// The next step of serving the queue.
    enum ServeAction: Equatable {
        /// Answer this request (removed from the queue).
        case answer
        /// Nothing to do now: a scan or writability will call again.
        case wait
        /// The queue is empty: pass on the read the channel asked for.
        case read
        /// The queue is empty and the connection is done: flush, then close.
        case finish
        /// The queue is empty while draining: wait for the linger timer.
        case linger
    }

    /// What serving does next. While draining, what was read is answered even if the client is
    /// not reading: it was read before the drain, it is at most one read's worth, and shutdown
    /// waits only so long.
    mutating func next(writable: Bool) -> (ServeAction, DecodedRequest?) {
        guard case .open(var open) = state else { return (.wait, nil) }
        state = .modifying
        defer { if case .modifying = state { state = .open(open) } }
        if open.scanning { return (.wait, nil) }
        let draining: Bool
        if case .draining = open.mode { draining = true } else { draining = false }
        if !open.pending.isEmpty {
            guard writable || draining else { return (.wait, nil) }
            let request = open.pending.removeFirst()
            state = .open(open)
            return (.answer, request)
        }
        switch open.mode {
        case .inputClosed:
            state = .closing
            return (.finish, nil)
        case .draining:
            // Reading goes on while draining, so that later requests are refused, not lost.
            if open.readHeld && writable {
                open.readHeld = false
                state = .open(open)
                return (.read, nil)
            }
            return (.linger, nil)
        case .serving:
            if open.readHeld && writable {
                open.readHeld = false
                state = .open(open)
                return (.read, nil)
            }
            return (.wait, nil)
        }
    }

    /// What the linger timer of a draining connection does when it fires.
    enum LingerAction: Equatable {
        /// Nothing: the connection is no longer draining.
        case none
        /// Fire again at this deadline.
        case rearm(NIODeadline)
        /// Flush and close.
        case finish
    }

    /// The linger timer fired at `now`; `unread` says whether bytes wait in the socket unread
    /// (then the client is not quiet yet).
    mutating func lingerExpired(now: NIODeadline, unread: Bool) -> LingerAction {
        guard case .open(let open) = state, case .draining(let lastRead) = open.mode else { return .none }
        let quietSince = lastRead + linger
        if now < quietSince { return .rearm(quietSince) }
        if unread || !open.pending.isEmpty || open.scanning { return .rearm(now + linger) }
        state = .closing
        return .finish
    }
}
