// How a server is set up: where it listens, who may connect, how many event loops (one per
// allocator core) serve.

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

    public init(socketPath: String, socketMode: UInt32 = 0o660, threads: Int, access: AccessPolicy = .default) {
        self.socketPath = socketPath
        self.socketMode = socketMode
        self.threads = threads
        self.access = access
    }

    /// `/run/llfreed/llfreed.sock` for root, `$XDG_RUNTIME_DIR/llfreed.sock` otherwise (falling
    /// back to `/tmp/llfreed-UID/llfreed.sock` when XDG_RUNTIME_DIR is unset).
    public static var defaultSocketPath: String {
        Wire.defaultSocketPath(uid: UInt32(getuid()), runtimeDirectory: getenv("XDG_RUNTIME_DIR").flatMap { String(validatingCString: $0) })
    }
}
