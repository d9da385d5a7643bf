// The C client across daemon restarts and threads, read as a specification: a call on a
// connection the daemon closed, nothing of which was sent, goes out on a new connection that
// acts for the same owner; a call in flight when the daemon dies fails with
// LLFREE_E_CONNECTION_LOST and is never sent again; one client may be shared by threads (its
// lock serialises calls) as well as a client per thread.

import CLLFreeClient
import Foundation
import LLFreeClient
import LLFreeTestSupport
import Testing

@Suite(.serialized) struct CClientReconnectTests {
    @Test(arguments: [false, true])
    func aCallAfterARestartConnectsAgainAndActsForTheSameOwner(killed: Bool) throws {
        let daemon = try DaemonProcess()
        defer { daemon.remove() }
        let c = try CClient.connected(daemon, owner: "c-restart")
        var before = [UInt64](repeating: 0, count: 3)
        var served = 0
        #expect(llfree_get(c.pointer, 0, 3, LLFREE_KIND_FIXED, &before, &served, nil) == LLFREE_OK)
        if killed { daemon.crash() } else { #expect(daemon.terminate() == 0) }
        try daemon.start()

        var after = [UInt64](repeating: 0, count: 2)
        #expect(llfree_get(c.pointer, 0, 2, LLFREE_KIND_FIXED, &after, &served, nil) == LLFREE_OK, "\(CClient.message)")
        #expect(served == 2)
        var owner = llfree_owner_record()
        #expect(llfree_attached(c.pointer, &owner) == LLFREE_OK)
        // `held` is exact only once every tree is settled after the start (docs/protocol.md), which
        // runs in the background; the list settles what it reads, so it is exact now.
        #expect(CClient.string(owner.name) == "c-restart" && owner.created == 0 && owner.held <= 3)
        #expect(Set(try CClient.runs(c)) == Set(before + after))
    }

    @Test func aCallInFlightWhenTheDaemonDiesFailsAndIsNotSentAgain() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.remove() }
        let c = try CClient.connected(daemon, owner: "c-lost")
        // Stopped, the daemon reads nothing: the get's request waits in the socket, unserved.
        try daemon.pause()
        let waiting = SharedThreadID()
        let outcome: (llfree_status, Int, String) = try await onOwnThread {
            waiting.setToThisThread()
            var frames = [UInt64](repeating: 0, count: 8)
            var served = -1
            let status = llfree_get(c.pointer, 0, 8, LLFREE_KIND_FIXED, &frames, &served, nil)
            return (status, served, CClient.message)
        } racing: {
            // The call blocks in recvmsg only after its request was written.
            // A generous bound: on a loaded 2-core machine the caller's thread may take long to run.
            #expect(waitUntil(timeout: .seconds(120)) { waiting.isSleeping() }, "the get never waited for its reply")
            kill(daemon.process.processIdentifier, SIGKILL)
        }
        daemon.process.waitUntilExit()
        #expect(outcome.0 == LLFREE_E_CONNECTION_LOST, "\(outcome.2)")
        #expect(outcome.1 == 0)
        #expect(outcome.2.contains("may have been served"))

        try daemon.start()
        // The next call connects again; the lost get was not sent again: nothing was allocated.
        #expect(try CClient.runs(c).isEmpty)
        var stats = llfree_stats()
        #expect(llfree_stats_get(c.pointer, &stats) == LLFREE_OK)
        #expect(stats.frames_allocated == 0 && stats.free_frames == stats.frames)
    }

    @Test(arguments: [true, false])
    func threadsMayShareOneClientOrHaveOneEach(shared: Bool) async throws {
        let daemon = try DaemonProcess()
        defer { daemon.remove() }
        let one = try CClient.connected(daemon, owner: "c-threads")
        let clients = shared ? [one, one] : [one, try CClient.connected(daemon, owner: "c-threads")]
        let failures = try await withThrowingTaskGroup(of: [String].self) { group in
            for client in clients {
                group.addTask {
                    try await onOwnThread {
                        var failures = [String]()
                        var frames = [UInt64](repeating: 0, count: 3)
                        for _ in 0..<300 {
                            var served = 0, freed = 0
                            var status = llfree_get(client.pointer, 0, 3, LLFREE_KIND_FIXED, &frames, &served, nil)
                            if status != LLFREE_OK || served != 3 { failures.append("get: \(CClient.message)"); continue }
                            status = llfree_put(client.pointer, 0, frames, 3, nil, &freed)
                            if status != LLFREE_OK || freed != 3 { failures.append("put: \(CClient.message)") }
                        }
                        return failures
                    }
                }
            }
            return try await group.reduce(into: [String]()) { $0 += $1 }
        }
        #expect(failures.isEmpty, "\(failures.prefix(3))")
        #expect(try CClient.runs(one).isEmpty)
    }
}

/// A thread's id, set by the thread, and whether that thread sleeps in the kernel now (state S
/// in /proc: for a thread whose only blocking call left is recvmsg, that it waits for a reply).
final class SharedThreadID: @unchecked Sendable {
    private let lock = NSLock()
    private var tid: pid_t = 0
    /// The calling thread's id, from /proc/thread-self (a link to PID/task/TID).
    func setToThisThread() {
        let link = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self")) ?? ""
        let value = pid_t(link.split(separator: "/").last.map(String.init) ?? "") ?? 0
        lock.withLock { tid = value }
    }
    func isSleeping() -> Bool {
        let id = lock.withLock { tid }
        guard id != 0, let stat = try? String(contentsOfFile: "/proc/self/task/\(id)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return stat[stat.index(close, offsetBy: 2)] == "S"
    }
}

/// Runs `body` on a thread of its own while `racing` runs here; returns `body`'s result.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T, racing: () async throws -> Void) async throws -> T {
    async let result = onOwnThread(body)
    try await racing()
    return try await result
}
