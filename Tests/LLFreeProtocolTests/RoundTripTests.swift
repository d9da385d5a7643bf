// Every request and reply survives encode then decode unchanged, and the bytes on the wire are
// the ones docs/protocol.md specifies.

import Testing
@testable import LLFreeProtocol

@Suite struct RoundTripTests {
    static let requests: [Request] = [
        .hello(minVersion: 1, maxVersion: 3),
        .get(order: 0, count: 1, kind: .fixed),
        .get(order: 9, count: UInt32(Wire.maxBatch), kind: .huge),
        .put(order: 3, frames: [0, 8, 1 << 39]),
        .put(order: 0, frames: Array(0..<UInt64(Wire.maxBatch))),
        .isFree(order: 14, frame: 1 << 14),
        .stats,
        .ping,
        .frames,
        .ring,
    ]

    @Test(arguments: requests)
    func request(_ request: Request) throws {
        let message = RequestMessage(id: 0xDEAD_BEEF_0123_4567, request)
        let bytes = WireCodec.encode(message)
        #expect(bytes.count == WireCodec.encodedSize(message))
        #expect(try WireCodec.messageSize(bytes) == bytes.count)
        #expect(try WireCodec.decodeRequest(bytes) == message)
    }

    static let info = PoolInfo(version: 1, durability: .pmem, maxOrder: 14, frameSize: 4096, frames: 1 << 20,
                               framesOffset: 1 << 21, children: 2048, treeChildren: 32, trees: 64, maxBatch: UInt32(Wire.maxBatch),
                               cores: 2, uuid: Array(0..<16), path: "/mnt/pmem/pool-é")

    static let replies: [Reply] = [
        .hello(info),
        .get(GetResult(frames: [1, 2, 3])),
        .get(GetResult(frames: [], shortfall: .outOfMemory)),
        .put(PutResult(results: [nil, .notAllocated, nil, .misaligned])),
        .isFree(true),
        .isFree(false),
        .stats(PoolStats(frames: 100, freeFrames: 50, freeHugeFrames: 0, clientsAccepted: 3, clientsRefused: 1,
                         operationsServed: 77, framesAllocated: 60, framesFreed: 10, errors: 2, clientsConnected: 2,
                         trees: TreeSummary(trees: 4, free: 1, full: 1, partial: 2, reserved: 2, occupancy: [0, 1, 0, 0, 0, 0, 1, 0]),
                         freeRuns: (0...14).map { UInt64(100 >> $0) }, reclaimedHugeFrames: 7)),
        .ping,
        .error(op: Operation.put.rawValue, ReplyError(.invalidOrder, "order 20 exceeds 14")),
        .error(op: 0x42, ReplyError(.unknownOperation, "op byte 0x42")),
        .error(op: Wire.framingErrorOp, ReplyError(.tooLarge, "too large")),
        .ring(RingGrant(layout: 1, capacity: 262_144, size: 528_384)),
    ]

    /// A ring reply's body, byte by byte as docs/protocol.md ("ring (0x11)") gives it.
    @Test func ringReplyBytesMatchTheSpecification() {
        let bytes = WireCodec.encode(ReplyMessage(id: 9, .ring(RingGrant(layout: 1, capacity: 262_144, size: 528_384))))
        #expect(bytes == [28, 0, 0, 0, 1, 0x91, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0,
                          1, 0, 0, 0, 0x00, 0x00, 0x04, 0x00, 0x00, 0x10, 0x08, 0x00, 0, 0, 0, 0])
    }

    @Test(arguments: replies)
    func reply(_ reply: Reply) throws {
        let message = ReplyMessage(id: 7, reply)
        let bytes = WireCodec.encode(message)
        #expect(bytes.count == WireCodec.encodedSize(message))
        #expect(try WireCodec.decodeReply(bytes) == message)
    }

    @Test func getRequestBytesMatchTheSpecification() {
        let bytes = WireCodec.encode(RequestMessage(id: 0x0102_0304_0506_0708, .get(order: 9, count: 16, kind: .movable)))
        #expect(bytes == [
            20, 0, 0, 0,  // length: 12 header bytes + 8 body bytes
            1, 0x02, 0, 0,  // version 1, op get, status 0
            8, 7, 6, 5, 4, 3, 2, 1,  // id, little-endian
            9, 1, 0, 0, 16, 0, 0, 0,  // order 9, kind movable, reserved, count 16
        ])
    }

    @Test func putReplyBytesMatchTheSpecification() {
        let bytes = WireCodec.encode(ReplyMessage(id: 1, .put(PutResult(results: [nil, .notAllocated]))))
        #expect(bytes == [
            24, 0, 0, 0, 1, 0x83, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
            2, 0, 0, 0, 1, 0, 0, 0,  // count 2, freed 1
            0, 0, 12, 0,  // ok, notAllocated
        ])
    }

    @Test func errorReplyBytesMatchTheSpecification() {
        let bytes = WireCodec.encode(ReplyMessage(id: 2, .error(op: Operation.get.rawValue, ReplyError(.outOfMemory, "no"))))
        #expect(bytes == [14, 0, 0, 0, 1, 0x82, 11, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0x6E, 0x6F])
    }

    @Test func longErrorMessagesAreCutAtACharacterBoundary() throws {
        let text = String(repeating: "é", count: 1000)  // 2000 bytes of UTF-8
        let bytes = WireCodec.encode(ReplyMessage(id: 1, .error(op: 2, ReplyError(.internalError, text))))
        guard case .error(_, let error) = try WireCodec.decodeReply(bytes).reply else {
            Issue.record("not an error reply")
            return
        }
        #expect(error.message.utf8.count == Wire.maxMessage)
        #expect(error.message == String(repeating: "é", count: Wire.maxMessage / 2))
    }

    @Test func messageBufferSplitsAStreamAtAnyCut() throws {
        var stream = [UInt8]()
        let messages = Self.requests.enumerated().map { RequestMessage(id: UInt64($0.offset), $0.element) }
        for m in messages { stream += WireCodec.encode(m) }
        for chunk in [1, 3, 16, 1000, stream.count] {
            var buffer = MessageBuffer()
            var decoded = [RequestMessage]()
            var offset = 0
            while offset < stream.count {
                buffer.append(stream[offset..<min(offset + chunk, stream.count)])
                offset += chunk
                while let message = try buffer.next() { decoded.append(try WireCodec.decodeRequest(message)) }
            }
            #expect(decoded == messages)
            #expect(buffer.pending == 0)
        }
    }

    @Test func uuidText() {
        #expect(Self.info.uuidString == "00010203-0405-0607-0809-0a0b0c0d0e0f")
    }
}
