// The heartbeat has stopped (not merely been told to) when the service returns, since the caller
// closes the pool right after.

import Foundation
import LLFree
import LLFreeDaemon
import LLFreeServer
import LLFreeTestSupport
import Logging
import NIOConcurrencyHelpers
import Testing

@Suite struct HeartbeatTests {
    let directory: String

    init() throws {
        directory = try VolatileAllocator.makeDirectory("llfreed-heartbeat")
    }

    @Test func theHeartbeatHasStoppedWhenTheServiceReturns() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let memory = try VolatileAllocator(frames: 16 * 512)
        let server = try memory.server(in: directory)
        // Every report fails (no one listens there), and reporting the failure takes a while:
        // the heartbeat spends nearly all its time in a report, as it would in a slow send.
        let reports = NIOLockedValueBox((begun: 0, ended: 0))
        let heartbeat = Heartbeat(notifier: SystemdNotifier(socket: directory + "/nobody.sock"), watchdogInterval: .milliseconds(5)) { _ in
            reports.withLockedValue { $0.begun += 1 }
            usleep(300_000)
            reports.withLockedValue { $0.ended += 1 }
        }
        let service = ServerService(server: server, heartbeat: heartbeat)
        let running = Task { try await service.run() }
        // An async condition, so the wait suspends instead of holding one of the pool's threads.
        // A long bound: on a 2-core machine other suites' blocking waits can hold the pool's
        // threads for minutes; the bound only keeps a broken heartbeat from hanging the run.
        let reported = await waitUntil(timeout: .seconds(600)) { () async -> Bool in reports.withLockedValue { $0.begun } >= 2 }
        #expect(reported, "the heartbeat did not report")
        running.cancel()
        try await running.value
        let atReturn = reports.withLockedValue { $0 }
        #expect(atReturn.begun == atReturn.ended, "the heartbeat was still reporting when the service returned")
        // An absence can only be watched for: over more than a whole report (300 ms) and interval
        // (5 ms). A slow machine can make this miss a late report, never fail a correct heartbeat.
        try await Task.sleep(for: .milliseconds(400))
        #expect(reports.withLockedValue { $0.begun } == atReturn.begun, "the heartbeat reported after the service returned")
    }
}
