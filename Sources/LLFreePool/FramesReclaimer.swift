// Returning free huge frames to the host: a hole punched into the file that holds the frames
// (fallocate PUNCH_HOLE | KEEP_SIZE on tmpfs or a DAX file system) gives the memory back and
// reads as zeros when it is next touched. The idle zeroer asks for it through
// ``LLFree/zeroNext(core:from:choose:reclaim:)`` while it holds the frame; the hole is made
// durable (fdatasync) before the frames are marked known zero. A device DAX device cannot punch:
// there is no reclaimer, and freed frames are zeroed by writing.

import CLinuxShims
import LLFree
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// Punches and finds holes in the object that holds a pool's frames.
public final class FramesReclaimer: @unchecked Sendable {
    /// Descriptor of the file holding the frames (the daemon's own; not closed here).
    let fd: Int32
    /// Offset of frame 0 in it.
    let framesOffset: UInt64
    /// The path, for errors.
    public let path: String

    init(fd: Int32, framesOffset: UInt64, path: String) {
        self.fd = fd
        self.framesOffset = framesOffset
        self.path = path
    }

    static let hugeBytes = Int64(Geometry.childFrames * Geometry.frameSize)

    func offset(_ child: Int) -> Int64 { Int64(framesOffset) + Int64(child) * Self.hugeBytes }

    /// Whether any block of huge frame `child` is allocated in the file (a hole reads as zeros and
    /// takes no memory). An error counts as populated.
    public func isPopulated(_ child: Int) -> Bool {
        llfree_has_data(fd, offset(child), Self.hugeBytes) != 0
    }

    /// Punches huge frame `child` out of the file and makes that durable. Returns false, having
    /// changed nothing the allocator relies on, if the file system refuses (then the caller
    /// writes zeros).
    public func reclaim(_ child: Int) -> Bool {
        guard llfree_punch_hole(fd, offset(child), Self.hugeBytes) == 0 else { return false }
        // A hole on a DAX file system is file-system metadata: durable only once synced.
        while fdatasync(fd) != 0 {
            if errno != EINTR { return false }
        }
        return true
    }

    /// Free huge frames of `llfree` whose memory is populated, and those reclaimed (holes), by
    /// a scan of every free whole child.
    public func census<P: Persistence>(_ llfree: LLFree<P>) -> (populated: Int, reclaimed: Int) {
        var populated = 0, reclaimed = 0
        for c in 0..<llfree.geometry.children where llfree.geometry.framesIn(child: c) == Geometry.childFrames {
            let e = llfree.lower.child(c)
            guard !e.huge, e.free == Geometry.childFrames else { continue }
            if isPopulated(c) { populated += 1 } else { reclaimed += 1 }
        }
        return (populated, reclaimed)
    }
}
