// State shared by all connections of a server: whether it is shutting down, and the open
// channels, so a graceful shutdown can drain each of them.

import NIOConcurrencyHelpers
import NIOCore

/// Shared, thread-safe server state.
final class ServerState: Sendable {
    /// The event that asks a connection to finish what it read and close.
    struct Drain: Sendable {}

    /// How long a draining connection must be quiet before it closes.
    let linger: TimeAmount

    /// Shared-memory rings served at once, at most.
    let maxRings: Int
    private let rings = NIOLockedValueBox(0)

    init(linger: Duration, maxRings: Int = ServerConfiguration.defaultMaxRings) {
        self.maxRings = maxRings
        let (seconds, attoseconds) = linger.components
        self.linger = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    private let shuttingDown = NIOLockedValueBox(false)
    private let channels = NIOLockedValueBox([ObjectIdentifier: Channel]())

    var isShuttingDown: Bool { shuttingDown.withLockedValue { $0 } }

    /// Counts a new ring if fewer than ``maxRings`` are served; false otherwise.
    func admitRing() -> Bool {
        rings.withLockedValue { n in
            guard n < maxRings else { return false }
            n += 1
            return true
        }
    }

    /// A ring admitted by ``admitRing()`` stopped.
    func ringStopped() { rings.withLockedValue { $0 -= 1 } }

    func beginShutdown() { shuttingDown.withLockedValue { $0 = true } }

    /// Tracks `channel` until it closes.
    func track(_ channel: Channel) {
        let id = ObjectIdentifier(channel)
        channels.withLockedValue { $0[id] = channel }
        channel.closeFuture.whenComplete { [self] _ in
            _ = channels.withLockedValue { $0.removeValue(forKey: id) }
        }
    }

    /// The open connections.
    var open: [Channel] { channels.withLockedValue { Array($0.values) } }
}
