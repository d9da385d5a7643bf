// Maps frames into the client's address space, from the descriptor llfreed passed (protocol
// version 3: no file permission needed, and in a split pool nothing but frames is reachable) or
// from the pool file a client may open: frame f lies at framesOffset + f * frameSize.
// The object must be the pool the daemon serves: its header's UUID is checked against
// hello's before anything is mapped, since writing into another pool's frames would corrupt
// memory that someone else may hold.

import LLFreeProtocol
import SystemCalls
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// An open object holding the pool's frames (the pool file, or a split pool's frames object),
/// from which frames are mapped shared with the daemon: read-write, or read-only when the
/// daemon passed a read-only descriptor.
public final class FrameMapper: @unchecked Sendable {
    /// The object mapped: the path opened, or a description of the descriptor received.
    public let path: String
    /// The pool's UUID, checked in the object's header.
    public let uuid: [UInt8]
    /// Frames in the pool.
    public let frames: UInt64
    /// Byte offset of frame 0 in the object.
    public let framesOffset: UInt64
    /// Bytes per frame.
    public let frameSize: UInt32
    /// Whether mappings are writable (a read-only descriptor maps PROT_READ only).
    public let writable: Bool
    private let fd: FileDescriptor

    /// Opens the pool file for mapping and checks that it is the pool `info` describes.
    /// - Parameter path: the file's path as this process sees it; defaults to ``PoolInfo/path``
    ///   (the absolute path the daemon resolved when it opened the pool).
    /// - Throws: ``ClientError/invalidArgument(_:)`` when the file cannot be opened (no access,
    ///   not found); ``ClientError/notThePool(path:reason:)`` when its header is not an llfreed
    ///   pool or frames-object header or names another pool (UUID). Nothing was mapped, the
    ///   file was not written.
    public convenience init(info: PoolInfo, path: String? = nil) throws(ClientError) {
        let path = path ?? info.path
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(path, .readWrite, options: .closeOnExec)
        } catch {
            throw .invalidArgument("cannot open the pool file \(path): \(error)")
        }
        try self.init(fd: fd, path: path, uuid: info.uuid, frames: info.frames, framesOffset: info.framesOffset,
                      frameSize: info.frameSize, writable: true, framesObject: !info.metadataReachable)
    }

    /// Maps from the descriptor llfreed passed (``BlockingLLFreeClient/frames()``); needs no
    /// permission on any file. Takes the descriptor over (closes it when released).
    /// - Throws: ``ClientError/notThePool(path:reason:)`` when the object's header names another
    ///   pool; the descriptor is closed then.
    public convenience init(_ received: ReceivedFrames) throws(ClientError) {
        let fd = received.take()
        let grant = received.grant
        let name = "the frames descriptor llfreed passed (\(grant.split ? "frames object" : "pool file"), \(grant.access))"
        try self.init(fd: fd, path: name, uuid: grant.uuid, frames: grant.frames, framesOffset: grant.framesOffset,
                      frameSize: grant.frameSize, writable: grant.access == .readWrite, framesObject: grant.split)
    }

    /// Checks the object at `fd` and takes it over; closes it if it is not the pool.
    private init(fd: FileDescriptor, path: String, uuid: [UInt8], frames: UInt64, framesOffset: UInt64, frameSize: UInt32,
                 writable: Bool, framesObject: Bool) throws(ClientError) {
        if let problem = Self.headerProblem(fd: fd, uuid: uuid, framesObject: framesObject) {
            try? fd.close()
            throw .notThePool(path: path, reason: problem)
        }
        self.path = path
        self.uuid = uuid
        self.frames = frames
        self.framesOffset = framesOffset
        self.frameSize = frameSize
        self.writable = writable
        self.fd = fd
    }

    /// Why the object open at `fd` is not the pool `uuid` names, or nil if it is: its first
    /// 4096 bytes must be a frames-object header (magic `LLFRAMES`) when `framesObject`, else a
    /// pool header (magic `LLFREEPL`), with `uuid` at 16...31 (docs/pool-format.md). A split
    /// pool's metadata file has the pool's UUID too, but no frame.
    static func headerProblem(fd: FileDescriptor, uuid expected: [UInt8], framesObject: Bool) -> String? {
        var header = [UInt8](repeating: 0, count: Self.headerLength)
        var done = 0
        while done < header.count {
            let n: Int
            do {
                n = try header.withUnsafeMutableBytes {
                    try fd.read(fromAbsoluteOffset: Int64(done), into: UnsafeMutableRawBufferPointer(rebasing: $0[done...]))
                }
            } catch {
                return "its header cannot be read: \(error)"
            }
            if n == 0 { return "it is \(done) bytes long, shorter than a pool header (\(Self.headerLength) bytes)" }
            done += n
        }
        let magic = Array(header[0..<8])
        if framesObject && magic == Self.magic { return "it is the pool's metadata file, which holds no frame; map the frames object" }
        guard magic == (framesObject ? Self.framesMagic : Self.magic) else {
            return framesObject ? "it does not start with the frames-object magic LLFRAMES" : "it does not start with the pool magic LLFREEPL"
        }
        let uuid = Array(header[16..<32])
        guard uuid == expected else {
            return "its UUID is \(Self.text(uuid)), the daemon serves \(Self.text(expected))"
        }
        return nil
    }

    /// Bytes of the header block.
    static let headerLength = 4096
    /// "LLFREEPL", the first 8 bytes of a pool file.
    static let magic: [UInt8] = Array("LLFREEPL".utf8)
    /// "LLFRAMES", the first 8 bytes of a split pool's frames object.
    static let framesMagic: [UInt8] = Array("LLFRAMES".utf8)

    private static func text(_ uuid: [UInt8]) -> String {
        PoolInfo(version: 0, durability: .volatile, maxOrder: 0, frameSize: 0, frames: 0, framesOffset: 0, children: 0,
                 treeChildren: 0, trees: 0, maxBatch: 0, cores: 0, uuid: uuid, path: "").uuidString
    }

    deinit { try? fd.close() }

    /// Maps the run of 2^`order` frames at `frame` (which the caller should hold: the daemon
    /// gave it by a get). Unmap with ``unmap(_:)``.
    /// - Throws: ``ClientError/invalidArgument(_:)`` for a run outside the pool or a failed mmap.
    public func map(frame: UInt64, order: Int = 0) throws(ClientError) -> UnsafeMutableRawBufferPointer {
        guard order >= 0, order < 40 else { throw .invalidArgument("order \(order) is outside 0...39") }
        let count = UInt64(1) << UInt64(order)
        guard frame < frames, frames - frame >= count else {
            throw .invalidArgument("frames \(frame)..<\(frame &+ count) are not inside the pool's \(frames)")
        }
        let length = Int(count) * Int(frameSize)
        let offset = framesOffset + frame * UInt64(frameSize)
        let base: Int
        do throws(Errno) {
            // mmap's failure, MAP_FAILED, is the address -1.
            base = try valueOrErrno(retryOnInterrupt: false) {
                Int(bitPattern: mmap(nil, length, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd.rawValue, off_t(offset)))
            }
        } catch {
            throw .invalidArgument("cannot map frame \(frame) of order \(order) from \(path): \(error)")
        }
        return UnsafeMutableRawBufferPointer(start: UnsafeMutableRawPointer(bitPattern: base), count: length)
    }

    /// Unmaps what ``map(frame:order:)`` returned.
    public func unmap(_ mapping: UnsafeMutableRawBufferPointer) {
        if let base = mapping.baseAddress { munmap(base, mapping.count) }
    }
}
