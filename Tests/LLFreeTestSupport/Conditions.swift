// What tests wait for and what they need: a bounded wait for a condition instead of a fixed sleep
// (a shared 2-core CI machine makes any fixed delay either too long or, some day, too short), and
// whether the tests run as root, so that root-only tests are reported skipped, not passed.

import Foundation

/// Whether the process runs as root: tests that chown to other uids, run the daemon as another
/// user or fill root's connection cap are enabled only then.
public let runsAsRoot = getuid() == 0

/// Polls `condition` every few milliseconds until it holds or `timeout` has passed.
/// - Returns: whether it held (the caller records the failure, saying what it waited for).
@discardableResult
public func waitUntil(timeout: Duration = .seconds(10), _ condition: () throws -> Bool) rethrows -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while true {
        if try condition() { return true }
        if clock.now >= deadline { return false }
        Thread.sleep(forTimeInterval: 0.005)
    }
}

/// The async form: polls `condition` until it holds or `timeout` has passed.
@discardableResult
public func waitUntil(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while true {
        if try await condition() { return true }
        if clock.now >= deadline { return false }
        try? await Task.sleep(for: .milliseconds(5))
    }
}

/// Runs `body` on a thread of its own and returns its result: CPU-bound test work (a crash sweep
/// takes minutes in a debug build) must not hold a thread of the cooperative pool, which on a
/// 2-core machine are all the threads every other test's tasks, timers and waits have.
/// Expectations belong after the await, in the test's own task, where they are attributed to it.
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.stackSize = 16 << 20
        thread.start()
    }
}
