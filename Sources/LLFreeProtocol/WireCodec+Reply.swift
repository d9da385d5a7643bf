// Encoding and decoding of reply messages (see docs/protocol.md, "Replies").

extension WireCodec {
    static let statsFixedSize = 136
    static let helloFixedSize = 60

    /// The bytes of an error message as sent: UTF-8, cut to ``Wire/maxMessage`` bytes at a
    /// character boundary.
    static func messageBytes(_ text: String) -> [UInt8] {
        var bytes = Array(text.utf8)
        if bytes.count > Wire.maxMessage {
            var end = Wire.maxMessage
            // Back up over continuation bytes (10xxxxxx) so the cut falls between characters.
            while end > 0 && bytes[end] & 0xC0 == 0x80 { end -= 1 }
            bytes.removeSubrange(end...)
        }
        return bytes
    }

    /// Bytes `message` takes on the wire.
    public static func encodedSize(_ message: ReplyMessage) -> Int {
        switch message.reply {
        case .hello(let info): return size(body: helloFixedSize + info.path.utf8.count + (info.version >= 3 ? 4 : 0))
        case .get(let result): return size(body: 8 + 8 * result.frames.count)
        case .put(let result): return size(body: 8 + 2 * result.results.count)
        case .isFree: return size(body: 8)
        case .stats(let stats): return size(body: statsFixedSize + 8 * stats.freeRuns.count)
        case .ping: return size(body: 0)
        case .frames: return size(body: framesGrantSize)
        case .ring: return size(body: ringGrantSize)
        case .error(_, let error): return size(body: messageBytes(error.message).count)
        default: return size(body: ownerBodySize(message.reply))
        }
    }

    /// Encodes `message` into `buffer`, which must hold ``encodedSize(_:)-(ReplyMessage)``
    /// bytes; returns the bytes written.
    /// - Precondition: a hello's path is at most ``Wire/maxPath`` bytes and its UUID 16 bytes;
    ///   stats have at most 64 orders and 8 occupancy buckets.
    @discardableResult
    public static func encode(_ message: ReplyMessage, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        var w = ByteWriter(buffer)
        write(message, &w)
        return w.offset
    }

    /// Encodes `message` into a new array.
    public static func encode(_ message: ReplyMessage) -> [UInt8] {
        makeBytes(size: encodedSize(message)) { write(message, &$0) }
    }

    static func write(_ message: ReplyMessage, _ w: inout ByteWriter) {
        let size = encodedSize(message)
        switch message.reply {
        case .error(let op, let error):
            writeHeader(&w, size: size, op: op == Wire.framingErrorOp ? op : op | Wire.replyBit, status: error.code.rawValue, id: message.id)
            w.write(bytes: messageBytes(error.message))
            return
        default:
            writeHeader(&w, size: size, op: message.reply.requestOp | Wire.replyBit, status: 0, id: message.id)
        }
        switch message.reply {
        case .hello(let info):
            precondition(info.uuid.count == 16, "a pool UUID has 16 bytes")
            precondition(info.path.utf8.count <= Wire.maxPath, "a pool path has at most \(Wire.maxPath) bytes")
            w.write(info.version)
            w.write(info.durability.rawValue)
            w.write(info.maxOrder)
            w.write(info.frameSize)
            w.write(info.frames)
            w.write(info.framesOffset)
            w.write(info.children)
            w.write(info.treeChildren)
            w.write(info.trees)
            w.write(info.maxBatch)
            w.write(info.cores)
            w.write(UInt16(info.path.utf8.count))
            w.write(bytes: info.uuid)
            w.write(bytes: info.path.utf8)
            if info.version >= 3 { w.write(UInt32(info.metadataReachable ? 1 : 0)) }
        case .get(let result):
            w.write(UInt32(truncatingIfNeeded: result.frames.count))
            w.write(result.shortfall?.rawValue ?? 0)
            w.write(UInt16(0))
            w.write(uint64s: result.frames)
        case .put(let result):
            w.write(UInt32(truncatingIfNeeded: result.results.count))
            w.write(UInt32(truncatingIfNeeded: result.freed))
            for r in result.results { w.write(r?.rawValue ?? 0) }
        case .isFree(let free):
            w.write(UInt8(free ? 1 : 0))
            w.write(zeros: 7)
        case .stats(let s):
            precondition(s.freeRuns.count <= 64 && s.trees.occupancy.count == TreeSummary.buckets, "stats out of the wire's bounds")
            for v in [s.frames, s.freeFrames, s.freeHugeFrames, s.clientsAccepted, s.clientsRefused, s.operationsServed,
                      s.framesAllocated, s.framesFreed, s.errors] { w.write(v) }
            for v in [s.clientsConnected, s.trees.trees, s.trees.free, s.trees.full, s.trees.partial, s.trees.reserved] { w.write(v) }
            for v in s.trees.occupancy { w.write(v) }
            w.write(UInt8(s.freeRuns.count))
            w.write(zeros: 3)
            w.write(s.reclaimedHugeFrames)
            w.write(uint64s: s.freeRuns)
        case .ping, .error:
            break
        case .frames(let grant):
            write(grant, &w)
        case .ring(let grant):
            write(grant, &w)
        default:
            writeOwnerBody(message.reply, &w)
        }
    }

    /// Decodes exactly one reply message (length field included).
    /// - Throws: ``ProtocolError`` naming the first thing wrong.
    public static func decodeReply(_ message: UnsafeRawBufferPointer) throws(ProtocolError) -> ReplyMessage {
        let h = try header(message)
        let id = h.id, op = h.op
        let requestOp: UInt8
        if op == Wire.framingErrorOp {
            try require(h.status != 0, .malformed, "a framing-error reply must carry an error status", id: id, op: op)
            requestOp = op
        } else {
            try require(op & Wire.replyBit != 0, .malformed, "op byte 0x\(String(op, radix: 16)) of a reply lacks the reply bit", id: id, op: op)
            requestOp = op & ~Wire.replyBit
        }
        let bodySize = h.body.count
        if h.status != 0 {
            guard let code = ErrorCode(rawValue: h.status) else {
                throw ProtocolError(.malformed, "status \(h.status) is not an error code", id: id, op: op)
            }
            try require(bodySize <= Wire.maxMessage, .malformed, "error message of \(bodySize) bytes exceeds \(Wire.maxMessage)", id: id, op: op)
            return ReplyMessage(id: id, .error(op: requestOp, ReplyError(code, String(decoding: h.body, as: UTF8.self))))
        }
        guard let operation = Operation(rawValue: requestOp) else {
            throw ProtocolError(.unknownOperation, "reply op byte 0x\(String(op, radix: 16)) names no operation", id: id, op: op)
        }
        var r = ByteReader(h.body)
        switch operation {
        case .hello:
            try require(bodySize >= helloFixedSize, .malformed, "hello reply body is \(bodySize) bytes, fewer than \(helloFixedSize)", id: id, op: op)
            let version = r.read(UInt16.self)!
            let durabilityByte = r.read(UInt8.self)!, maxOrder = r.read(UInt8.self)!
            guard let durability = WireDurability(rawValue: durabilityByte) else {
                throw ProtocolError(.malformed, "durability mode \(durabilityByte) is unknown", id: id, op: op)
            }
            let frameSize = r.read(UInt32.self)!, frames = r.read(UInt64.self)!, framesOffset = r.read(UInt64.self)!
            let children = r.read(UInt32.self)!, treeChildren = r.read(UInt32.self)!, trees = r.read(UInt32.self)!
            let maxBatch = r.read(UInt32.self)!, cores = r.read(UInt16.self)!, pathLength = Int(r.read(UInt16.self)!)
            let uuid = Array(r.readBytes(16)!)
            // Version 3 adds a flags word after the path.
            let flagsSize = version >= 3 ? 4 : 0
            try require(pathLength <= Wire.maxPath && bodySize == helloFixedSize + pathLength + flagsSize, .malformed,
                        "hello reply path of \(pathLength) bytes does not fill the \(bodySize - helloFixedSize) bytes left", id: id, op: op)
            guard let path = String(validating: r.readBytes(pathLength)!, as: UTF8.self) else {
                throw ProtocolError(.malformed, "hello reply path is not UTF-8", id: id, op: op)
            }
            let flags = version >= 3 ? r.read(UInt32.self)! : 1
            try require(flags <= 1, .malformed, "hello reply flags 0x\(String(flags, radix: 16)) name unknown bits", id: id, op: op)
            return ReplyMessage(id: id, .hello(PoolInfo(
                version: version, durability: durability, maxOrder: maxOrder, frameSize: frameSize, frames: frames,
                framesOffset: framesOffset, children: children, treeChildren: treeChildren, trees: trees,
                maxBatch: maxBatch, cores: cores, uuid: uuid, path: path, metadataReachable: flags & 1 != 0)))
        case .get:
            try require(bodySize >= 8, .malformed, "get reply body is \(bodySize) bytes, fewer than 8", id: id, op: op)
            let count = Int(r.read(UInt32.self)!), reason = r.read(UInt16.self)!, reserved = r.read(UInt16.self)!
            try require(reserved == 0, .malformed, "get reply reserved field is not zero", id: id, op: op)
            try require(count <= Wire.maxBatch, .invalidCount, "get reply count \(count) exceeds \(Wire.maxBatch)", id: id, op: op)
            try require(bodySize == 8 + 8 * count, .malformed, "get reply of \(count) frames has a \(bodySize)-byte body", id: id, op: op)
            var shortfall: ErrorCode? = nil
            if reason != 0 {
                guard let code = ErrorCode(rawValue: reason) else {
                    throw ProtocolError(.malformed, "get reply reason \(reason) is not an error code", id: id, op: op)
                }
                shortfall = code
            }
            return ReplyMessage(id: id, .get(GetResult(frames: r.readUInt64s(count)!, shortfall: shortfall)))
        case .put:
            try require(bodySize >= 8, .malformed, "put reply body is \(bodySize) bytes, fewer than 8", id: id, op: op)
            let count = Int(r.read(UInt32.self)!), freed = Int(r.read(UInt32.self)!)
            try require(count <= Wire.maxBatch, .invalidCount, "put reply count \(count) exceeds \(Wire.maxBatch)", id: id, op: op)
            try require(bodySize == 8 + 2 * count, .malformed, "put reply of \(count) results has a \(bodySize)-byte body", id: id, op: op)
            var results = [ErrorCode?]()
            results.reserveCapacity(count)
            for _ in 0..<count {
                let raw = r.read(UInt16.self)!
                if raw == 0 { results.append(nil); continue }
                guard let code = ErrorCode(rawValue: raw) else {
                    throw ProtocolError(.malformed, "put reply result \(raw) is not an error code", id: id, op: op)
                }
                results.append(code)
            }
            let result = PutResult(results: results)
            try require(result.freed == freed, .malformed, "put reply says \(freed) freed but \(result.freed) results are 0", id: id, op: op)
            return ReplyMessage(id: id, .put(result))
        case .isFree:
            try require(bodySize == 8, .malformed, "is-free reply body is \(bodySize) bytes, not 8", id: id, op: op)
            let value = r.read(UInt8.self)!
            try require(value <= 1 && zero(r.readBytes(7)), .malformed, "is-free reply is not 0 or 1 followed by 7 zero bytes", id: id, op: op)
            return ReplyMessage(id: id, .isFree(value == 1))
        case .stats:
            try require(bodySize >= statsFixedSize, .malformed, "stats reply body is \(bodySize) bytes, fewer than \(statsFixedSize)", id: id, op: op)
            var s = PoolStats()
            s.frames = r.read(UInt64.self)!
            s.freeFrames = r.read(UInt64.self)!
            s.freeHugeFrames = r.read(UInt64.self)!
            s.clientsAccepted = r.read(UInt64.self)!
            s.clientsRefused = r.read(UInt64.self)!
            s.operationsServed = r.read(UInt64.self)!
            s.framesAllocated = r.read(UInt64.self)!
            s.framesFreed = r.read(UInt64.self)!
            s.errors = r.read(UInt64.self)!
            s.clientsConnected = r.read(UInt32.self)!
            s.trees.trees = r.read(UInt32.self)!
            s.trees.free = r.read(UInt32.self)!
            s.trees.full = r.read(UInt32.self)!
            s.trees.partial = r.read(UInt32.self)!
            s.trees.reserved = r.read(UInt32.self)!
            s.trees.occupancy = (0..<TreeSummary.buckets).map { _ in r.read(UInt32.self)! }
            let orders = Int(r.read(UInt8.self)!)
            try require(zero(r.readBytes(3)), .malformed, "stats reply reserved bytes are not zero", id: id, op: op)
            s.reclaimedHugeFrames = r.read(UInt32.self)!
            try require(orders <= 64 && bodySize == statsFixedSize + 8 * orders, .malformed,
                        "stats reply of \(orders) orders has a \(bodySize)-byte body", id: id, op: op)
            s.freeRuns = r.readUInt64s(orders)!
            return ReplyMessage(id: id, .stats(s))
        case .ping:
            try require(bodySize == 0, .malformed, "ping reply body is \(bodySize) bytes, not 0", id: id, op: op)
            return ReplyMessage(id: id, .ping)
        case .frames:
            return ReplyMessage(id: id, .frames(try readFramesGrant(&r, bodySize: bodySize, id: id, op: op)))
        case .ring:
            return ReplyMessage(id: id, .ring(try readRingGrant(&r, bodySize: bodySize, id: id, op: op)))
        default:
            return ReplyMessage(id: id, try decodeOwnerReply(operation, h.body, id: id, op: op))
        }
    }

    /// Decodes exactly one reply message from an array.
    public static func decodeReply(_ message: [UInt8]) throws(ProtocolError) -> ReplyMessage {
        try message.withUnsafeBytes { raw in Result { () throws(ProtocolError) in try decodeReply(raw) } }.get()
    }
}
