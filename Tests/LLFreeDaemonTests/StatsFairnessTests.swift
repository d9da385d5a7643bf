// A client pipelining thousands of stats cannot stall the other clients of its event loop: the
// pool's part of stats is scanned once per change of the pool, not once per request, and off the
// loop; and a connection's requests are read a bounded read at a time, with the loop's other
// connections served in between. Measured on a one-loop daemon with a pool large enough that a
// scan per stats on the loop would hold it for seconds per read.

import Foundation
import LLFreeTestSupport
import LLFreeClient
import LLFreeProtocol
import Testing

@Suite(.serialized) struct StatsFairnessTests {
    /// Sends `requests` pipelined on a raw connection while another thread reads the replies;
    /// meanwhile pings on a second connection, and returns the slowest ping and how many
    /// replies the flood got.
    func pingsDuringFlood(_ daemon: DaemonProcess, _ requests: [RequestMessage]) throws -> (slowest: Duration, pings: Int, replies: Int) {
        // One thread only sends on it, the other only receives (the receive buffer is its alone).
        let flood = try RawConnection(daemon.socket)
        let bytes = requests.flatMap { WireCodec.encode($0) }
        let received = SharedCounter()
        let writer = Thread { flood.send(bytes) }
        let reader = Thread {
            while received.value < requests.count, case .reply = flood.receive(timeout: 60) { received.increment() }
            received.finish()
        }
        let bystander = BlockingLLFreeClient(socketPath: daemon.socket)
        defer { bystander.close() }
        try bystander.ping()
        writer.start()
        reader.start()
        // Let the flood get going, then measure while it lasts.
        #expect(waitUntil(timeout: .seconds(60)) { received.value >= 100 || received.finished }, "the flood did not start")
        let clock = ContinuousClock()
        var slowest = Duration.zero
        var pings = 0
        while !received.finished && pings < 200 {
            let start = clock.now
            try bystander.ping()
            slowest = max(slowest, clock.now - start)
            pings += 1
            Thread.sleep(forTimeInterval: 0.005)
        }
        #expect(waitUntil(timeout: .seconds(120)) { received.finished }, "the flood's replies did not all arrive")
        return (slowest, pings, received.value)
    }

    @Test func pipelinedStatsDoNotDelayAnotherClient() throws {
        let daemon = try DaemonProcess(size: "4G", threads: 1)
        defer { daemon.remove() }
        let requests = (1...30000).map { RequestMessage(id: UInt64($0), .stats) }
        let (slowest, pings, replies) = try pingsDuringFlood(daemon, requests)
        #expect(replies == requests.count)
        #expect(pings >= 5, "the flood ended before it could be measured against")
        #expect(slowest < .seconds(1), "a ping waited \(slowest) behind pipelined stats")
    }

    @Test func statsThatMustRescanStillLetOthersIn() throws {
        // Each stats follows a get, so each must scan the pool again: the scans run off the
        // loop, and the connection waits for each.
        let daemon = try DaemonProcess(size: "4G", threads: 1)
        defer { daemon.remove() }
        var requests = [RequestMessage]()
        for i in 0..<600 {
            requests.append(RequestMessage(id: UInt64(2 * i), .get(order: 0, count: 1, kind: .fixed)))
            requests.append(RequestMessage(id: UInt64(2 * i + 1), .stats))
        }
        let (slowest, pings, replies) = try pingsDuringFlood(daemon, requests)
        #expect(replies == requests.count)
        #expect(pings >= 5, "the flood ended before it could be measured against")
        #expect(slowest < .seconds(1), "a ping waited \(slowest) behind pipelined stats")
        // Stats stay exact: after the gets, they say so.
        let client = BlockingLLFreeClient(socketPath: daemon.socket)
        defer { client.close() }
        let stats = try client.stats()
        #expect(stats.frames - stats.freeFrames == 600)
        #expect(stats.freeRuns[0] == stats.freeFrames)
    }
}
