// Maps frames of the pool file into the client's address space, so a client that may open the
// file can use the memory it was given: frame f lies at framesOffset + f * frameSize (hello).
// The file opened must be the pool the daemon serves: its header's UUID is checked against
// hello's before anything is mapped, since writing into another pool's frames would corrupt
// memory that someone else may hold.

import LLFreeProtocol
import SystemCalls
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// An open pool file from which frames are mapped read-write, shared with the daemon.
public final class FrameMapper: @unchecked Sendable {
    /// The pool as the daemon described it.
    public let info: PoolInfo
    /// The file mapped (the daemon's path unless another was given).
    public let path: String
    private let fd: FileDescriptor

    /// Opens the pool file for mapping and checks that it is the pool `info` describes.
    /// - Parameter path: the file's path as this process sees it; defaults to ``PoolInfo/path``
    ///   (the absolute path the daemon resolved when it opened the pool).
    /// - Throws: ``ClientError/invalidArgument(_:)`` when the file cannot be opened (no access,
    ///   not found); ``ClientError/notThePool(path:reason:)`` when its header is not an llfreed
    ///   pool header or names another pool (UUID). Nothing was mapped, the file was not written.
    public init(info: PoolInfo, path: String? = nil) throws(ClientError) {
        let path = path ?? info.path
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(path, .readWrite, options: .closeOnExec)
        } catch {
            throw .invalidArgument("cannot open the pool file \(path): \(error)")
        }
        if let problem = Self.headerProblem(fd: fd, info: info) {
            try? fd.close()
            throw .notThePool(path: path, reason: problem)
        }
        self.info = info
        self.path = path
        self.fd = fd
    }

    /// Why the file open at `fd` is not the pool `info` describes, or nil if it is: its first
    /// 4096 bytes must be a pool header (magic `LLFREEPL` at 0) with `info.uuid` at 16...31
    /// (docs/pool-format.md).
    static func headerProblem(fd: FileDescriptor, info: PoolInfo) -> String? {
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
        guard Array(header[0..<8]) == Self.magic else { return "it does not start with the pool magic LLFREEPL" }
        let uuid = Array(header[16..<32])
        guard uuid == info.uuid else {
            return "its UUID is \(Self.text(uuid)), the daemon serves \(Self.text(info.uuid))"
        }
        return nil
    }

    /// Bytes of the header block.
    static let headerLength = 4096
    /// "LLFREEPL", the first 8 bytes of a pool file.
    static let magic: [UInt8] = Array("LLFREEPL".utf8)

    private static func text(_ uuid: [UInt8]) -> String {
        PoolInfo(version: 0, durability: .volatile, maxOrder: 0, frameSize: 0, frames: 0, framesOffset: 0, children: 0,
                 treeChildren: 0, trees: 0, maxBatch: 0, cores: 0, uuid: uuid, path: "").uuidString
    }

    deinit { try? fd.close() }

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
        let base: Int
        do throws(Errno) {
            // mmap's failure, MAP_FAILED, is the address -1.
            base = try valueOrErrno(retryOnInterrupt: false) {
                Int(bitPattern: mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd.rawValue, off_t(offset)))
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
