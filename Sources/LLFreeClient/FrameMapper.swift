// Maps frames of the pool file into the client's address space, so a client that may open the
// file can use the memory it was given: frame f lies at framesOffset + f * frameSize (hello).

import LLFreeProtocol
#if canImport(Glibc)
import Glibc
#endif

/// An open pool file from which frames are mapped read-write, shared with the daemon.
public final class FrameMapper: @unchecked Sendable {
    /// The pool as the daemon described it.
    public let info: PoolInfo
    /// The file mapped (the daemon's path unless another was given).
    public let path: String
    private let fd: Int32

    /// Opens the pool file for mapping.
    /// - Parameter path: the file's path as this process sees it; defaults to ``PoolInfo/path``.
    /// - Throws: ``ClientError/invalidArgument(_:)`` when the file cannot be opened (no access,
    ///   not found); nothing was mapped.
    public init(info: PoolInfo, path: String? = nil) throws(ClientError) {
        self.info = info
        self.path = path ?? info.path
        fd = open(self.path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else {
            throw .invalidArgument("cannot open the pool file \(self.path): \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(fd) }

    /// Maps the run of 2^`order` frames at `frame` (which the caller should hold: the daemon
    /// gave it by a get). Unmap with ``unmap(_:)``.
    /// - Throws: ``ClientError/invalidArgument(_:)`` for a run outside the pool or a failed mmap.
    public func map(frame: UInt64, order: Int = 0) throws(ClientError) -> UnsafeMutableRawBufferPointer {
        guard order >= 0, order <= Int(info.maxOrder) else { throw .invalidArgument("order \(order) is outside 0...\(info.maxOrder)") }
        let count = UInt64(1) << UInt64(order)
        guard frame < info.frames, info.frames - frame >= count else {
            throw .invalidArgument("frames \(frame)..<\(frame &+ count) are not inside the pool's \(info.frames)")
        }
        let length = Int(count) * Int(info.frameSize)
        let offset = info.framesOffset + frame * UInt64(info.frameSize)
        guard let base = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off_t(offset)), base != MAP_FAILED else {
            throw .invalidArgument("cannot map frame \(frame) of order \(order) from \(path): \(String(cString: strerror(errno)))")
        }
        return UnsafeMutableRawBufferPointer(start: base, count: length)
    }

    /// Unmaps what ``map(frame:order:)`` returned.
    public func unmap(_ mapping: UnsafeMutableRawBufferPointer) {
        if let base = mapping.baseAddress { munmap(base, mapping.count) }
    }
}
