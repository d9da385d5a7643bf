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
