// A flag the kill loop sets to stop its client threads.

import Foundation

/// Tells client threads to stop.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func stop() { lock.withLock { value = true } }
}
