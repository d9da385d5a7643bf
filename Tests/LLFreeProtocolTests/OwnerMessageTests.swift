// The owner messages of protocol version 2 survive encode then decode unchanged, at their
// boundary sizes, and the bytes on the wire are the layout docs/protocol.md specifies.

import Testing
@testable import LLFreeProtocol

@Suite struct OwnerMessageTests {
    static let longName = String(repeating: "n", count: Wire.maxOwnerName)
    /// 64 bytes of UTF-8 in 32 two-byte characters.
    static let longUnicodeName = String(repeating: "é", count: Wire.maxOwnerName / 2)
    static let root = RootValue((0..<UInt8(RootValue.size)).map { $0 &* 3 &+ 1 })!

    static let owner = OwnerInfo(id: 17, kind: .persistent, created: true, name: "db", held: 1 << 40, quota: 1 << 20,
                                 connections: 3, uid: 1000, gid: 100)
    static let ephemeralOwner = OwnerInfo(id: 4095, kind: .ephemeral, name: longUnicodeName, held: 0, quota: nil,
                                          connections: 0, uid: 0, gid: nil)

    static let requests: [Request] = [
        .attach(name: "db", kind: .persistent, create: true, quota: 4096),
        .attach(name: longName, kind: .ephemeral, create: false, quota: 0),
        .attach(name: "x", kind: .persistent, create: false, quota: UInt64.max),
        .list(owner: "", from: 0, limit: 1),
        .list(owner: longUnicodeName, from: UInt64.max, limit: UInt32(Wire.maxBatch)),
        .release(owner: ""),
        .release(owner: longName),
        .rootGet,
        .rootSet(expected: .zero, new: root),
        .rootSet(expected: root, new: root),
        .ownerInfo(owner: ""),
        .ownerInfo(owner: "db"),
        .owners(from: 1, limit: 1),
        .owners(from: 4095, limit: UInt16(Wire.maxOwnerPage)),
        .removeOwner(owner: "x"),
        .removeOwner(owner: longName),
        .setQuota(owner: "", quota: 0),
        .setQuota(owner: longName, quota: 1),
    ]

    @Test(arguments: requests)
    func request(_ request: Request) throws {
        let message = RequestMessage(id: 0x0123_4567_89AB_CDEF, request)
        let bytes = WireCodec.encode(message)
        #expect(bytes.count == WireCodec.encodedSize(message))
        #expect(try WireCodec.messageSize(bytes) == bytes.count)
        #expect(try WireCodec.decodeRequest(bytes) == message)
        #expect(request.operation.minimumVersion == 2)
        #expect(bytes[4] == Wire.framing)
    }

    static let fullList = ListResult(
        runs: (0..<UInt64(Wire.maxBatch)).map { WireRun(frame: (1 << 56 - 1) - $0 * 512, order: UInt8($0 % UInt64(Wire.maxOrder + 1))) },
        next: 1 << 55)

    static let replies: [Reply] = [
        .attach(owner),
        .attach(ephemeralOwner),
        .list(ListResult(runs: [], next: nil)),
        .list(ListResult(runs: [WireRun(frame: 0, order: 0), WireRun(frame: 512, order: 9), WireRun(frame: 1 << 55, order: 63)], next: 1025)),
        .list(fullList),
        .release(ReleaseResult(runs: 0, frames: 0)),
        .release(ReleaseResult(runs: UInt64.max, frames: 12345)),
        .rootGet(.zero),
        .rootGet(root),
        .rootSet(RootSwap(swapped: true, current: root)),
        .rootSet(RootSwap(swapped: false, current: .zero)),
        .ownerInfo(owner),
        .owners(OwnerList(owners: [], next: nil)),
        .owners(OwnerList(owners: [owner, ephemeralOwner], next: 18)),
        .owners(OwnerList(owners: (1...UInt16(Wire.maxOwnerPage)).map {
            OwnerInfo(id: $0, kind: $0 % 2 == 0 ? .persistent : .ephemeral, name: longName, held: UInt64($0), quota: nil,
                      connections: UInt32($0), uid: UInt32($0), gid: UInt32.max - 1)
        }, next: UInt16(Wire.maxOwnerPage) + 1)),
        .removeOwner,
        .setQuota(ephemeralOwner),
        .error(op: Operation.attach.rawValue, ReplyError(.unknownOwner, "no owner \"db\"")),
    ]

    @Test(arguments: replies)
    func reply(_ reply: Reply) throws {
        let message = ReplyMessage(id: 7, reply)
        let bytes = WireCodec.encode(message)
        #expect(bytes.count == WireCodec.encodedSize(message))
        #expect(bytes.count <= Wire.lengthSize + Wire.maxLength)
        #expect(try WireCodec.messageSize(bytes) == bytes.count)
        #expect(try WireCodec.decodeReply(bytes) == message)
    }

    @Test func theLargestListAndOwnerPagesFitTheLengthLimit() {
        let list = WireCodec.encode(ReplyMessage(id: 1, .list(Self.fullList)))
        #expect(list.count == Wire.headerSize + 16 + 8 * Wire.maxBatch)
        #expect(list.count - Wire.lengthSize <= Wire.maxLength)
        let owners = OwnerList(owners: (1...UInt16(Wire.maxOwnerPage)).map {
            OwnerInfo(id: $0, kind: .persistent, name: Self.longName, held: 0, quota: nil, connections: 0, uid: 0, gid: nil)
        }, next: nil)
        let bytes = WireCodec.encode(ReplyMessage(id: 1, .owners(owners)))
        #expect(bytes.count == Wire.headerSize + 8 + Wire.maxOwnerPage * (40 + Wire.maxOwnerName))
        #expect(bytes.count - Wire.lengthSize <= Wire.maxLength)
    }

    @Test func operationsAndVersions() {
        #expect(Wire.framing == 1 && Wire.version == 3 && Wire.minVersion == 1)
        for op in Operation.allCases {
            #expect(op.minimumVersion == (op.rawValue <= 0x06 ? 1 : op.rawValue <= 0x0F ? 2 : 3), "\(op)")
        }
        #expect(Operation.allCases.map(\.rawValue) == Array(1...0x11))
        #expect(Set(Operation.allCases.map(\.description)).count == Operation.allCases.count)
        #expect(WireOwnerKind.persistent.description == "persistent" && WireOwnerKind.ephemeral.description == "ephemeral")
    }

    @Test func rootValuesHaveExactlySixtyFourBytes() {
        #expect(RootValue([UInt8](repeating: 1, count: 63))?.bytes == [UInt8](repeating: 1, count: 63) + [0])
        #expect(RootValue([UInt8](repeating: 1, count: 65)) == nil)
        #expect(RootValue([]) == .zero)
        #expect(RootValue.zero.bytes == [UInt8](repeating: 0, count: 64))
        #expect(RootValue([UInt8](repeating: 0, count: 64)) == .zero)
        #expect(RootValue(word: 0x0102).bytes == [2, 1] + [UInt8](repeating: 0, count: 62))
        #expect(RootValue(word: 0x0102_0304_0506_0708).firstWord == 0x0102_0304_0506_0708)
        #expect(Self.root.bytes.count == RootValue.size && Self.root != .zero)
    }

    @Test func attachRequestBytesMatchTheSpecification() {
        let bytes = WireCodec.encode(RequestMessage(id: 5, .attach(name: "db", kind: .ephemeral, create: true, quota: 0x0102)))
        #expect(bytes == [
            30, 0, 0, 0, 1, 0x07, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0,
            1, 1, 2, 0,  // kind ephemeral, flags create, name length 2
            0, 0, 0, 0,  // reserved
            2, 1, 0, 0, 0, 0, 0, 0,  // quota
            0x64, 0x62,  // "db"
        ])
    }

    @Test func listRequestAndReplyBytesMatchTheSpecification() {
        let request = WireCodec.encode(RequestMessage(id: 1, .list(owner: "a", from: 0x0201, limit: 3)))
        #expect(request == [
            29, 0, 0, 0, 1, 0x08, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
            1, 2, 0, 0, 0, 0, 0, 0,  // from
            3, 0, 0, 0, 1, 0, 0, 0,  // limit, name length, reserved
            0x61,
        ])
        let reply = WireCodec.encode(ReplyMessage(id: 1, .list(ListResult(runs: [WireRun(frame: 0x0200, order: 9)], next: nil))))
        #expect(reply == [
            36, 0, 0, 0, 1, 0x88, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
            0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,  // next: the end
            1, 0, 0, 0, 0, 0, 0, 0,  // count, reserved
            0, 2, 0, 0, 0, 0, 0, 9,  // frame 0x200, order 9 in the top byte
        ])
    }

    @Test func ownerInfoBytesMatchTheSpecification() {
        let info = OwnerInfo(id: 0x0102, kind: .ephemeral, created: true, name: "z", held: 3, quota: nil, connections: 4, uid: 5, gid: nil)
        let bytes = WireCodec.encode(ReplyMessage(id: 2, .ownerInfo(info)))
        #expect(bytes == [
            53, 0, 0, 0, 1, 0x8C, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,  // 12 header bytes + 41
            2, 1, 1, 1, 1, 0, 0, 0,  // id, kind, flags created, name length, reserved
            3, 0, 0, 0, 0, 0, 0, 0,  // held
            0, 0, 0, 0, 0, 0, 0, 0,  // quota: none
            4, 0, 0, 0, 5, 0, 0, 0,  // connections, uid
            0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0,  // gid: none, reserved
            0x7A,
        ])
    }

    @Test func otherRequestLayouts() {
        func body(_ request: Request) -> [UInt8] { Array(WireCodec.encode(RequestMessage(id: 0, request))[Wire.headerSize...]) }
        #expect(body(.release(owner: "ab")) == [2, 0, 0, 0, 0, 0, 0, 0, 0x61, 0x62])
        #expect(body(.ownerInfo(owner: "")) == [0, 0, 0, 0, 0, 0, 0, 0])
        #expect(body(.removeOwner(owner: "q")) == [1, 0, 0, 0, 0, 0, 0, 0, 0x71])
        #expect(body(.owners(from: 0x0102, limit: 256)) == [2, 1, 0, 1, 0, 0, 0, 0])
        #expect(body(.setQuota(owner: "q", quota: 7)) == [7, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x71])
        #expect(body(.rootGet) == [])
        #expect(body(.rootSet(expected: .zero, new: Self.root)) == RootValue.zero.bytes + Self.root.bytes)
        let swap = Array(WireCodec.encode(ReplyMessage(id: 0, .rootSet(RootSwap(swapped: true, current: Self.root))))[Wire.headerSize...])
        #expect(swap == [1, 0, 0, 0, 0, 0, 0, 0] + Self.root.bytes)
        let release = Array(WireCodec.encode(ReplyMessage(id: 0, .release(ReleaseResult(runs: 2, frames: 1024))))[Wire.headerSize...])
        #expect(release == [2, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0])
    }

    @Test func everyVersionTwoMessageCarriesFramingOne() {
        for request in Self.requests {
            #expect(WireCodec.encode(RequestMessage(id: 0, request))[4] == 1)
        }
        for reply in Self.replies {
            #expect(WireCodec.encode(ReplyMessage(id: 0, reply))[4] == 1)
        }
    }
}
