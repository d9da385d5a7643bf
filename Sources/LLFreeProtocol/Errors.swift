// The protocol's errors: the codes on the wire, the body of an error reply, and what the codec
// throws for bytes that are not a valid message.

// Error codes of the wire protocol: the status field of a reply header, the reason of a partly
// served get and the per-frame result of a put.

/// Why a request (or one frame of it) was refused. `0` on the wire means success and has no case.
public enum ErrorCode: UInt16, Sendable, CaseIterable, CustomStringConvertible {
    /// The body does not have the layout its operation requires, or a reserved field is not zero.
    case malformed = 1
    /// The header's version (or the hello range) names no version this peer speaks.
    case unsupportedVersion = 2
    /// The op byte names no operation.
    case unknownOperation = 3
    /// The length field is larger than ``Wire/maxLength``. The connection is closed.
    case tooLarge = 4
    /// The length field is smaller than the rest of a header. The connection is closed.
    case tooShort = 5
    /// The order is larger than the pool allows.
    case invalidOrder = 6
    /// The frame count is 0 or larger than ``Wire/maxBatch``.
    case invalidCount = 7
    /// The kind byte names no kind.
    case invalidKind = 8
    /// The frame (or its run of 2^order frames) is not inside the pool.
    case invalidFrame = 9
    /// The frame is not aligned to its order.
    case misaligned = 10
    /// No free run of that order exists anywhere in the pool.
    case outOfMemory = 11
    /// A put of a run with a free frame (a double free), or for order ≥ 9 of a run that is not
    /// one huge allocation of that order. A put of base frames (order < 9) with another order
    /// than they were got with is not detected (see docs/protocol.md, put).
    case notAllocated = 12
    /// The client's credentials are not admitted. The connection is closed.
    case accessDenied = 13
    /// The daemon is shutting down and takes no new requests.
    case shuttingDown = 14
    /// The daemon failed in a way that is not the client's fault.
    case internalError = 15
    /// A put of a run another owner holds (version 2): nothing changed.
    case notOwner = 16
    /// A get would exceed the owner's quota: served up to the quota (the shortfall of a get).
    case quotaExceeded = 17
    /// No owner of that name exists (and the request does not create one).
    case unknownOwner = 18
    /// The peer may not act for that owner, or the request needs an administrator.
    case notPermitted = 19
    /// Reserved: the request needs an attached owner and the connection has none. This daemon
    /// never sends it (a connection that has not attached acts for the owner named after its uid).
    case notAttached = 20
    /// The owner table is full: no owner can be created until one is removed.
    case ownerTableFull = 21
    /// The owner still holds frames (remove), or exists with another kind (attach).
    case ownerBusy = 22

    public var description: String {
        switch self {
        case .malformed: return "malformed"
        case .unsupportedVersion: return "unsupported version"
        case .unknownOperation: return "unknown operation"
        case .tooLarge: return "message too large"
        case .tooShort: return "message too short"
        case .invalidOrder: return "invalid order"
        case .invalidCount: return "invalid count"
        case .invalidKind: return "invalid kind"
        case .invalidFrame: return "frame out of range"
        case .misaligned: return "frame misaligned"
        case .outOfMemory: return "out of memory"
        case .notAllocated: return "not allocated"
        case .accessDenied: return "access denied"
        case .shuttingDown: return "shutting down"
        case .internalError: return "internal error"
        case .notOwner: return "not owner"
        case .quotaExceeded: return "quota exceeded"
        case .unknownOwner: return "unknown owner"
        case .notPermitted: return "not permitted"
        case .notAttached: return "not attached"
        case .ownerTableFull: return "owner table full"
        case .ownerBusy: return "owner busy"
        }
    }
}

// The body of an error reply: the code from the header plus a human-readable explanation.

/// A refused request: nothing was changed by it.
public struct ReplyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The code from the status field.
    public var code: ErrorCode
    /// The daemon's explanation (UTF-8, at most ``Wire/maxMessage`` bytes).
    public var message: String

    public init(_ code: ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}

// The error the codec throws for bytes that are not a valid message.

/// Why a message could not be decoded. Carries what of the header could be read, so that the
/// receiver can address an error reply to the request it concerns.
public struct ProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The wire code to answer with.
    public var code: ErrorCode
    /// What exactly was wrong.
    public var message: String
    /// The request id, when the header was readable.
    public var id: UInt64?
    /// The op byte, when the header was readable.
    public var op: UInt8?
    /// Whether the byte stream can no longer be split into messages (a bad length field):
    /// the connection must be closed after the error reply.
    public var fatal: Bool

    public init(_ code: ErrorCode, _ message: String, id: UInt64? = nil, op: UInt8? = nil, fatal: Bool = false) {
        self.code = code
        self.message = message
        self.id = id
        self.op = op
        self.fatal = fatal
    }

    public var description: String { "\(code): \(message)" }
}
