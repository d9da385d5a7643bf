// Caps on open client connections, so idle connections cannot use up the daemon's file
// descriptors: at most `perUID` per user (one user's clients cannot lock out the others) and at
// most `total` in all, which start() sets from RLIMIT_NOFILE minus a reserve, so the daemon
// refuses with a reason before accept would fail with EMFILE. A refused connection is answered
// with an error saying why and closed.

import NIOConcurrencyHelpers

/// Counts admitted connections per uid and in total. Thread-safe: every event loop admits and
/// releases through the same limiter.
final class ConnectionLimiter: Sendable {
    /// Connections one uid may hold open at once.
    static let perUIDDefault = 1024
    /// Descriptors kept out of the connection cap: stdio, the pool file, each event loop's epoll,
    /// eventfd and timerfd, the listener, the metrics endpoint and its scrapes, systemd
    /// notifications, and a refused connection's own descriptor while its error reply is sent.
    static let reservedDescriptors = 64

    /// Connections one uid may hold open at once.
    let perUID: Int
    private let state: NIOLockedValueBox<State>

    private struct State {
        var byUID: [UInt32: Int] = [:]
        var total = 0
        var maximum: Int
        var descriptorLimit: UInt64?
    }

    init(perUID: Int = ConnectionLimiter.perUIDDefault, total: Int = .max) {
        self.perUID = perUID
        state = NIOLockedValueBox(State(maximum: total))
    }

    /// Caps the total at what `limit` descriptors leave after the reserve (at least 1).
    func fit(to limit: FileDescriptorLimit) {
        let usable = limit.soft > UInt64(Int.max) ? Int.max : Int(limit.soft)
        state.withLockedValue {
            $0.maximum = max(1, usable - Self.reservedDescriptors)
            $0.descriptorLimit = limit.soft
        }
    }

    /// The cap on all connections.
    var total: Int { state.withLockedValue { $0.maximum } }

    /// Admits a connection of `uid` and counts it (the caller must ``release(_:)`` it when it
    /// closes), or returns why not, for the error reply; a refused connection is not counted.
    func admit(_ uid: UInt32) -> String? {
        state.withLockedValue { s in
            let mine = s.byUID[uid, default: 0]
            if mine >= perUID {
                return "uid \(uid) already has \(mine) connections open, the most one user may hold (\(perUID)); "
                    + "this one was closed without serving anything: close idle connections and retry"
            }
            if s.total >= s.maximum {
                let limit = s.descriptorLimit.map { " (its file-descriptor limit is \($0))" } ?? ""
                return "the daemon already serves \(s.total) connections, the most it can hold open\(limit); "
                    + "this one was closed without serving anything: retry later"
            }
            s.byUID[uid] = mine + 1
            s.total += 1
            return nil
        }
    }

    /// Forgets a connection ``admit(_:)`` admitted.
    func release(_ uid: UInt32) {
        state.withLockedValue { s in
            let mine = s.byUID[uid, default: 0]
            if mine <= 1 { s.byUID.removeValue(forKey: uid) } else { s.byUID[uid] = mine - 1 }
            s.total -= 1
        }
    }
}
