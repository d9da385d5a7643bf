// The body of a frames reply (protocol version 3): what the descriptor passed beside it reaches
// and how a client may map it. docs/protocol.md, "frames (0x10)".

/// How a client may use the frames descriptor it received.
public enum FramesAccess: UInt8, Sendable, CustomStringConvertible {
    /// Opened read-only: a writable shared mapping of it fails (EACCES).
    case readOnly = 1
    /// Opened read-write.
    case readWrite = 2

    public var description: String { self == .readOnly ? "read-only" : "read-write" }
}

/// The description of a frames descriptor.
public struct FramesGrant: Sendable, Equatable {
    /// What the descriptor was opened for.
    public var access: FramesAccess
    /// Whether the descriptor reaches only frames (a split pool's frames object) or the whole
    /// pool file, metadata included.
    public var split: Bool
    /// Bytes per frame (4096).
    public var frameSize: UInt32
    /// Byte offset of frame 0 in the descriptor's object.
    public var framesOffset: UInt64
    /// Frames in the pool.
    public var frames: UInt64
    /// The pool's UUID; bytes 16...31 of the object (its header) hold the same.
    public var uuid: [UInt8]

    public init(access: FramesAccess, split: Bool, frameSize: UInt32, framesOffset: UInt64, frames: UInt64, uuid: [UInt8]) {
        self.access = access
        self.split = split
        self.frameSize = frameSize
        self.framesOffset = framesOffset
        self.frames = frames
        self.uuid = uuid
    }
}

extension WireCodec {
    /// Bytes of a frames reply body.
    public static let framesGrantSize = 40

    static func write(_ grant: FramesGrant, _ w: inout ByteWriter) {
        precondition(grant.uuid.count == 16, "a pool UUID has 16 bytes")
        w.write(grant.access.rawValue)
        w.write(UInt8(grant.split ? 1 : 0))
        w.write(UInt16(0))
        w.write(grant.frameSize)
        w.write(grant.framesOffset)
        w.write(grant.frames)
        w.write(bytes: grant.uuid)
    }

    static func readFramesGrant(_ r: inout ByteReader, bodySize: Int, id: UInt64, op: UInt8) throws(ProtocolError) -> FramesGrant {
        try require(bodySize == framesGrantSize, .malformed, "frames reply body is \(bodySize) bytes, not \(framesGrantSize)", id: id, op: op)
        let accessByte = r.read(UInt8.self)!, layout = r.read(UInt8.self)!, reserved = r.read(UInt16.self)!
        guard let access = FramesAccess(rawValue: accessByte) else {
            throw ProtocolError(.malformed, "frames reply access \(accessByte) is not 1 (read-only) or 2 (read-write)", id: id, op: op)
        }
        try require(layout <= 1 && reserved == 0, .malformed, "frames reply layout \(layout) or reserved field \(reserved) is out of range", id: id, op: op)
        let frameSize = r.read(UInt32.self)!, framesOffset = r.read(UInt64.self)!, frames = r.read(UInt64.self)!
        return FramesGrant(access: access, split: layout == 1, frameSize: frameSize, framesOffset: framesOffset, frames: frames,
                           uuid: Array(r.readBytes(16)!))
    }
}
