// The error a test helper throws when the world around the test is not as it needs it (a socket
// that cannot be bound, a daemon that does not start): its description says what.

/// A failure of a test's setup, with what went wrong.
public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
