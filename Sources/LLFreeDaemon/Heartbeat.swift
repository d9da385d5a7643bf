// While llfreed serves: every interval, check that each event loop still runs work, and if so
// send systemd WATCHDOG=1 (when the unit sets WatchdogSec=) and a fresh STATUS= line with the
// free frames. A wedged loop stops the keep-alives, and systemd restarts the daemon, which
// recovery makes safe.

import LLFreeProtocol
import LLFreeServer

/// Periodic liveness and status reports to systemd.
public struct Heartbeat: Sendable {
    /// Where the reports go.
    public let notifier: SystemdNotifier
    /// Time between reports: half of WATCHDOG_USEC with a watchdog, else the status interval.
    public let interval: Duration
    /// Whether to send WATCHDOG=1 (a watchdog is set for this process).
    public let watchdog: Bool
    /// Called with each failed send or a wedged loop, for the log.
    public let problem: @Sendable (String) -> Void

    /// Reports every `watchdogInterval` (half of WATCHDOG_USEC, see ``SystemdNotifier/watchdogInterval(environment:pid:)``)
    /// if a watchdog is set, else every `statusInterval`.
    public init(notifier: SystemdNotifier, watchdogInterval: Duration?, statusInterval: Duration = .seconds(10),
                problem: @escaping @Sendable (String) -> Void = { _ in }) {
        self.notifier = notifier
        self.watchdog = watchdogInterval != nil
        self.interval = watchdogInterval ?? statusInterval
        self.problem = problem
    }

    /// Runs until cancelled; once cancelled it reports nothing more and touches no allocator, so
    /// awaiting it after cancelling makes it safe to close the pool.
    public func run<A: FrameAllocator>(_ server: LLFreeServer<A>) async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            let responding = await server.eventLoopsRespond(within: interval)
            // Cancelled while checking: the server is stopping, which is no wedged loop to report.
            if Task.isCancelled { return }
            guard responding else {
                problem("an event loop did not run a no-op within \(ReadableDuration(interval)); withholding WATCHDOG=1")
                continue
            }
            do {
                if watchdog { try notifier.watchdog() }
                try notifier.status(server.statusLine)
            } catch {
                problem("\(error)")
            }
        }
    }
}
