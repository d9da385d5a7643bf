// The shared-memory transport through the real daemon: a connection asks for a ring and gets,
// puts and pings on it as on the socket, with the same answers; batches larger than the rings
// complete; a client that scribbles on its ring breaks only that ring; the ring ends with its
// connection, before an ephemeral owner's frames are freed; an idle ring costs the daemon no CPU;
// a daemon killed under a ring fails the call instead of hanging it.

import Foundation
@testable import LLFreeClient
import LLFreeProtocol
import LLFreeRing
import LLFreeTestSupport
import Testing

@Suite struct RingTests {
    @Test func getsPutsAndPingsOnTheRingAreAnsweredAsOnTheSocket() throws {
        let daemon = try DaemonProcess(size: "64M")
        defer { daemon.remove() }
        let client = BlockingLLFreeClient(socketPath: daemon.socket, owner: OwnerAttachment(name: "ringer"))
        defer { client.close() }
        let ring = try client.ring()
        #expect(ring.grant == RingGrant(layout: 1, capacity: UInt32(RingLayout.capacity), size: UInt64(RingLayout.size)))
        try ring.ping()
        let small = try ring.get(order: 0, count: 300)
        let huge = try ring.get(order: 9, count: 2, kind: .huge)
        #expect(small.frames.count == 300 && small.shortfall == nil && huge.frames.count == 2)
        #expect(Set(small.frames).count == 300)
        // The socket sees what the ring did, for the same owner.
        #expect(try client.ownerInfo().held == 300 + 2 * 512)
        #expect(try ring.isFree(small.frames[0]) == false)
        // A refused frame is refused per frame, as on the socket; the rest are freed.
        let put = try ring.put(order: 0, frames: small.frames + [small.frames[0]])
        #expect(put.freed == 300 && put.results.filter { $0 != nil }.count == 1)
        #expect(try ring.put(order: 9, frames: huge.frames).freed == 2)
        #expect(try client.stats().freeFrames == 64 * 256)
        // A request the ring does not carry is answered, and the ring goes on.
        guard case .error(_, let error) = try ring.send(.owners(from: 1, limit: 10)) else { Issue.record("owners was served on the ring"); return }
        #expect(error.code == .unknownOperation)
        // A malformed get (count 0) is refused as on the socket, and changes nothing.
        guard case .error(_, let refused) = try ring.send(.get(order: 0, count: 0, kind: .fixed)) else { Issue.record("a get of 0 frames was served"); return }
        #expect(refused.code == .invalidCount)
        try ring.ping()
        #expect(try client.stats().freeFrames == 64 * 256)
    }

    /// Batches split into several requests, and more bytes than both rings hold, both ways.
    @Test func batchesLargerThanTheRingsComplete() throws {
        let daemon = try DaemonProcess(size: "256M")
        defer { daemon.remove() }
        let client = BlockingLLFreeClient(socketPath: daemon.socket)
        defer { client.close() }
        let ring = try client.ring()
        let count = 3 * Wire.maxBatch + 100
        let got = try ring.get(order: 0, count: count)
        #expect(got.frames.count == count && got.shortfall == nil && Set(got.frames).count == count)
        let put = try ring.put(order: 0, frames: got.frames)
        #expect(put.freed == count && put.results.count == count)
        #expect(try client.stats().freeFrames == 256 * 256)
    }

    /// Positions no producer could write end the ring (its state says broken), and only it: the
    /// connection, the daemon and the pool go on unchanged.
    @Test func aClientThatScribblesOnItsRingBreaksOnlyThatRing() throws {
        let daemon = try DaemonProcess(size: "64M")
        defer { daemon.remove() }
        let client = BlockingLLFreeClient(socketPath: daemon.socket, owner: OwnerAttachment(name: "scribbler"))
        defer { client.close() }
        let ring = try client.ring()
        let held = try ring.get(order: 0, count: 10).frames
        let before = try client.stats()
        // A request tail far ahead of anything written.
        ring.memory.word64(RingLayout.requestTail).store(1 << 40, ordering: .releasing)
        ring.memory.daemonDoorbell().ring()
        #expect(waitUntil { !ring.isServed })
        #expect(ring.memory.state == .broken)
        #expect(throws: ClientError.self) { try ring.ping() }
        let after = try client.stats()
        #expect(after.freeFrames == before.freeFrames)
        #expect(try client.put(order: 0, frames: held).freed == 10)
        // A new ring on the same connection is refused (one ring a connection), a new
        // connection gets one, and a length field beyond the limit breaks it the same way.
        let other = BlockingLLFreeClient(socketPath: daemon.socket, owner: OwnerAttachment(name: "scribbler"))
        defer { other.close() }
        let second = try other.ring()
        var huge = UInt32(Wire.maxLength + 1).littleEndian
        var producer = second.memory.requestProducer()
        withUnsafeBytes(of: &huge) { producer.append($0) }
        producer.publish()
        second.memory.daemonDoorbell().ring()
        #expect(waitUntil { !second.isServed })
        try other.ping()
        #expect(try other.stats().freeFrames == 64 * 256)
    }

    /// The ring ends with its connection: calls on it fail, and an ephemeral owner's frames got
    /// on the ring are freed (the ring stopped before the owner was detached).
    @Test func theRingEndsWithItsConnection() throws {
        let daemon = try DaemonProcess(size: "64M")
        defer { daemon.remove() }
        let client = BlockingLLFreeClient(socketPath: daemon.socket, owner: OwnerAttachment(name: "brief", kind: .ephemeral))
        let ring = try client.ring()
        #expect(try ring.get(order: 0, count: 1000).frames.count == 1000)
        client.close()
        #expect(waitUntil { !ring.isServed })
        #expect(ring.memory.state == .closed)
        #expect(throws: ClientError.self) { try ring.ping() }
        let observer = BlockingLLFreeClient(socketPath: daemon.socket)
        defer { observer.close() }
        #expect(try waitUntil { try observer.stats().freeFrames == 64 * 256 })
    }

    /// An idle ring sleeps on its futex: the daemon uses (almost) no CPU while a client holds
    /// one and sends nothing.
    @Test func anIdleRingCostsTheDaemonNoCPU() throws {
        let daemon = try DaemonProcess(size: "64M", extra: ["--zero-cpu", "0"])
        defer { daemon.remove() }
        let client = BlockingLLFreeClient(socketPath: daemon.socket)
        defer { client.close() }
        let ring = try client.ring()
        try ring.ping()
        let pid = daemon.process.processIdentifier
        func cpuTicks() throws -> Int {
            let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
            let fields = stat[stat.range(of: ")")!.upperBound...].split(separator: " ")
            return Int(fields[11])! + Int(fields[12])!  // utime, stime (fields 14 and 15)
        }
        let start = try cpuTicks(), clock = ContinuousClock(), began = clock.now
        // Measured over a second of idleness (not a wait for a condition: the span is the measure).
        while clock.now - began < .seconds(1) { usleep(50_000) }
        let used = try cpuTicks() - start
        #expect(used <= 5, "the daemon used \(used) ticks (1/100 s) in a second with an idle ring")
        try ring.ping()
    }

    /// `ring.max` bounds the rings (each a thread and 516 KiB): one beyond it is refused with
    /// notPermitted while the socket goes on, and a ring that ends makes room.
    @Test func ringsBeyondRingMaxAreRefusedAndAnEndedRingMakesRoom() throws {
        let daemon = try DaemonProcess(size: "64M", extra: ["--max-rings", "1"])
        defer { daemon.remove() }
        let first = BlockingLLFreeClient(socketPath: daemon.socket)
        _ = try first.ring()
        let second = BlockingLLFreeClient(socketPath: daemon.socket)
        defer { second.close() }
        let refused = Result { () throws(ClientError) in try second.ring() }
        guard case .failure(.refused(let error)) = refused else { Issue.record("a ring beyond ring.max 1: \(refused)"); return }
        #expect(error.code == .notPermitted && error.message.contains("ring.max"), "\(error)")
        try second.ping()
        first.close()
        #expect(waitUntil { (try? second.ring()) != nil })
    }

    /// SIGTERM with a ring open: the ring is stopped with its connection, before the pool is
    /// closed, and the daemon exits cleanly.
    @Test func aGracefulStopEndsTheRingBeforeThePoolCloses() throws {
        let daemon = try DaemonProcess(size: "64M")
        defer { daemon.remove() }
        let client = BlockingLLFreeClient(socketPath: daemon.socket)
        defer { client.close() }
        let ring = try client.ring()
        let held = try ring.get(order: 0, count: 64).frames
        #expect(held.count == 64)
        #expect(daemon.terminate() == 0)
        #expect(ring.memory.state == .closed)
        #expect(throws: ClientError.self) { try ring.ping() }
    }

    /// A daemon killed while a ring waits: the call fails (the socket's hangup is seen), it
    /// does not hang.
    @Test func aKilledDaemonFailsTheRingsCallsInsteadOfHangingThem() throws {
        let daemon = try DaemonProcess(size: "64M")
        defer { daemon.remove() }
        let client = BlockingLLFreeClient(socketPath: daemon.socket)
        defer { client.close() }
        let ring = try client.ring()
        try ring.ping()
        daemon.crash()
        let clock = ContinuousClock(), start = clock.now
        #expect(throws: ClientError.self) { try ring.ping() }
        #expect(clock.now - start < .seconds(5))
    }
}
