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
