// Typed errors of the allocator. Every error leaves the allocator's state as it was.

/// Why an allocator operation was refused. A refused operation changed nothing.
public enum LLFreeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No free, naturally aligned run of the requested order exists anywhere.
    case outOfMemory(order: Int)
    /// The arguments were wrong: frame out of range, misaligned for its order, order too large,
    /// bad geometry. The text says which.
    case invalidArgument(String)
    /// A put of frames that are not allocated as asked: a double free, or a put whose order does
    /// not match how the frames were taken.
    case notAllocated(frame: UInt64, order: Int)
    /// A get of a specific frame that is not free.
    case notFree(frame: UInt64, order: Int)
    /// A put of a run held by another owner than the one named.
    case notOwner(frame: UInt64, order: Int)

    public var description: String {
        switch self {
        case .outOfMemory(let order):
            return "out of memory: no free frame of order \(order); nothing was allocated"
        case .invalidArgument(let why):
            return "invalid argument: \(why); nothing was changed"
        case .notAllocated(let frame, let order):
            return "frame \(frame) of order \(order) is not allocated with that order (double free or order mismatch); nothing was freed"
        case .notFree(let frame, let order):
            return "frame \(frame) of order \(order) is not free; nothing was allocated"
        case .notOwner(let frame, let order):
            return "frame \(frame) of order \(order) is held by another owner; nothing was freed"
        }
    }
}
