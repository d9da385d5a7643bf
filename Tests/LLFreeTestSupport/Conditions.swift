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
