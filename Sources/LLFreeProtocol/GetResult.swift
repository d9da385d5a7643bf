// The body of a get reply: the frames served, and why not all of them if the batch was short.

/// The frames a get obtained. A batch that could only be partly served returns what it got
/// (those frames are allocated and belong to the client) and `shortfall` says why it stopped.
public struct GetResult: Sendable, Equatable {
    /// First frame of each run obtained, at most the count asked.
    public var frames: [UInt64]
    /// Why fewer frames than asked were served; nil when the whole batch was served.
    public var shortfall: ErrorCode?

    public init(frames: [UInt64], shortfall: ErrorCode? = nil) {
        self.frames = frames
        self.shortfall = shortfall
    }
}
