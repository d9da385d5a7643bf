// The body of a ring reply (protocol version 3): the shape of the shared-memory ring pair whose
// memory object's descriptor is passed beside it. docs/protocol.md, "ring (0x11)"; the object's
// layout is RingLayout's (module LLFreeRing).

/// The description of a ring memory object.
public struct RingGrant: Sendable, Equatable {
    /// The layout revision of the memory object (1).
    public var layout: UInt32
    /// Bytes of each of the two rings (a power of two, at least 2 x the largest message).
    public var capacity: UInt32
    /// Bytes of the whole object: one header page and the two rings.
    public var size: UInt64

    public init(layout: UInt32, capacity: UInt32, size: UInt64) {
        self.layout = layout
        self.capacity = capacity
        self.size = size
    }
}

extension WireCodec {
    /// Bytes of a ring reply body.
    public static let ringGrantSize = 16

    static func write(_ grant: RingGrant, _ w: inout ByteWriter) {
        w.write(grant.layout)
        w.write(grant.capacity)
        w.write(grant.size)
    }

    static func readRingGrant(_ r: inout ByteReader, bodySize: Int, id: UInt64, op: UInt8) throws(ProtocolError) -> RingGrant {
        try require(bodySize == ringGrantSize, .malformed, "ring reply body is \(bodySize) bytes, not \(ringGrantSize)", id: id, op: op)
        return RingGrant(layout: r.read(UInt32.self)!, capacity: r.read(UInt32.self)!, size: r.read(UInt64.self)!)
    }
}
