// A counter that one test thread increments and another reads, with a flag for when it is final.

import Foundation

/// A count shared between threads.
public final class SharedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    private var done = false

    public init() {}

    public var value: Int { lock.withLock { count } }
    public var finished: Bool { lock.withLock { done } }
    public func increment() { lock.withLock { count += 1 } }
    public func finish() { lock.withLock { done = true } }
}
