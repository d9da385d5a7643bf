// An incremental splitter for code that reads a stream without NIO (blocking clients, tests):
// append what arrived, take whole messages out.

/// Accumulates received bytes and hands out complete messages.
public struct MessageBuffer: Sendable {
    private var bytes: [UInt8] = []
    private var start = 0

    public init() {}

    /// Bytes received but not yet taken as a message.
    public var pending: Int { bytes.count - start }

    /// Appends received bytes.
    public mutating func append(_ received: some Collection<UInt8>) {
        if start > 0 && start == bytes.count {
            bytes.removeAll(keepingCapacity: true)
            start = 0
        }
        bytes.append(contentsOf: received)
    }

    /// The next complete message (length field included), or nil if more bytes are needed.
    /// - Throws: a fatal ``ProtocolError`` for a length field out of bounds.
    public mutating func next() throws(ProtocolError) -> [UInt8]? {
        let startIndex = start
        let size = try bytes.withUnsafeBytes { raw in
            Result { () throws(ProtocolError) in try WireCodec.messageSize(UnsafeRawBufferPointer(rebasing: raw[startIndex...])) }
        }.get()
        guard let size else { return nil }
        let message = Array(bytes[start..<(start + size)])
        start += size
        if start > 65536 && start * 2 > bytes.count {
            bytes.removeSubrange(0..<start)
            start = 0
        }
        return message
    }
}
