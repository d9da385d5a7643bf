// A client that pipelines requests and then shuts its write side (shutdown(SHUT_WR)) still reads
// every reply: the daemon answers all it read, flushes, and only then closes. Nothing allocated
// for a request goes unreported: the pool's free count matches what the replies say.

import Foundation
import LLFreeTestSupport
import LLFreeClient
import LLFreeProtocol
import Testing

@Suite(.serialized) struct HalfCloseTests {
    @Test func pipelinedGetsThenHalfCloseGetEveryReply() throws {
        // 1 GiB: 262144 frames, less than the 40 × 16384 asked for, so the last gets come back
        // short; every reply (and with it every frame) must still reach the client.
        let daemon = try DaemonProcess(size: "1G", threads: 1)
        defer { daemon.remove() }
        let raw = try RawConnection(daemon.socket)
        var bytes = [UInt8]()
        for id in 1...40 { bytes += WireCodec.encode(RequestMessage(id: UInt64(id), .get(order: 0, count: UInt32(Wire.maxBatch), kind: .fixed))) }
        raw.send(bytes)
        #expect(shutdown(raw.fd, Int32(SHUT_WR)) == 0)
        var frames = Set<UInt64>()
        var replies = 0
        for id in 1...40 {
            guard case .reply(let reply) = raw.receive(timeout: 30) else {
                Issue.record("reply \(id) of 40 is missing after the half-close")
                break
            }
            #expect(reply.id == UInt64(id))
            guard case .get(let result) = reply.reply else { Issue.record("reply \(id) is not a get: \(reply)"); continue }
            frames.formUnion(result.frames)
            replies += 1
        }
        #expect(replies == 40)
        // Then the daemon closes: the half-closed connection does not linger.
        #expect(raw.receive(timeout: 10) == .closed)
        let client = BlockingLLFreeClient(socketPath: daemon.socket)
        defer { client.close() }
        let stats = try client.stats()
        #expect(stats.frames - stats.freeFrames == UInt64(frames.count), "allocated frames the replies did not report")
        #expect(UInt64(frames.count) == stats.frames)
    }

    @Test func halfCloseWithNothingPendingClosesTheConnection() throws {
        let daemon = try DaemonProcess(threads: 1)
        defer { daemon.remove() }
        let raw = try RawConnection(daemon.socket)
        #expect(raw.roundTrip(RequestMessage(id: 1, .ping)) == .reply(ReplyMessage(id: 1, .ping)))
        raw.send(WireCodec.encode(RequestMessage(id: 2, .ping)))
        #expect(shutdown(raw.fd, Int32(SHUT_WR)) == 0)
        #expect(raw.receive() == .reply(ReplyMessage(id: 2, .ping)))
        #expect(raw.receive() == .closed)
        let client = BlockingLLFreeClient(socketPath: daemon.socket)
        defer { client.close() }
        try client.ping()
        #expect(try client.stats().clientsConnected == 1)
    }
}
