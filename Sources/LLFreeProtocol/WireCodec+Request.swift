// Encoding and decoding of request messages (see docs/protocol.md, "Requests").

extension WireCodec {
    /// Bytes `message` takes on the wire.
    public static func encodedSize(_ message: RequestMessage) -> Int {
        switch message.request {
        case .hello: return size(body: 8)
        case .get: return size(body: 8)
        case .put(_, let frames): return size(body: 8 + 8 * frames.count)
        case .isFree: return size(body: 16)
        case .stats, .ping, .frames, .ring: return size(body: 0)
        default: return size(body: ownerBodySize(message.request))
        }
    }

    /// Encodes `message` into `buffer`, which must hold ``encodedSize(_:)-(RequestMessage)``
    /// bytes; returns the bytes written. Values are written as given, even out of range, so a
    /// test can send what a hostile client would.
    @discardableResult
    public static func encode(_ message: RequestMessage, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        var w = ByteWriter(buffer)
        write(message, &w)
        return w.offset
    }

    /// Encodes `message` into a new array.
    public static func encode(_ message: RequestMessage) -> [UInt8] {
        makeBytes(size: encodedSize(message)) { write(message, &$0) }
    }

    static func write(_ message: RequestMessage, _ w: inout ByteWriter) {
        writeHeader(&w, size: encodedSize(message), op: message.request.operation.rawValue, status: 0, id: message.id)
        switch message.request {
        case .hello(let minVersion, let maxVersion):
            w.write(minVersion)
            w.write(maxVersion)
            w.write(UInt32(0))
        case .get(let order, let count, let kind):
            w.write(order)
            w.write(kind.rawValue)
            w.write(UInt16(0))
            w.write(count)
        case .put(let order, let frames):
            w.write(order)
            w.write(UInt8(0))
            w.write(UInt16(0))
            w.write(UInt32(truncatingIfNeeded: frames.count))
            w.write(uint64s: frames)
        case .isFree(let order, let frame):
            w.write(order)
            w.write(zeros: 7)
            w.write(frame)
        case .stats, .ping, .frames, .ring:
            break
        default:
            writeOwnerBody(message.request, &w)
        }
    }

    /// Decodes exactly one request message (length field included).
    /// - Throws: ``ProtocolError`` naming the first thing wrong; ``ProtocolError/fatal`` when
    ///   the length field itself is wrong.
    public static func decodeRequest(_ message: UnsafeRawBufferPointer) throws(ProtocolError) -> RequestMessage {
        let h = try header(message)
        let id = h.id, op = h.op
        guard op & Wire.replyBit == 0, let operation = Operation(rawValue: op) else {
            throw ProtocolError(.unknownOperation, "op byte 0x\(String(op, radix: 16)) names no operation", id: id, op: op)
        }
        try require(h.status == 0, .malformed, "status field of a request is \(h.status), not 0", id: id, op: op)
        var r = ByteReader(h.body)
        let bodySize = h.body.count
        switch operation {
        case .hello:
            try require(bodySize == 8, .malformed, "hello body is \(bodySize) bytes, not 8", id: id, op: op)
            let minVersion = r.read(UInt16.self)!, maxVersion = r.read(UInt16.self)!
            try require(zero(r.readBytes(4)), .malformed, "hello reserved bytes are not zero", id: id, op: op)
            try require(minVersion >= 1 && minVersion <= maxVersion, .malformed,
                        "hello version range \(minVersion)...\(maxVersion) is empty or starts at 0", id: id, op: op)
            return RequestMessage(id: id, .hello(minVersion: minVersion, maxVersion: maxVersion))
        case .get:
            try require(bodySize == 8, .malformed, "get body is \(bodySize) bytes, not 8", id: id, op: op)
            let order = r.read(UInt8.self)!, kindByte = r.read(UInt8.self)!, reserved = r.read(UInt16.self)!, count = r.read(UInt32.self)!
            try require(reserved == 0, .malformed, "get reserved field is \(reserved), not 0", id: id, op: op)
            try require(Int(order) <= Wire.maxOrder, .invalidOrder, "order \(order) exceeds \(Wire.maxOrder)", id: id, op: op)
            guard let kind = WireKind(rawValue: kindByte) else {
                throw ProtocolError(.invalidKind, "kind \(kindByte) is not 0 (fixed), 1 (movable) or 2 (huge)", id: id, op: op)
            }
            try require(count >= 1 && count <= UInt32(Wire.maxBatch), .invalidCount,
                        "count \(count) is outside 1...\(Wire.maxBatch)", id: id, op: op)
            return RequestMessage(id: id, .get(order: order, count: count, kind: kind))
        case .put:
            try require(bodySize >= 8, .malformed, "put body is \(bodySize) bytes, fewer than 8", id: id, op: op)
            let order = r.read(UInt8.self)!, reserved8 = r.read(UInt8.self)!, reserved16 = r.read(UInt16.self)!, count = r.read(UInt32.self)!
            try require(reserved8 == 0 && reserved16 == 0, .malformed, "put reserved fields are not zero", id: id, op: op)
            try require(Int(order) <= Wire.maxOrder, .invalidOrder, "order \(order) exceeds \(Wire.maxOrder)", id: id, op: op)
            try require(count >= 1 && count <= UInt32(Wire.maxBatch), .invalidCount,
                        "count \(count) is outside 1...\(Wire.maxBatch)", id: id, op: op)
            try require(bodySize == 8 + 8 * Int(count), .malformed,
                        "put of \(count) frames needs a body of \(8 + 8 * Int(count)) bytes, not \(bodySize)", id: id, op: op)
            return RequestMessage(id: id, .put(order: order, frames: r.readUInt64s(Int(count))!))
        case .isFree:
            try require(bodySize == 16, .malformed, "is-free body is \(bodySize) bytes, not 16", id: id, op: op)
            let order = r.read(UInt8.self)!
            try require(zero(r.readBytes(7)), .malformed, "is-free reserved bytes are not zero", id: id, op: op)
            try require(Int(order) <= Wire.maxOrder, .invalidOrder, "order \(order) exceeds \(Wire.maxOrder)", id: id, op: op)
            return RequestMessage(id: id, .isFree(order: order, frame: r.read(UInt64.self)!))
        case .stats:
            try require(bodySize == 0, .malformed, "stats body is \(bodySize) bytes, not 0", id: id, op: op)
            return RequestMessage(id: id, .stats)
        case .ping:
            try require(bodySize == 0, .malformed, "ping body is \(bodySize) bytes, not 0", id: id, op: op)
            return RequestMessage(id: id, .ping)
        case .frames:
            try require(bodySize == 0, .malformed, "frames body is \(bodySize) bytes, not 0", id: id, op: op)
            return RequestMessage(id: id, .frames)
        case .ring:
            try require(bodySize == 0, .malformed, "ring body is \(bodySize) bytes, not 0", id: id, op: op)
            return RequestMessage(id: id, .ring)
        default:
            return RequestMessage(id: id, try decodeOwnerRequest(operation, h.body, id: id, op: op))
        }
    }

    /// Decodes exactly one request message from an array.
    public static func decodeRequest(_ message: [UInt8]) throws(ProtocolError) -> RequestMessage {
        try message.withUnsafeBytes { raw in Result { () throws(ProtocolError) in try decodeRequest(raw) } }.get()
    }
}
