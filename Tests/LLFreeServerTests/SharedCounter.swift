// A counter that one test thread increments and another reads, with a flag for when it is final.

import Foundation

/// A count shared between threads.
final class SharedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    private var done = false

    var value: Int { lock.withLock { count } }
    var finished: Bool { lock.withLock { done } }
    func increment() { lock.withLock { count += 1 } }
    func finish() { lock.withLock { done = true } }
}
