// Hostile input against the real daemon, as raw bytes: each case gets an error reply or a closed
// connection, and afterwards the pool is exactly as it was, a bystander client that stayed
// connected is served as before, and new clients are accepted.

import Foundation
import LLFreeTestSupport
import LLFreeClient
import LLFreeProtocol
import Testing

@Suite(.serialized) struct HostileInputTests {
    /// Runs `attack` on a raw connection to a fresh daemon and checks nothing else was affected.
    func hostile(_ attack: (RawConnection) throws -> Void) throws {
        let daemon = try DaemonProcess()
        defer { daemon.remove() }
        let bystander = BlockingLLFreeClient(socketPath: daemon.socket)
        defer { bystander.close() }
        let held = try bystander.get(order: 0, count: 5)
        let before = try bystander.stats()
        let raw = try RawConnection(daemon.socket)
        try attack(raw)
        try bystander.ping()
        let after = try bystander.stats()
        #expect(after.freeFrames == before.freeFrames)
        #expect(after.freeRuns == before.freeRuns)
        #expect(after.freeHugeFrames == before.freeHugeFrames)
        for frame in held.frames { #expect(try !bystander.isFree(frame)) }
        let fresh = BlockingLLFreeClient(socketPath: daemon.socket)
        defer { fresh.close() }
        try fresh.ping()
        #expect(daemon.process.isRunning)
    }

    func expectError(_ outcome: RawConnection.Outcome, _ code: ErrorCode, id: UInt64, op: UInt8,
                     sourceLocation: SourceLocation = #_sourceLocation) {
        guard case .reply(let reply) = outcome, case .error(let gotOp, let error) = reply.reply else {
            Issue.record("expected a \(code) error reply, got \(outcome)", sourceLocation: sourceLocation)
            return
        }
        #expect(reply.id == id && gotOp == op && error.code == code, "\(reply)", sourceLocation: sourceLocation)
        #expect(!error.message.isEmpty, sourceLocation: sourceLocation)
    }

    static func header(length: UInt32, version: UInt8 = 1, op: UInt8, id: UInt64 = 42) -> [UInt8] {
        var bytes = [UInt8]()
        withUnsafeBytes(of: length.littleEndian) { bytes += $0 }
        bytes += [version, op, 0, 0]
        withUnsafeBytes(of: id.littleEndian) { bytes += $0 }
        return bytes
    }

    @Test func shortReadIsWaitedForWithoutBlockingOthers() throws {
        try hostile { raw in
            let ping = WireCodec.encode(RequestMessage(id: 1, .ping))
            raw.send(Array(ping[0..<7]))
            #expect(raw.receive(timeout: 0.3) == .timeout)
            raw.send(Array(ping[7...]))
            #expect(raw.receive() == .reply(ReplyMessage(id: 1, .ping)))
            // A get cut short and never finished: nothing is allocated.
            raw.send(Array(WireCodec.encode(RequestMessage(id: 2, .get(order: 0, count: 100, kind: .fixed)))[0..<20]))
            #expect(raw.receive(timeout: 0.3) == .timeout)
        }
    }

    @Test func oversizedLengthIsRefusedAndTheConnectionClosed() throws {
        try hostile { raw in
            raw.send(Self.header(length: UInt32(Wire.maxLength + 1), op: Operation.put.rawValue))
            expectError(raw.receive(), .tooLarge, id: 0, op: Wire.framingErrorOp)
            #expect(raw.receive() == .closed)
        }
    }

    @Test func hugeLengthIsRefusedBeforeAnyBodyIsBuffered() throws {
        try hostile { raw in
            raw.send(Self.header(length: UInt32.max, op: Operation.get.rawValue))
            expectError(raw.receive(), .tooLarge, id: 0, op: Wire.framingErrorOp)
            #expect(raw.receive() == .closed)
        }
    }

    @Test func lengthShorterThanAHeaderIsRefusedAndTheConnectionClosed() throws {
        try hostile { raw in
            raw.send([3, 0, 0, 0, 1, 6, 0])
            expectError(raw.receive(), .tooShort, id: 0, op: Wire.framingErrorOp)
            #expect(raw.receive() == .closed)
        }
    }

    @Test func unknownOperationIsRefusedAndTheConnectionStaysUsable() throws {
        try hostile { raw in
            raw.send(Self.header(length: 12, op: 0x42, id: 7))
            expectError(raw.receive(), .unknownOperation, id: 7, op: 0x42)
            // An op with bit 7 set: the reply's op byte is the same, read back as op 0x03.
            raw.send(Self.header(length: 12, op: 0x83, id: 8))
            expectError(raw.receive(), .unknownOperation, id: 8, op: 0x03)
            #expect(raw.roundTrip(RequestMessage(id: 9, .ping)) == .reply(ReplyMessage(id: 9, .ping)))
        }
    }

    @Test func unsupportedVersionIsRefused() throws {
        try hostile { raw in
            raw.send(Self.header(length: 12, version: 2, op: Operation.ping.rawValue, id: 3))
            expectError(raw.receive(), .unsupportedVersion, id: 3, op: Operation.ping.rawValue)
            // The daemon speaks protocol versions 1...3: a hello that does not meet them is refused.
            raw.send(RequestMessage(id: 4, .hello(minVersion: 4, maxVersion: 5)))
            expectError(raw.receive(), .unsupportedVersion, id: 4, op: Operation.hello.rawValue)
        }
    }

    @Test func invalidOrderIsRefused() throws {
        try hostile { raw in
            // The 64 MiB pool has trees of 32 children: max order 14.
            expectError(raw.roundTrip(RequestMessage(id: 1, .get(order: 15, count: 1, kind: .fixed))), .invalidOrder, id: 1, op: 2)
            expectError(raw.roundTrip(RequestMessage(id: 2, .put(order: 15, frames: [0]))), .invalidOrder, id: 2, op: 3)
            expectError(raw.roundTrip(RequestMessage(id: 3, .get(order: 200, count: 1, kind: .fixed))), .invalidOrder, id: 3, op: 2)
            expectError(raw.roundTrip(RequestMessage(id: 4, .isFree(order: 64, frame: 0))), .invalidOrder, id: 4, op: 4)
        }
    }

    @Test func invalidCountAndKindAreRefused() throws {
        try hostile { raw in
            expectError(raw.roundTrip(RequestMessage(id: 1, .get(order: 0, count: 0, kind: .fixed))), .invalidCount, id: 1, op: 2)
            expectError(raw.roundTrip(RequestMessage(id: 2, .get(order: 0, count: UInt32(Wire.maxBatch + 1), kind: .fixed))), .invalidCount, id: 2, op: 2)
            raw.send(Self.header(length: 20, op: 2, id: 3) + [0, 9, 0, 0, 1, 0, 0, 0])
            expectError(raw.receive(), .invalidKind, id: 3, op: 2)
        }
    }

    @Test func outOfRangeAndMisalignedFramesAreRefusedPerFrame() throws {
        try hostile { raw in
            let frames: UInt64 = 64 * 256  // 64 MiB
            guard case .reply(let reply) = raw.roundTrip(RequestMessage(id: 1, .put(order: 3, frames: [frames, frames - 4, 3, UInt64.max - 7]))) else {
                Issue.record("no reply")
                return
            }
            #expect(reply == ReplyMessage(id: 1, .put(PutResult(results: [.invalidFrame, .invalidFrame, .misaligned, .invalidFrame]))))
            expectError(raw.roundTrip(RequestMessage(id: 2, .isFree(order: 0, frame: frames))), .invalidFrame, id: 2, op: 4)
            expectError(raw.roundTrip(RequestMessage(id: 3, .isFree(order: 9, frame: 100))), .misaligned, id: 3, op: 4)
        }
    }

    @Test func doubleFreeIsRefusedPerFrame() throws {
        try hostile { raw in
            guard case .reply(let got) = raw.roundTrip(RequestMessage(id: 1, .get(order: 1, count: 1, kind: .fixed))),
                  case .get(let result) = got.reply, let frame = result.frames.first else {
                Issue.record("get failed")
                return
            }
            #expect(raw.roundTrip(RequestMessage(id: 2, .put(order: 1, frames: [frame]))) == .reply(ReplyMessage(id: 2, .put(PutResult(results: [nil])))))
            #expect(raw.roundTrip(RequestMessage(id: 3, .put(order: 1, frames: [frame]))) == .reply(ReplyMessage(id: 3, .put(PutResult(results: [.notAllocated])))))
            // Freeing frames never allocated, and with the wrong order.
            #expect(raw.roundTrip(RequestMessage(id: 4, .put(order: 0, frames: [frame, frame + 1]))) == .reply(ReplyMessage(id: 4, .put(PutResult(results: [.notAllocated, .notAllocated])))))
        }
    }

    @Test func malformedBodiesAreRefused() throws {
        try hostile { raw in
            // A put whose count promises more frames than the body holds.
            var bytes = Self.header(length: 12 + 16, op: 3, id: 5)
            bytes += [0, 0, 0, 0, 2, 0, 0, 0] + [1, 0, 0, 0, 0, 0, 0, 0]
            raw.send(bytes)
            expectError(raw.receive(), .malformed, id: 5, op: 3)
            // A ping with a body.
            raw.send(Self.header(length: 13, op: 6, id: 6) + [1])
            expectError(raw.receive(), .malformed, id: 6, op: 6)
            #expect(raw.roundTrip(RequestMessage(id: 7, .ping)) == .reply(ReplyMessage(id: 7, .ping)))
        }
    }

    @Test func garbageThenDisconnectMidMessage() throws {
        try hostile { raw in
            var generator = SystemRandomNumberGenerator()
            // Plausible headers with random bodies: each refused or answered, never a crash.
            for i in 0..<50 {
                let body = (0..<Int.random(in: 0...40, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let op = [UInt8(3), 4, 5, 6, 0x10][i % 5]
                raw.send(Self.header(length: UInt32(12 + body.count), op: op, id: UInt64(i)) + body)
                guard case .reply(let reply) = raw.receive() else { Issue.record("no reply to garbage \(i)"); return }
                #expect(reply.id == UInt64(i))
            }
            // Then half a message, and hang up.
            raw.send(Self.header(length: 1000, op: 3, id: 99) + Array(repeating: 0xAB, count: 300))
            close(raw.fd)
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        try hostile { raw in
            var bytes = [UInt8]()
            for id in 1...200 { bytes += WireCodec.encode(RequestMessage(id: UInt64(id), id % 2 == 0 ? .ping : .isFree(order: 0, frame: UInt64(id)))) }
            raw.send(bytes)
            for id in 1...200 {
                guard case .reply(let reply) = raw.receive() else { Issue.record("missing reply \(id)"); return }
                #expect(reply.id == UInt64(id))
            }
        }
    }
}
