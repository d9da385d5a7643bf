// Encoding and decoding of the owner messages of protocol version 2 (docs/protocol.md,
// "Owners"). Names travel as a 16-bit length and that many bytes of UTF-8 without NUL.

extension WireCodec {
    static let ownerInfoFixedSize = 40
    /// The largest owner number (owners are numbered 1...4095; 0 is the legacy owner of a
    /// version-1 pool in an attach reply).
    static let maxOwnerNumber: UInt16 = 4095

    // MARK: Requests

    static func ownerBodySize(_ request: Request) -> Int {
        switch request {
        case .attach(let name, _, _, _): return 16 + name.utf8.count
        case .list(let owner, _, _): return 16 + owner.utf8.count
        case .release(let owner), .ownerInfo(let owner), .removeOwner(let owner): return 8 + owner.utf8.count
        case .rootGet: return 0
        case .rootSet: return 2 * RootValue.size
        case .owners: return 8
        case .setQuota(let owner, _): return 16 + owner.utf8.count
        case .hello, .get, .put, .isFree, .stats, .ping, .frames, .ring: preconditionFailure("\(request.operation) is not an owner request")
        }
    }

    static func writeOwnerBody(_ request: Request, _ w: inout ByteWriter) {
        func name(_ text: String) { w.write(bytes: text.utf8) }
        switch request {
        case .attach(let owner, let kind, let create, let quota):
            w.write(kind.rawValue)
            w.write(UInt8(create ? 1 : 0))
            w.write(UInt16(truncatingIfNeeded: owner.utf8.count))
            w.write(UInt32(0))
            w.write(quota)
            name(owner)
        case .list(let owner, let from, let limit):
            w.write(from)
            w.write(limit)
            w.write(UInt16(truncatingIfNeeded: owner.utf8.count))
            w.write(UInt16(0))
            name(owner)
        case .release(let owner), .ownerInfo(let owner), .removeOwner(let owner):
            w.write(UInt16(truncatingIfNeeded: owner.utf8.count))
            w.write(zeros: 6)
            name(owner)
        case .rootGet:
            break
        case .rootSet(let expected, let new):
            w.write(bytes: expected.bytes)
            w.write(bytes: new.bytes)
        case .owners(let from, let limit):
            w.write(from)
            w.write(limit)
            w.write(UInt32(0))
        case .setQuota(let owner, let quota):
            w.write(quota)
            w.write(UInt16(truncatingIfNeeded: owner.utf8.count))
            w.write(zeros: 6)
            name(owner)
        case .hello, .get, .put, .isFree, .stats, .ping, .frames, .ring:
            preconditionFailure("\(request.operation) is not an owner request")
        }
    }

    /// Reads a name of `length` bytes: UTF-8 without NUL, within `allowed` bytes.
    static func readName(_ r: inout ByteReader, length: Int, allowed: ClosedRange<Int>, id: UInt64, op: UInt8) throws(ProtocolError) -> String {
        try require(allowed.contains(length), .malformed, "owner name of \(length) bytes is outside \(allowed.lowerBound)...\(allowed.upperBound)", id: id, op: op)
        guard let bytes = r.readBytes(length), !bytes.contains(0), let name = String(validating: bytes, as: UTF8.self) else {
            throw ProtocolError(.malformed, "owner name is not UTF-8 without NUL bytes", id: id, op: op)
        }
        return name
    }

    static func decodeOwnerRequest(_ operation: Operation, _ body: UnsafeRawBufferPointer, id: UInt64, op: UInt8) throws(ProtocolError) -> Request {
        var r = ByteReader(body)
        let size = body.count
        func fixed(_ n: Int, plusName: Bool = false) throws(ProtocolError) {
            try require(plusName ? size >= n : size == n, .malformed,
                        "\(operation) body is \(size) bytes, \(plusName ? "fewer than" : "not") \(n)", id: id, op: op)
        }
        /// The name of a body whose fixed part is `fixedSize` bytes, which must fill the rest.
        func name(length: Int, fixedSize: Int, allowed: ClosedRange<Int>) throws(ProtocolError) -> String {
            try require(size == fixedSize + length, .malformed, "\(operation) body of \(size) bytes does not hold a \(length)-byte name after \(fixedSize) bytes", id: id, op: op)
            return try readName(&r, length: length, allowed: allowed, id: id, op: op)
        }
        switch operation {
        case .attach:
            try fixed(16, plusName: true)
            let kindByte = r.read(UInt8.self)!, flags = r.read(UInt8.self)!, length = Int(r.read(UInt16.self)!)
            let reserved = r.read(UInt32.self)!, quota = r.read(UInt64.self)!
            guard let kind = WireOwnerKind(rawValue: kindByte) else {
                throw ProtocolError(.invalidKind, "owner kind \(kindByte) is not 0 (persistent) or 1 (ephemeral)", id: id, op: op)
            }
            try require(flags & ~1 == 0, .malformed, "attach flags 0x\(String(flags, radix: 16)) set bits other than 0 (create)", id: id, op: op)
            try require(reserved == 0, .malformed, "attach reserved field is not zero", id: id, op: op)
            let owner = try name(length: length, fixedSize: 16, allowed: 1...Wire.maxOwnerName)
            return .attach(name: owner, kind: kind, create: flags & 1 != 0, quota: quota)
        case .list:
            try fixed(16, plusName: true)
            let from = r.read(UInt64.self)!, limit = r.read(UInt32.self)!, length = Int(r.read(UInt16.self)!), reserved = r.read(UInt16.self)!
            try require(reserved == 0, .malformed, "list reserved field is not zero", id: id, op: op)
            try require(limit >= 1 && limit <= UInt32(Wire.maxBatch), .invalidCount, "list limit \(limit) is outside 1...\(Wire.maxBatch)", id: id, op: op)
            return .list(owner: try name(length: length, fixedSize: 16, allowed: 0...Wire.maxOwnerName), from: from, limit: limit)
        case .release, .ownerInfo, .removeOwner:
            try fixed(8, plusName: true)
            let length = Int(r.read(UInt16.self)!)
            try require(zero(r.readBytes(6)), .malformed, "\(operation) reserved bytes are not zero", id: id, op: op)
            let owner = try name(length: length, fixedSize: 8, allowed: (operation == .removeOwner ? 1 : 0)...Wire.maxOwnerName)
            switch operation {
            case .release: return .release(owner: owner)
            case .ownerInfo: return .ownerInfo(owner: owner)
            default: return .removeOwner(owner: owner)
            }
        case .rootGet:
            try fixed(0)
            return .rootGet
        case .rootSet:
            try fixed(2 * RootValue.size)
            let expected = RootValue(Array(r.readBytes(RootValue.size)!))!, new = RootValue(Array(r.readBytes(RootValue.size)!))!
            return .rootSet(expected: expected, new: new)
        case .owners:
            try fixed(8)
            let from = r.read(UInt16.self)!, limit = r.read(UInt16.self)!, reserved = r.read(UInt32.self)!
            try require(reserved == 0, .malformed, "owners reserved field is not zero", id: id, op: op)
            try require(from >= 1, .malformed, "owners from 0: owner numbers start at 1", id: id, op: op)
            try require(from <= maxOwnerNumber, .malformed, "owners from \(from) exceeds the largest owner number \(maxOwnerNumber)", id: id, op: op)
            try require(limit >= 1 && Int(limit) <= Wire.maxOwnerPage, .invalidCount, "owners limit \(limit) is outside 1...\(Wire.maxOwnerPage)", id: id, op: op)
            return .owners(from: from, limit: limit)
        case .setQuota:
            try fixed(16, plusName: true)
            let quota = r.read(UInt64.self)!, length = Int(r.read(UInt16.self)!)
            try require(zero(r.readBytes(6)), .malformed, "set-quota reserved bytes are not zero", id: id, op: op)
            return .setQuota(owner: try name(length: length, fixedSize: 16, allowed: 0...Wire.maxOwnerName), quota: quota)
        case .hello, .get, .put, .isFree, .stats, .ping, .frames, .ring:
            preconditionFailure("\(operation) is not an owner request")
        }
    }

    // MARK: Replies

    static func ownerInfoSize(_ info: OwnerInfo) -> Int { ownerInfoFixedSize + info.name.utf8.count }

    static func ownerBodySize(_ reply: Reply) -> Int {
        switch reply {
        case .attach(let info), .ownerInfo(let info), .setQuota(let info): return ownerInfoSize(info)
        case .list(let result): return 16 + 8 * result.runs.count
        case .release: return 16
        case .rootGet: return RootValue.size
        case .rootSet: return 8 + RootValue.size
        case .owners(let list): return 8 + list.owners.reduce(0) { $0 + ownerInfoSize($1) }
        case .removeOwner: return 0
        case .hello, .get, .put, .isFree, .stats, .ping, .frames, .ring, .error: preconditionFailure("not an owner reply")
        }
    }

    static func write(_ info: OwnerInfo, _ w: inout ByteWriter) {
        w.write(info.id)
        w.write(info.kind.rawValue)
        w.write(UInt8(info.created ? 1 : 0))
        w.write(UInt16(truncatingIfNeeded: info.name.utf8.count))
        w.write(UInt16(0))
        w.write(info.held)
        w.write(info.quota ?? 0)
        w.write(info.connections)
        w.write(info.uid)
        w.write(info.gid ?? UInt32.max)
        w.write(UInt32(0))
        w.write(bytes: info.name.utf8)
    }

    static func writeOwnerBody(_ reply: Reply, _ w: inout ByteWriter) {
        switch reply {
        case .attach(let info), .ownerInfo(let info), .setQuota(let info):
            write(info, &w)
        case .list(let result):
            w.write(result.next ?? UInt64.max)
            w.write(UInt32(truncatingIfNeeded: result.runs.count))
            w.write(UInt32(0))
            for run in result.runs { w.write(run.frame & (1 << 56 - 1) | UInt64(run.order) << 56) }
        case .release(let result):
            w.write(result.runs)
            w.write(result.frames)
        case .rootGet(let root):
            w.write(bytes: root.bytes)
        case .rootSet(let swap):
            w.write(UInt8(swap.swapped ? 1 : 0))
            w.write(zeros: 7)
            w.write(bytes: swap.current.bytes)
        case .owners(let list):
            w.write(list.next ?? 0)
            w.write(UInt16(truncatingIfNeeded: list.owners.count))
            w.write(UInt32(0))
            for info in list.owners { write(info, &w) }
        case .removeOwner:
            break
        case .hello, .get, .put, .isFree, .stats, .ping, .frames, .ring, .error:
            preconditionFailure("not an owner reply")
        }
    }

    static func readOwnerInfo(_ r: inout ByteReader, id: UInt64, op: UInt8) throws(ProtocolError) -> OwnerInfo {
        guard r.remaining >= ownerInfoFixedSize else {
            throw ProtocolError(.malformed, "owner record of \(r.remaining) bytes is shorter than \(ownerInfoFixedSize)", id: id, op: op)
        }
        let number = r.read(UInt16.self)!, kindByte = r.read(UInt8.self)!, flags = r.read(UInt8.self)!
        let length = Int(r.read(UInt16.self)!), reserved16 = r.read(UInt16.self)!
        let held = r.read(UInt64.self)!, quota = r.read(UInt64.self)!, connections = r.read(UInt32.self)!
        let uid = r.read(UInt32.self)!, gid = r.read(UInt32.self)!, reserved32 = r.read(UInt32.self)!
        guard let kind = WireOwnerKind(rawValue: kindByte) else {
            throw ProtocolError(.malformed, "owner kind \(kindByte) is not 0 (persistent) or 1 (ephemeral)", id: id, op: op)
        }
        try require(number <= maxOwnerNumber, .malformed, "owner number \(number) exceeds \(maxOwnerNumber)", id: id, op: op)
        try require(flags & ~1 == 0 && reserved16 == 0 && reserved32 == 0, .malformed, "owner record flags or reserved fields are not zero", id: id, op: op)
        try require(r.remaining >= length, .malformed, "owner record name of \(length) bytes runs past the body", id: id, op: op)
        let name = try readName(&r, length: length, allowed: 1...Wire.maxOwnerName, id: id, op: op)
        return OwnerInfo(id: number, kind: kind, created: flags & 1 != 0, name: name, held: held, quota: quota == 0 ? nil : quota,
                         connections: connections, uid: uid, gid: gid == UInt32.max ? nil : gid)
    }

    static func decodeOwnerReply(_ operation: Operation, _ body: UnsafeRawBufferPointer, id: UInt64, op: UInt8) throws(ProtocolError) -> Reply {
        var r = ByteReader(body)
        let size = body.count
        func end() throws(ProtocolError) {
            try require(r.remaining == 0, .malformed, "\(operation) reply has \(r.remaining) bytes after its end", id: id, op: op)
        }
        switch operation {
        case .attach, .ownerInfo, .setQuota:
            let info = try readOwnerInfo(&r, id: id, op: op)
            try end()
            return operation == .attach ? .attach(info) : operation == .ownerInfo ? .ownerInfo(info) : .setQuota(info)
        case .list:
            try require(size >= 16, .malformed, "list reply body is \(size) bytes, fewer than 16", id: id, op: op)
            let next = r.read(UInt64.self)!, count = Int(r.read(UInt32.self)!), reserved = r.read(UInt32.self)!
            try require(reserved == 0, .malformed, "list reply reserved field is not zero", id: id, op: op)
            try require(count <= Wire.maxBatch && size == 16 + 8 * count, .malformed, "list reply of \(count) runs has a \(size)-byte body", id: id, op: op)
            let runs = r.readUInt64s(count)!.map { WireRun(frame: $0 & (1 << 56 - 1), order: UInt8($0 >> 56)) }
            if let run = runs.first(where: { Int($0.order) > Wire.maxOrder }) {
                throw ProtocolError(.malformed, "list reply run \(run) has an order above \(Wire.maxOrder)", id: id, op: op)
            }
            return .list(ListResult(runs: runs, next: next == UInt64.max ? nil : next))
        case .release:
            try require(size == 16, .malformed, "release reply body is \(size) bytes, not 16", id: id, op: op)
            return .release(ReleaseResult(runs: r.read(UInt64.self)!, frames: r.read(UInt64.self)!))
        case .rootGet:
            try require(size == RootValue.size, .malformed, "root-get reply body is \(size) bytes, not \(RootValue.size)", id: id, op: op)
            return .rootGet(RootValue(Array(r.readBytes(RootValue.size)!))!)
        case .rootSet:
            try require(size == 8 + RootValue.size, .malformed, "root-set reply body is \(size) bytes, not \(8 + RootValue.size)", id: id, op: op)
            let swapped = r.read(UInt8.self)!
            try require(swapped <= 1 && zero(r.readBytes(7)), .malformed, "root-set reply is not 0 or 1 followed by 7 zero bytes", id: id, op: op)
            return .rootSet(RootSwap(swapped: swapped == 1, current: RootValue(Array(r.readBytes(RootValue.size)!))!))
        case .owners:
            try require(size >= 8, .malformed, "owners reply body is \(size) bytes, fewer than 8", id: id, op: op)
            let next = r.read(UInt16.self)!, count = Int(r.read(UInt16.self)!), reserved = r.read(UInt32.self)!
            try require(reserved == 0 && count <= Wire.maxOwnerPage, .malformed, "owners reply count \(count) or reserved field is wrong", id: id, op: op)
            try require(next <= maxOwnerNumber, .malformed, "owners reply next \(next) exceeds the largest owner number \(maxOwnerNumber)", id: id, op: op)
            var owners: [OwnerInfo] = []
            for _ in 0..<count { owners.append(try readOwnerInfo(&r, id: id, op: op)) }
            try end()
            return .owners(OwnerList(owners: owners, next: next == 0 ? nil : next))
        case .removeOwner:
            try end()
            return .removeOwner
        case .hello, .get, .put, .isFree, .stats, .ping, .frames, .ring:
            preconditionFailure("\(operation) is not an owner operation")
        }
    }
}
