// The memory object of the shared-memory transport: one header page and two byte rings, the
// requests' (the client produces, the daemon consumes) and the replies' (the other way). Each
// ring carries wire messages exactly as the socket does. docs/protocol.md, "ring (0x11)", gives
// the layout byte by byte; these offsets must match it.

/// Offsets and sizes of a ring memory object (layout 1). All words are little-endian.
public enum RingLayout {
    /// Bytes 0...7: "LLFRING1".
    public static let magic: UInt64 = 0x3147_4E49_5246_4C4C  // "LLFRING1" read little-endian
    /// The layout revision this code reads and writes (u32 at 8).
    public static let version: UInt32 = 1
    /// Bytes of each ring (u32 at 12): at least twice the largest message (a put or get of
    /// Wire.maxBatch frames is 131,096 bytes), so one always fits once the ring is drained.
    public static let capacity = 256 * 1024
    /// Bytes before the request ring's data.
    public static let headerSize = 4096
    /// Bytes of the whole object (u64 at 16).
    public static let size = headerSize + 2 * capacity

    // Each position and each wake-up word on a cache line of its own: a side's stores do not
    // move the other side's lines.
    /// u64: bytes the client has published into the request ring (it alone writes it).
    public static let requestTail = 64
    /// u64: bytes the daemon has consumed from the request ring (it alone writes it).
    public static let requestHead = 128
    /// u64: bytes the daemon has published into the reply ring.
    public static let replyTail = 192
    /// u64: bytes the client has consumed from the reply ring.
    public static let replyHead = 256
    /// u32 futex word the daemon sleeps on; the client adds 1 and wakes it.
    public static let daemonWake = 320
    /// u32: 1 while the daemon sleeps or is about to (the daemon's); the client rings only then.
    public static let daemonSleeping = 324
    /// u32 futex word the client sleeps on; the daemon adds 1 and wakes it.
    public static let clientWake = 384
    /// u32: 1 while the client sleeps or is about to (the client's).
    public static let clientSleeping = 388
    /// u32: the ring's state, the daemon's (``RingState``).
    public static let state = 448
    /// The request ring's data.
    public static let requestData = headerSize
    /// The reply ring's data.
    public static let replyData = headerSize + capacity
}

/// What the daemon says of a ring (u32 at ``RingLayout/state``).
public enum RingState: UInt32, Sendable, CustomStringConvertible {
    /// Requests are served.
    case serving = 0
    /// No longer served: the connection closed or the daemon is stopping. Use the socket.
    case closed = 1
    /// No longer served: the client broke it (a position no producer could have written, or a
    /// message the stream cannot be split after). The connection stays open.
    case broken = 2

    public var description: String {
        switch self {
        case .serving: return "serving"
        case .closed: return "closed"
        case .broken: return "broken by the client"
        }
    }
}
