// Why a `metrics.listen` value was refused.

/// A `metrics.listen` value that is not an address the endpoint can listen on.
public struct MetricsListenError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The value given.
    public let text: String
    /// What is wrong with it.
    public let reason: String

    public var description: String { "'\(text)': \(reason)" }
}
