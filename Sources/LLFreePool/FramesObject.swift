// The frames object of a split pool (format version 3): a file or a device DAX character device
// that holds the frames and nothing of the allocator's, so that a client given a descriptor of
// it can reach frames but never a bitfield, child entry, tag or owner. Its first 4 KiB are a
// header that ties it to its metadata file by the pool UUID; frames start at 2 MiB.
//
// The daemon holds three descriptors of it: one that carries its flock (never passed on: flock
// belongs to the open file description, and a client holding it would keep the pool locked after
// the daemon exits), and a read-write and a read-only one, which clients receive over the socket.

import SystemCalls
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// The decoded header block of a frames object (docs/pool-format.md, "Frames object").
public struct FramesHeader: Equatable, Sendable {
    /// "LLFRAMES" read as a little-endian UInt64.
    public static let magic: UInt64 = 0x5345_4D41_5246_4C4C
    /// The frames-object format version this build writes and reads.
    public static let version: UInt64 = 1
    /// Bytes of the header block.
    public static let length = 4096

    /// The pool's UUID, at bytes 16...31 as in the metadata file's header.
    public let uuid: [UInt8]
    /// Frames the object holds.
    public let frames: UInt64
    /// Byte offset of frame 0.
    public let framesOffset: UInt64

    public init(uuid: [UInt8], frames: UInt64, framesOffset: UInt64) {
        self.uuid = uuid
        self.frames = frames
        self.framesOffset = framesOffset
    }

    /// The header's eight words: magic, version, UUID (2), frame size, frames, frames offset,
    /// and the FNV-1a checksum of the seven before it.
    func words() -> [UInt64] {
        var w: [UInt64] = [FramesHeader.magic, FramesHeader.version,
                           uuid[0..<8].reversed().reduce(0) { $0 << 8 | UInt64($1) },
                           uuid[8..<16].reversed().reduce(0) { $0 << 8 | UInt64($1) },
                           UInt64(4096), frames, framesOffset]
        w.append(PoolHeader.checksum(w))
        return w
    }

    /// The header's bytes, the rest of the block zero.
    func bytes() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: FramesHeader.length)
        for (i, word) in words().enumerated() {
            for b in 0..<8 { bytes[i * 8 + b] = UInt8(truncatingIfNeeded: word >> UInt64(8 * b)) }
        }
        return bytes
    }

    /// Decodes and checks the header in `bytes` against `pool`, the metadata file's header.
    /// - Throws: ``PoolError`` naming `file`: not a frames object, another version, a bad
    ///   checksum, or a UUID, frame count or offset other than the pool's.
    static func read(_ bytes: [UInt8], matching pool: PoolHeader, file: String) throws(PoolError) -> FramesHeader {
        func word(_ i: Int) -> UInt64 {
            guard bytes.count >= (i + 1) * 8 else { return 0 }
            return (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[i * 8 + $1]) << UInt64(8 * $1) }
        }
        guard word(0) == magic else {
            throw PoolError(file: file, reason: .corrupt("not a frames object (magic 0x\(String(word(0), radix: 16)), expected \"LLFRAMES\")"))
        }
        guard word(1) == version else {
            throw PoolError(file: file, reason: .corrupt("frames object version \(word(1)), this build reads \(version)"))
        }
        let computed = PoolHeader.checksum((0..<7).map(word))
        guard word(7) == computed else { throw PoolError(file: file, reason: .badChecksum(stored: word(7), computed: computed)) }
        let uuid = (0..<16).map { UInt8(truncatingIfNeeded: word(2 + $0 / 8) >> UInt64(8 * ($0 % 8))) }
        let header = FramesHeader(uuid: uuid, frames: word(5), framesOffset: word(6))
        guard uuid == pool.uuid else {
            throw PoolError(file: file, reason: .corrupt("the frames object belongs to pool \(PoolHeader.uuidString(uuid)), not to \(pool.uuidString)"))
        }
        guard word(4) == 4096, header.frames == pool.frames, header.framesOffset == pool.layout.framesOffset else {
            throw PoolError(file: file, reason: .corrupt("the frames object holds \(header.frames) frames of \(word(4)) bytes at \(header.framesOffset); the pool has \(pool.frames) at \(pool.layout.framesOffset)"))
        }
        return header
    }
}

/// An open frames object: its lock and the two descriptors clients may receive.
public final class FramesObject: @unchecked Sendable {
    /// The object's path, as configured.
    public let path: String
    /// Whether it is a device DAX character device (which cannot be truncated or punched).
    public let isDevice: Bool
    /// Its size in bytes.
    public let size: UInt64
    /// The header as validated.
    public let header: FramesHeader
    /// Holds the exclusive flock; never passed on.
    private let lock: PoolFile
    /// Passed to clients allowed to write frames.
    public let readWrite: FileDescriptor
    /// Passed to clients allowed only to read them (a PROT_WRITE shared mapping of it fails).
    public let readOnly: FileDescriptor

    private init(path: String, isDevice: Bool, size: UInt64, header: FramesHeader, lock: PoolFile,
                 readWrite: FileDescriptor, readOnly: FileDescriptor) {
        self.path = path
        self.isDevice = isDevice
        self.size = size
        self.header = header
        self.lock = lock
        self.readWrite = readWrite
        self.readOnly = readOnly
    }

    deinit { close() }

    /// Whether ``close()`` ran: a descriptor number closed twice could be another's by then.
    private var closed = false

    /// Closes every descriptor (and with the first, the lock), once. Clients keep what they
    /// received.
    public func close() {
        guard !closed else { return }
        closed = true
        lock.close()
        try? readWrite.close()
        try? readOnly.close()
    }

    /// Creates the frames object at `path` for `layout`, or writes its header onto an existing
    /// device DAX device: a new file is created with mode 0600 and sized sparse; an existing file
    /// is refused unless `force` (then truncated first, so no old frame survives). The header is
    /// durable when this returns. Returns whether the frames read as zeros (a file sized from
    /// empty; a device holds whatever it held).
    static func create(path: String, layout: PoolLayout, uuid: [UInt8], force: Bool) throws(PoolError) -> Bool {
        let header = FramesHeader(uuid: uuid, frames: layout.geometry.frames, framesOffset: layout.framesOffset)
        var created = true
        let file: PoolFile
        do {
            file = try PoolFile(path: path, flags: O_RDWR | O_CREAT | O_EXCL, mode: 0o600)
        } catch where error.reason == .exists {
            created = false
            file = try PoolFile(path: path, flags: O_RDWR)
        }
        try file.lock(exclusive: true)
        let kind = try file.kind()
        if case .regular = kind, !created && !force { throw PoolError(file: path, reason: .exists) }
        do throws(PoolError) {
            switch kind {
            case .regular:
                if !created { try file.truncate(to: 0, unchanged: true) }
                try file.truncate(to: layout.framesObjectSize, unchanged: created)
                try file.write(header.bytes(), at: 0)
                try file.sync(directory: created)
            case .device(let size):
                guard size >= layout.framesObjectSize else {
                    throw PoolError(file: path, reason: .truncated(size: size, needed: layout.framesObjectSize))
                }
                try file.writeMapped(header.bytes(), mappedLength: PoolLayout.framesAlignment)
            }
        } catch {
            if created { unlink(path) }
            throw error
        }
        if case .regular = kind { return true }
        return false
    }

    /// Opens the frames object at `path` for the pool whose metadata header is `pool`: locks it
    /// exclusively and checks its size and header. Refusals change nothing.
    static func open(path: String, pool: PoolHeader) throws(PoolError) -> FramesObject {
        let lock = try PoolFile(path: path, flags: O_RDONLY)
        try lock.lock(exclusive: true)
        let kind = try lock.kind()
        let size: UInt64
        let bytes: [UInt8]
        switch kind {
        case .regular(let s):
            size = s
            bytes = try lock.read(FramesHeader.length, at: 0)
        case .device(let s):
            size = s
            bytes = try lock.readMapped(FramesHeader.length, mappedLength: PoolLayout.framesAlignment)
        }
        guard size >= pool.layout.framesObjectSize else {
            throw PoolError(file: path, reason: .truncated(size: size, needed: pool.layout.framesObjectSize))
        }
        if case .regular = kind, size != pool.layout.framesObjectSize {
            throw PoolError(file: path, reason: .wrongSize(size: size, expected: pool.layout.framesObjectSize))
        }
        let header = try FramesHeader.read(bytes, matching: pool, file: path)
        func descriptor(_ mode: FileDescriptor.AccessMode) throws(PoolError) -> FileDescriptor {
            do {
                return try FileDescriptor.open(path, mode, options: [.closeOnExec])
            } catch {
                throw PoolError(file: path, reason: .system(SystemFailure(call: "open", error)))
            }
        }
        let readWrite = try descriptor(.readWrite)
        let readOnly: FileDescriptor
        do { readOnly = try descriptor(.readOnly) } catch { try? readWrite.close(); throw error }
        let isDevice: Bool
        if case .device = kind { isDevice = true } else { isDevice = false }
        return FramesObject(path: path, isDevice: isDevice, size: size, header: header, lock: lock, readWrite: readWrite, readOnly: readOnly)
    }
}
