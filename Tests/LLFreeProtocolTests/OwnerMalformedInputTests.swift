// Every malformed owner message of protocol version 2 is refused with the code docs/protocol.md
// gives for it, and carries the request id and op byte.

import Testing
@testable import LLFreeProtocol

@Suite struct OwnerMalformedInputTests {
    static func raw(op: UInt8, body: [UInt8]) -> [UInt8] { MalformedInputTests.raw(op: op, body: body) }
    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { MalformedInputTests.le(v) }
    static func zeros(_ n: Int) -> [UInt8] { [UInt8](repeating: 0, count: n) }

    func expectRequestError(_ bytes: [UInt8], _ code: ErrorCode, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let decoded = try WireCodec.decodeRequest(bytes)
            Issue.record("decoded \(decoded) instead of failing with \(code)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
            #expect(error.id == 99 && error.op == bytes[5] && !error.fatal, sourceLocation: sourceLocation)
        }
    }

    func expectReplyError(_ bytes: [UInt8], _ code: ErrorCode, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let decoded = try WireCodec.decodeReply(bytes)
            Issue.record("decoded \(decoded) instead of failing with \(code)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
            #expect(error.id == 99 && error.op == bytes[5], sourceLocation: sourceLocation)
        }
    }

    func expectRequest(_ bytes: [UInt8], _ request: Request, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            #expect(try WireCodec.decodeRequest(bytes) == RequestMessage(id: 99, request), sourceLocation: sourceLocation)
        } catch {
            Issue.record("refused \(request): \(error)", sourceLocation: sourceLocation)
        }
    }

    /// Names that are not valid: not UTF-8 (a lone continuation byte, a cut sequence, an
    /// overlong encoding, a surrogate), or with a NUL.
    static let badNames: [[UInt8]] = [[0x80], [0x61, 0xC3], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xFF], [0x61, 0x00, 0x62], [0x00]]

    // MARK: attach

    static func attach(kind: UInt8 = 0, flags: UInt8 = 1, nameLength: UInt16? = nil, reserved: UInt32 = 0, quota: UInt64 = 0,
                       name: [UInt8] = [0x61]) -> [UInt8] {
        raw(op: 0x07, body: [kind, flags] + le(nameLength ?? UInt16(name.count)) + le(reserved) + le(quota) + name)
    }

    @Test func attachRequests() {
        expectRequest(Self.attach(), .attach(name: "a", kind: .persistent, create: true, quota: 0))
        expectRequest(Self.attach(kind: 1, flags: 0, quota: 9), .attach(name: "a", kind: .ephemeral, create: false, quota: 9))
        // Body shorter than the fixed part.
        expectRequestError(Self.raw(op: 0x07, body: Self.zeros(15)), .malformed)
        expectRequestError(Self.raw(op: 0x07, body: []), .malformed)
        // Unknown kinds.
        for kind in [UInt8(2), 0x80, 0xFF] { expectRequestError(Self.attach(kind: kind), .invalidKind) }
        // Flags other than create.
        for flags in [UInt8(2), 3, 0x80] { expectRequestError(Self.attach(flags: flags), .malformed) }
        // Reserved.
        expectRequestError(Self.attach(reserved: 1), .malformed)
        expectRequestError(Self.attach(reserved: 0x8000_0000), .malformed)
        // An empty name, a name of 65 bytes, a name length that disagrees with the body.
        expectRequestError(Self.attach(name: []), .malformed)
        expectRequestError(Self.attach(name: [UInt8](repeating: 0x61, count: Wire.maxOwnerName + 1)), .malformed)
        expectRequestError(Self.attach(nameLength: 2, name: [0x61]), .malformed)
        expectRequestError(Self.attach(nameLength: 1, name: [0x61, 0x62]), .malformed)
        expectRequestError(Self.attach(nameLength: 0xFFFF, name: [0x61]), .malformed)
        for name in Self.badNames { expectRequestError(Self.attach(name: name), .malformed) }
        // The encoder writes what it is given; the decoder refuses it.
        expectRequestError(WireCodec.encode(RequestMessage(id: 99, .attach(name: "", kind: .persistent, create: true, quota: 0))), .malformed)
        expectRequestError(WireCodec.encode(RequestMessage(id: 99, .attach(name: String(repeating: "é", count: 33), kind: .persistent,
                                                                            create: true, quota: 0))), .malformed)
        expectRequestError(WireCodec.encode(RequestMessage(id: 99, .attach(name: "a\u{0}", kind: .persistent, create: true, quota: 0))), .malformed)
    }

    // MARK: list

    static func list(limit: UInt32 = 1, nameLength: UInt16? = nil, reserved: UInt16 = 0, name: [UInt8] = []) -> [UInt8] {
        raw(op: 0x08, body: le(UInt64(7)) + le(limit) + le(nameLength ?? UInt16(name.count)) + le(reserved) + name)
    }

    @Test func listRequests() {
        expectRequest(Self.list(), .list(owner: "", from: 7, limit: 1))
        expectRequest(Self.list(name: [UInt8](repeating: 0x62, count: 64)), .list(owner: String(repeating: "b", count: 64), from: 7, limit: 1))
        expectRequestError(Self.raw(op: 0x08, body: Self.zeros(15)), .malformed)
        expectRequestError(Self.list(reserved: 1), .malformed)
        for limit in [UInt32(0), UInt32(Wire.maxBatch + 1), UInt32.max] { expectRequestError(Self.list(limit: limit), .invalidCount) }
        expectRequestError(Self.list(name: [UInt8](repeating: 0x61, count: Wire.maxOwnerName + 1)), .malformed)
        expectRequestError(Self.list(nameLength: 1), .malformed)
        expectRequestError(Self.list(nameLength: 0, name: [0x61]), .malformed)
        for name in Self.badNames { expectRequestError(Self.list(name: name), .malformed) }
    }

    // MARK: release, owner-info, remove-owner (the same layout)

    static func named(_ op: UInt8, nameLength: UInt16? = nil, reserved: [UInt8] = zeros(6), name: [UInt8]) -> [UInt8] {
        raw(op: op, body: le(nameLength ?? UInt16(name.count)) + reserved + name)
    }

    @Test(arguments: [UInt8(0x09), 0x0C, 0x0E])
    func namedRequests(_ op: UInt8) {
        let (least, makes): (Int, (String) -> Request) = switch op {
        case 0x09: (0, { .release(owner: $0) })
        case 0x0C: (0, { .ownerInfo(owner: $0) })
        default: (1, { .removeOwner(owner: $0) })
        }
        expectRequest(Self.named(op, name: [0x61]), makes("a"))
        expectRequest(Self.named(op, name: Array("é".utf8)), makes("é"))
        expectRequest(Self.named(op, name: [UInt8](repeating: 0x61, count: 64)), makes(String(repeating: "a", count: 64)))
        if least == 0 {
            expectRequest(Self.named(op, name: []), makes(""))
        } else {
            expectRequestError(Self.named(op, name: []), .malformed)
        }
        expectRequestError(Self.raw(op: op, body: Self.zeros(7)), .malformed)
        expectRequestError(Self.raw(op: op, body: []), .malformed)
        for i in 0..<6 {
            var reserved = Self.zeros(6)
            reserved[i] = 1
            expectRequestError(Self.named(op, reserved: reserved, name: [0x61]), .malformed)
        }
        expectRequestError(Self.named(op, name: [UInt8](repeating: 0x61, count: Wire.maxOwnerName + 1)), .malformed)
        expectRequestError(Self.named(op, nameLength: 2, name: [0x61]), .malformed)
        expectRequestError(Self.named(op, nameLength: 0, name: [0x61]), .malformed)
        for name in Self.badNames { expectRequestError(Self.named(op, name: name), .malformed) }
    }

    // MARK: root-get, root-set

    @Test func rootRequests() {
        expectRequest(Self.raw(op: 0x0A, body: []), .rootGet)
        expectRequestError(Self.raw(op: 0x0A, body: [0]), .malformed)
        expectRequestError(Self.raw(op: 0x0A, body: Self.zeros(64)), .malformed)
        expectRequest(Self.raw(op: 0x0B, body: Self.zeros(64) + [UInt8](repeating: 0xFF, count: 64)),
                      .rootSet(expected: .zero, new: RootValue([UInt8](repeating: 0xFF, count: 64))!))
        for size in [0, 64, 127, 129, 192] { expectRequestError(Self.raw(op: 0x0B, body: Self.zeros(size)), .malformed) }
    }

    // MARK: owners

    static func owners(from: UInt16 = 1, limit: UInt16 = 1, reserved: UInt32 = 0) -> [UInt8] {
        raw(op: 0x0D, body: le(from) + le(limit) + le(reserved))
    }

    @Test func ownersRequests() {
        expectRequest(Self.owners(), .owners(from: 1, limit: 1))
        expectRequest(Self.owners(from: 4095, limit: 256), .owners(from: 4095, limit: 256))
        expectRequestError(Self.owners(from: 0), .malformed)
        expectRequestError(Self.owners(from: 4096), .malformed)
        expectRequestError(Self.owners(from: UInt16.max), .malformed)
        for limit in [UInt16(0), 257, UInt16.max] { expectRequestError(Self.owners(limit: limit), .invalidCount) }
        expectRequestError(Self.owners(reserved: 1), .malformed)
        expectRequestError(Self.raw(op: 0x0D, body: Self.zeros(7)), .malformed)
        expectRequestError(Self.raw(op: 0x0D, body: [1, 0, 1, 0, 0, 0, 0, 0, 0]), .malformed)
    }

    // MARK: set-quota

    static func setQuota(quota: UInt64 = 5, nameLength: UInt16? = nil, reserved: [UInt8] = zeros(6), name: [UInt8] = []) -> [UInt8] {
        raw(op: 0x0F, body: le(quota) + le(nameLength ?? UInt16(name.count)) + reserved + name)
    }

    @Test func setQuotaRequests() {
        expectRequest(Self.setQuota(), .setQuota(owner: "", quota: 5))
        expectRequest(Self.setQuota(quota: 0, name: [0x61]), .setQuota(owner: "a", quota: 0))
        expectRequestError(Self.raw(op: 0x0F, body: Self.zeros(15)), .malformed)
        expectRequestError(Self.setQuota(reserved: [0, 0, 0, 0, 0, 1]), .malformed)
        expectRequestError(Self.setQuota(name: [UInt8](repeating: 0x61, count: Wire.maxOwnerName + 1)), .malformed)
        expectRequestError(Self.setQuota(nameLength: 3, name: [0x61]), .malformed)
        for name in Self.badNames { expectRequestError(Self.setQuota(name: name), .malformed) }
    }

    // MARK: replies

    /// An owner description as bytes, fields as given.
    static func ownerBytes(id: UInt16 = 1, kind: UInt8 = 0, flags: UInt8 = 0, nameLength: UInt16? = nil, reserved16: UInt16 = 0,
                           gid: UInt32 = 0, reserved32: UInt32 = 0, name: [UInt8] = [0x6F]) -> [UInt8] {
        le(id) + [kind, flags] + le(nameLength ?? UInt16(name.count)) + le(reserved16) + le(UInt64(1)) + le(UInt64(0))
            + le(UInt32(2)) + le(UInt32(3)) + le(gid) + le(reserved32) + name
    }

    @Test(arguments: [UInt8(0x87), 0x8C, 0x8F])
    func ownerInfoReplies(_ op: UInt8) throws {
        let decoded = try WireCodec.decodeReply(Self.raw(op: op, body: Self.ownerBytes(flags: 1, gid: 0)))
        let info = OwnerInfo(id: 1, kind: .persistent, created: true, name: "o", held: 1, quota: nil, connections: 2, uid: 3, gid: 0)
        let expected: Reply = switch op {
        case 0x87: .attach(info)
        case 0x8C: .ownerInfo(info)
        default: .setQuota(info)
        }
        #expect(decoded == ReplyMessage(id: 99, expected))
        expectReplyError(Self.raw(op: op, body: []), .malformed)
        expectReplyError(Self.raw(op: op, body: Array(Self.ownerBytes().dropLast(2))), .malformed)
        expectReplyError(Self.raw(op: op, body: Self.ownerBytes() + [0]), .malformed)
        // Owner number 0 is the legacy owner of a version-1 pool (attach); 4095 is the largest.
        for number in [UInt16(0), 4095] {
            #expect(try WireCodec.decodeReply(Self.raw(op: op, body: Self.ownerBytes(id: number))).reply.requestOp == op & ~Wire.replyBit)
        }
        expectReplyError(Self.raw(op: op, body: Self.ownerBytes(id: 4096)), .malformed)
        expectReplyError(Self.raw(op: op, body: Self.ownerBytes(id: UInt16.max)), .malformed)
        expectReplyError(Self.raw(op: op, body: Self.ownerBytes(kind: 2)), .malformed)
        expectReplyError(Self.raw(op: op, body: Self.ownerBytes(flags: 2)), .malformed)
        expectReplyError(Self.raw(op: op, body: Self.ownerBytes(reserved16: 1)), .malformed)
        expectReplyError(Self.raw(op: op, body: Self.ownerBytes(reserved32: 1)), .malformed)
        expectReplyError(Self.raw(op: op, body: Self.ownerBytes(name: [])), .malformed)
        expectReplyError(Self.raw(op: op, body: Self.ownerBytes(name: [UInt8](repeating: 0x61, count: 65))), .malformed)
        expectReplyError(Self.raw(op: op, body: Self.ownerBytes(nameLength: 2)), .malformed)
        for name in Self.badNames { expectReplyError(Self.raw(op: op, body: Self.ownerBytes(name: name)), .malformed) }
    }

    @Test func listReplies() throws {
        func list(next: UInt64 = 1, count: UInt32, reserved: UInt32 = 0, entries: [UInt64]) -> [UInt8] {
            Self.raw(op: 0x88, body: Self.le(next) + Self.le(count) + Self.le(reserved) + entries.flatMap { Self.le($0) })
        }
        #expect(try WireCodec.decodeReply(list(count: 1, entries: [63 << 56 | 5])).reply
                == .list(ListResult(runs: [WireRun(frame: 5, order: 63)], next: 1)))
        expectReplyError(Self.raw(op: 0x88, body: Self.zeros(15)), .malformed)
        expectReplyError(list(count: 0, reserved: 1, entries: []), .malformed)
        expectReplyError(list(count: 2, entries: [1]), .malformed)
        expectReplyError(list(count: 1, entries: [1, 2]), .malformed)
        expectReplyError(list(count: 0, entries: [1]), .malformed)
        expectReplyError(list(count: UInt32(Wire.maxBatch + 1), entries: []), .malformed)
        expectReplyError(list(count: UInt32.max, entries: []), .malformed)
        expectReplyError(list(count: 1, entries: [64 << 56]), .malformed)
        expectReplyError(list(count: 1, entries: [UInt64.max]), .malformed)
        expectReplyError(Self.raw(op: 0x88, body: Self.le(UInt64(0)) + Self.le(UInt32(1)) + Self.le(UInt32(0)) + [1, 2, 3, 4]), .malformed)
    }

    @Test func releaseAndRootReplies() {
        for size in [0, 8, 15, 17, 24] { expectReplyError(Self.raw(op: 0x89, body: Self.zeros(size)), .malformed) }
        for size in [0, 63, 65, 72] { expectReplyError(Self.raw(op: 0x8A, body: Self.zeros(size)), .malformed) }
        for size in [0, 8, 64, 71, 73, 136] { expectReplyError(Self.raw(op: 0x8B, body: Self.zeros(size)), .malformed) }
        expectReplyError(Self.raw(op: 0x8B, body: [2] + Self.zeros(71)), .malformed)
        expectReplyError(Self.raw(op: 0x8B, body: [0xFF] + Self.zeros(71)), .malformed)
        for i in 1..<8 {
            var body = [UInt8(1)] + Self.zeros(71)
            body[i] = 1
            expectReplyError(Self.raw(op: 0x8B, body: body), .malformed)
        }
        expectReplyError(Self.raw(op: 0x8E, body: [0]), .malformed)
    }

    @Test func ownersReplies() throws {
        func owners(next: UInt16 = 0, count: UInt16, reserved: UInt32 = 0, _ entries: [[UInt8]]) -> [UInt8] {
            Self.raw(op: 0x8D, body: Self.le(next) + Self.le(count) + Self.le(reserved) + entries.flatMap { $0 })
        }
        let two = try WireCodec.decodeReply(owners(next: 3, count: 2, [Self.ownerBytes(id: 1), Self.ownerBytes(id: 2, kind: 1, gid: UInt32.max, name: [0x70, 0x71])]))
        #expect(two.reply == .owners(OwnerList(owners: [
            OwnerInfo(id: 1, kind: .persistent, name: "o", held: 1, quota: nil, connections: 2, uid: 3, gid: 0),
            OwnerInfo(id: 2, kind: .ephemeral, name: "pq", held: 1, quota: nil, connections: 2, uid: 3, gid: nil),
        ], next: 3)))
        expectReplyError(Self.raw(op: 0x8D, body: Self.zeros(7)), .malformed)
        expectReplyError(owners(count: 0, reserved: 1, []), .malformed)
        expectReplyError(owners(next: 4096, count: 0, []), .malformed)
        expectReplyError(owners(next: UInt16.max, count: 0, []), .malformed)
        #expect(try WireCodec.decodeReply(owners(next: 4095, count: 0, [])).reply == .owners(OwnerList(owners: [], next: 4095)))
        expectReplyError(owners(count: 257, []), .malformed)
        // Fewer, more or cut owner descriptions than the count says.
        expectReplyError(owners(count: 2, [Self.ownerBytes()]), .malformed)
        expectReplyError(owners(count: 1, [Self.ownerBytes(), Self.ownerBytes()]), .malformed)
        expectReplyError(owners(count: 1, [Array(Self.ownerBytes().dropLast())]), .malformed)
        expectReplyError(owners(count: 0, [[0]]), .malformed)
        // A bad description anywhere in the page.
        expectReplyError(owners(count: 2, [Self.ownerBytes(), Self.ownerBytes(kind: 7)]), .malformed)
        expectReplyError(owners(count: 2, [Self.ownerBytes(), Self.ownerBytes(name: [0xC3])]), .malformed)
        expectReplyError(owners(count: 2, [Self.ownerBytes(nameLength: 40), Self.ownerBytes()]), .malformed)
    }

    @Test func randomOwnerBodiesNeverCrashTheDecoder() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20000 {
            let op = UInt8.random(in: 0x07...0x0F, using: &generator) | (Bool.random(using: &generator) ? Wire.replyBit : 0)
            var body = (0..<Int.random(in: 0...160, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            // Zero most reserved-looking bytes and make small lengths likely, so deeper checks run too.
            for i in body.indices where Bool.random(using: &generator) { body[i] = body[i] & 0x03 }
            let bytes = Self.raw(op: op, body: body)
            if let request = try? WireCodec.decodeRequest(bytes) {
                #expect(WireCodec.encode(request) == bytes)
            }
            if let reply = try? WireCodec.decodeReply(bytes) {
                #expect(WireCodec.encode(reply) == bytes)
            }
        }
    }
}
