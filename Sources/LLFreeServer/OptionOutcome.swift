// Receives the result of a socket-option future that completes synchronously (see
// SynchronousOption); the initial value is what the caller sees if it did not.

/// The result of a future that completed before `whenComplete` returned.
final class OptionOutcome<Value>: @unchecked Sendable {
    var result: Result<Value, Error> = .failure(ServerError.internalError("a socket option read did not complete synchronously"))
}
