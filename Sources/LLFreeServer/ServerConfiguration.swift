// How a server is set up: where it listens (or the socket systemd passed), who may connect, how
// many event loops (one per allocator core) serve, and whether requests are measured.

import LLFreeProtocol
#if canImport(Glibc)
import Glibc
#endif

/// Settings of an ``LLFreeServer``.
public struct ServerConfiguration: Sendable {
    /// The Unix socket's path.
    public var socketPath: String
    /// The socket file's permission bits (default 0660: owner and group).
    public var socketMode: UInt32
    /// Event loops; each serves its connections with its own allocator core (0..<threads), so it
    /// must not exceed the allocator's cores.
    public var threads: Int
    /// Who is admitted.
    public var access: AccessPolicy
    /// The socket file's group (nil: the daemon's own group).
    public var socketGroup: UInt32?
    /// A listening socket passed by systemd (socket activation): served instead of binding
    /// ``socketPath``; its file belongs to systemd, so mode and group are the socket unit's and the
    /// file is left in place at shutdown.
    public var passedSocket: PassedSocket?
    /// Where requests are counted and timed; nil when the metrics endpoint is off (then the
    /// request path reads no clock for them).
    public var metrics: ServerMetrics?
    /// Pin event loop i to the i-th CPU this process may use (round robin), so that an allocator
    /// core is a real CPU.
    public var pinLoops: Bool
    /// At a graceful shutdown, how long a connection must have sent nothing before it closes;
    /// until then each request it sends is answered with `shuttingDown`, so that a request sent
    /// right after the stop is refused rather than lost.
    public var drainLinger: Duration = ServerConfiguration.defaultDrainLinger

    /// The default ``drainLinger``: long enough for a client to see its first `shuttingDown` and
    /// stop sending, short enough not to delay a stop noticeably.
    public static let defaultDrainLinger: Duration = .milliseconds(200)
    /// Shared-memory rings served at once (each a thread and a 516 KiB memory object); a ring
    /// request beyond it is refused, the socket goes on. 0: no rings.
    public var maxRings: Int
    /// The default ``maxRings``.
    public static let defaultMaxRings = 64

    public init(socketPath: String, socketMode: UInt32 = 0o660, threads: Int, access: AccessPolicy = .default,
                socketGroup: UInt32? = nil, passedSocket: PassedSocket? = nil, metrics: ServerMetrics? = nil,
                pinLoops: Bool = false, maxRings: Int = ServerConfiguration.defaultMaxRings) {
        self.pinLoops = pinLoops
        self.maxRings = maxRings
        self.socketPath = socketPath
        self.socketMode = socketMode
        self.threads = threads
        self.access = access
        self.socketGroup = socketGroup
        self.passedSocket = passedSocket
        self.metrics = metrics
    }

    /// `/run/llfreed/llfreed.sock` for root, `$XDG_RUNTIME_DIR/llfreed.sock` otherwise (falling
    /// back to `/tmp/llfreed-UID/llfreed.sock` when XDG_RUNTIME_DIR is unset).
    public static var defaultSocketPath: String {
        Wire.defaultSocketPath(uid: UInt32(getuid()), runtimeDirectory: getenv("XDG_RUNTIME_DIR").flatMap { String(validatingCString: $0) })
    }
}
