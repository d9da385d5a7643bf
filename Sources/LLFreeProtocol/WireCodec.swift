// The codec of the wire protocol: splitting a byte stream into messages and reading headers.
// Request and reply bodies are in WireCodec+Request.swift and WireCodec+Reply.swift. Every
// decoder checks every length, count, reserved field and enumeration before trusting it.

/// Encodes and decodes llfreed messages (see docs/protocol.md). Pure functions over bytes.
public enum WireCodec {
    /// The size of the first message in `bytes` (which start at a message boundary) if all of it
    /// has arrived, or nil if more bytes are needed.
    /// - Throws: a fatal ``ProtocolError`` (``ErrorCode/tooShort`` or ``ErrorCode/tooLarge``)
    ///   as soon as the length field is readable and out of bounds: the stream cannot be split
    ///   any further and the connection must be closed.
    public static func messageSize(_ bytes: UnsafeRawBufferPointer) throws(ProtocolError) -> Int? {
        guard bytes.count >= Wire.lengthSize else { return nil }
        let length = Int(UInt32(littleEndian: bytes.loadUnaligned(as: UInt32.self)))
        try checkLength(length)
        let size = Wire.lengthSize + length
        return bytes.count >= size ? size : nil
    }

    /// The size of the first message in `bytes`, or nil if incomplete. See the pointer variant.
    public static func messageSize(_ bytes: [UInt8]) throws(ProtocolError) -> Int? {
        try bytes.withUnsafeBytes { raw in Result { () throws(ProtocolError) in try messageSize(raw) } }.get()
    }

    static func checkLength(_ length: Int) throws(ProtocolError) {
        if length < Wire.headerSize - Wire.lengthSize {
            throw ProtocolError(.tooShort, "length field \(length) is smaller than the \(Wire.headerSize - Wire.lengthSize) header bytes that must follow it", fatal: true)
        }
        if length > Wire.maxLength {
            throw ProtocolError(.tooLarge, "length field \(length) exceeds the limit of \(Wire.maxLength) bytes", fatal: true)
        }
    }

    /// A decoded header; `body` is the rest of the message.
    struct Header {
        var version: UInt8
        var op: UInt8
        var status: UInt16
        var id: UInt64
        var body: UnsafeRawBufferPointer
    }

    /// Reads the header of exactly one message (length field included).
    static func header(_ message: UnsafeRawBufferPointer) throws(ProtocolError) -> Header {
        var r = ByteReader(message)
        guard let length = r.read(UInt32.self) else {
            throw ProtocolError(.tooShort, "\(message.count) bytes are fewer than the 4-byte length field", fatal: true)
        }
        try checkLength(Int(length))
        guard message.count == Wire.lengthSize + Int(length) else {
            throw ProtocolError(.malformed, "length field says \(length) bytes follow but \(message.count - Wire.lengthSize) were given", fatal: true)
        }
        let version = r.read(UInt8.self)!, op = r.read(UInt8.self)!, status = r.read(UInt16.self)!, id = r.read(UInt64.self)!
        let body = r.readBytes(r.remaining)!
        guard version == Wire.framing else {
            throw ProtocolError(.unsupportedVersion, "header version byte \(version) is not \(Wire.framing), the framing of every protocol version this peer speaks", id: id, op: op)
        }
        return Header(version: version, op: op, status: status, id: id, body: body)
    }

    /// Size of a message with a body of `bodySize` bytes.
    @inline(__always)
    static func size(body bodySize: Int) -> Int { Wire.headerSize + bodySize }

    /// Writes a header for a message of `size` bytes in total.
    @inline(__always)
    static func writeHeader(_ w: inout ByteWriter, size: Int, op: UInt8, status: UInt16, id: UInt64) {
        w.write(UInt32(size - Wire.lengthSize))
        w.write(Wire.framing)
        w.write(op)
        w.write(status)
        w.write(id)
    }

    /// Runs `body` on a fresh array of `size` bytes.
    static func makeBytes(size: Int, _ body: (inout ByteWriter) -> Void) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            var w = ByteWriter(UnsafeMutableRawBufferPointer(buffer))
            body(&w)
            precondition(w.offset == size, "encoder wrote \(w.offset) bytes of a \(size)-byte message")
            initialized = size
        }
    }

    /// Fails with `code` about the message `id`/`op` unless `condition` holds.
    @inline(__always)
    static func require(_ condition: Bool, _ code: ErrorCode, _ message: @autoclosure () -> String,
                        id: UInt64, op: UInt8) throws(ProtocolError) {
        if !condition { throw ProtocolError(code, message(), id: id, op: op) }
    }

    /// Whether the bytes are all zero (reserved fields).
    static func zero(_ bytes: UnsafeRawBufferPointer?) -> Bool {
        guard let bytes else { return false }
        return bytes.allSatisfy { $0 == 0 }
    }
}
