// The wire protocol's vocabulary: header constants and limits, operation codes, and the enumerated
// bytes of request and reply bodies (kind, durability). docs/protocol.md is the normative
// description; these values must match it.

/// Fixed facts of the wire format shared by the codec, the server and the clients.
public enum Wire {
    /// The header's version byte: the framing revision, 1 in every message of protocol versions
    /// 1 and 2 (the protocol version is negotiated by hello, not carried per message).
    public static let framing: UInt8 = 1
    /// The highest protocol version this codec speaks.
    public static let version: UInt16 = 3
    /// The lowest protocol version this codec speaks.
    public static let minVersion: UInt16 = 1
    /// Most bytes of an owner's name.
    public static let maxOwnerName = 64
    /// Most owners one owners request may ask for.
    public static let maxOwnerPage = 256
    /// Bytes of the length field that starts every message.
    public static let lengthSize = 4
    /// Bytes of a whole header, length field included: length u32, version u8, op u8,
    /// status u16, id u64.
    public static let headerSize = 16
    /// Largest value of the length field (bytes after it). Larger values are refused before
    /// any of the message is read, so a client cannot make the server buffer without bound.
    public static let maxLength = 256 * 1024
    /// Most frames one get or put may name.
    public static let maxBatch = 16384
    /// Largest order the codec accepts; the pool's own maximum (hello) is usually lower.
    public static let maxOrder = 63
    /// Most bytes of UTF-8 text in an error reply.
    public static let maxMessage = 1024
    /// Most bytes of the pool path in a hello reply.
    public static let maxPath = 4096
    /// Bit set in the op byte of every reply.
    public static let replyBit: UInt8 = 0x80
    /// The op byte of a reply to a message whose header could not be read (bad length).
    public static let framingErrorOp: UInt8 = 0xFF

    /// The socket path daemon and clients agree on by default: `/run/llfreed/llfreed.sock` for
    /// root, `$XDG_RUNTIME_DIR/llfreed.sock` otherwise, `/tmp/llfreed-UID/llfreed.sock` when
    /// there is no runtime directory.
    public static func defaultSocketPath(uid: UInt32, runtimeDirectory: String?) -> String {
        if uid == 0 { return "/run/llfreed/llfreed.sock" }
        if let runtimeDirectory, !runtimeDirectory.isEmpty { return runtimeDirectory + "/llfreed.sock" }
        return "/tmp/llfreed-\(uid)/llfreed.sock"
    }
}

// The operations a client can ask for, as numbered on the wire.

/// A request's operation code (the op byte of the header; replies set ``Wire/replyBit``).
public enum Operation: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case hello = 0x01
    case get = 0x02
    case put = 0x03
    case isFree = 0x04
    case stats = 0x05
    case ping = 0x06
    case attach = 0x07
    case list = 0x08
    case release = 0x09
    case rootGet = 0x0A
    case rootSet = 0x0B
    case ownerInfo = 0x0C
    case owners = 0x0D
    case removeOwner = 0x0E
    case setQuota = 0x0F
    case frames = 0x10
    case ring = 0x11

    /// The protocol version a connection must have negotiated (hello) to send this operation.
    public var minimumVersion: UInt16 { rawValue >= Operation.frames.rawValue ? 3 : rawValue >= Operation.attach.rawValue ? 2 : 1 }

    public var description: String {
        switch self {
        case .hello: return "hello"
        case .get: return "get"
        case .put: return "put"
        case .isFree: return "is-free"
        case .stats: return "stats"
        case .ping: return "ping"
        case .attach: return "attach"
        case .list: return "list"
        case .release: return "release"
        case .rootGet: return "root-get"
        case .rootSet: return "root-set"
        case .ownerInfo: return "owner-info"
        case .owners: return "owners"
        case .removeOwner: return "remove-owner"
        case .setQuota: return "set-quota"
        case .frames: return "frames"
        case .ring: return "ring"
        }
    }
}

/// The kind byte of a get: which kind of tree the frames come from (the paper's fixed / movable /
/// huge). Orders >= 9 are always served from huge trees. The allocator's own type is `LLFree.Kind`;
/// this one keeps the protocol free of the allocator module, and the server bridges the two with
/// an exhaustive conversion.
public enum WireKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Base frames that stay allocated for long (the default).
    case fixed = 0
    /// Base frames that could be moved or reclaimed.
    case movable = 1
    /// Huge frames.
    case huge = 2

    public var description: String {
        switch self {
        case .fixed: return "fixed"
        case .movable: return "movable"
        case .huge: return "huge"
        }
    }
}

/// The durability byte of a hello reply: which persistence backend makes the pool's state durable
/// before each reply. The pool's own setting is `LLFreePool.DurabilityMode` (no `volatile`: a
/// volatile allocator has no pool); the daemon bridges the two with an exhaustive conversion.
public enum WireDurability: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Volatile memory: nothing survives the daemon.
    case volatile = 0
    /// Persistent memory: cache-line flushes and a fence (libpmem) before each reply.
    case pmem = 1
    /// A mapped file on ordinary storage: msync before each reply.
    case msync = 2
    /// Cache-line flushes and a fence on a mapping that is not persistent memory (tmpfs, page
    /// cache): survives a crash of the daemon, not a power cut.
    case cpuCache = 3

    public var description: String {
        switch self {
        case .volatile: return "volatile"
        case .pmem: return "pmem"
        case .msync: return "msync"
        case .cpuCache: return "cpu-cache"
        }
    }
}
